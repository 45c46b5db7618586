"""Errors of the settlement layer: one Python class per contract custom error.

A revert comes back from the node as raw bytes (a 4-byte selector and ABI-encoded
arguments). :class:`ErrorDecoder` matches the selector against every error in the
contracts' ABIs and raises the class named like the Solidity error, with the decoded
arguments in the message and in ``.error_args``, so callers write
``except EpochNotIncreasing`` rather than comparing hex strings.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from eth_abi import decode as abi_decode
from eth_utils import keccak, to_checksum_address

from depinkit.core.errors import DepinkitError


class ChainError(DepinkitError):
    """Something went wrong talking to the chain or a contract."""


class ArtifactMissing(ChainError):
    """A compiled contract artifact is not in the package (run ``make contracts``)."""


class ManifestError(ChainError):
    """A deployment manifest cannot be read or does not match the chain."""


class AnvilError(ChainError):
    """The anvil binary cannot be found, or it did not start or answer."""


class TransactionFailed(ChainError):
    """A transaction was mined but failed, and no revert reason could be decoded."""


class ContractRevert(ChainError):
    """A contract call reverted; the subclass names the Solidity error when it is known."""

    def __init__(
        self,
        error_name: str,
        error_args: Mapping[str, Any] | None = None,
        *,
        data: bytes = b"",
    ) -> None:
        self.error_name = error_name
        self.error_args: dict[str, Any] = dict(error_args or {})
        self.data = data
        shown = ", ".join(f"{k}={_show(v)}" for k, v in self.error_args.items())
        super().__init__(f"contract reverted: {error_name}({shown})")


def _show(value: Any) -> str:
    if isinstance(value, bytes):
        return "0x" + value.hex()
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_show(v) for v in value) + "]"
    return str(value)


class UnknownRevert(ContractRevert):
    """A revert whose selector matches no known error (or a revert without data)."""


class RevertString(ContractRevert):
    """``Error(string)``: a require with a message (our contracts use custom errors)."""


class Panic(ContractRevert):
    """``Panic(uint256)``: an assert, overflow, division by zero or out-of-bounds access."""


# --- OracleSet -------------------------------------------------------------------------
class NotEnoughSignatures(ContractRevert):
    """Fewer valid oracle signatures than the threshold."""


class NotAnOracle(ContractRevert):
    """A signature recovered to an address outside the oracle set."""


class SignersNotSorted(ContractRevert):
    """Signers must be strictly increasing by address (this also rejects duplicates)."""


class InvalidThreshold(ContractRevert):
    """Threshold must satisfy 1 <= threshold <= number of oracles."""


class ZeroAddress(ContractRevert):
    """The zero address is not allowed here."""


class DuplicateOracle(ContractRevert):
    """The same oracle appears twice in a new oracle set."""


# --- DeviceRegistry --------------------------------------------------------------------
class DeviceExists(ContractRevert):
    """The device key is already registered."""


class BadDeviceSignature(ContractRevert):
    """The device's onboarding consent signature is not from the device key."""


class MakerRequired(ContractRevert):
    """The network requires an approved maker's signature."""


class UnknownMaker(ContractRevert):
    """The maker signature recovers to an address not approved for the network."""


class Expired(ContractRevert):
    """The signed onboarding request is past its deadline."""


class InvalidCell(ContractRevert):
    """An H3 cell of 0 is not a location."""


class UnbondingNotOver(ContractRevert):
    """The stake is still unbonding."""


class VerdictUsed(ContractRevert):
    """This fraud verdict was already applied."""


class NotDeviceOwner(ContractRevert):
    """Only the device's owner may do this."""


class UnknownDevice(ContractRevert):
    """No device with this address is registered."""


class DeviceNotActive(ContractRevert):
    """The device is unbonding or withdrawn."""


class NotUnbonding(ContractRevert):
    """withdrawStake needs the device to be unbonding (deactivate it first)."""


# --- RewardsDistributor ----------------------------------------------------------------
class EpochNotIncreasing(ContractRevert):
    """A root for an epoch at or before the last one."""


class EpochNotEnded(ContractRevert):
    """A root for an epoch that has not ended yet."""


class TotalDecreased(ContractRevert):
    """Cumulative totals can only grow."""


class TotalAboveSchedule(ContractRevert):
    """The cumulative total is above what the emission schedule allows by that epoch."""


class InvalidProof(ContractRevert):
    """The Merkle proof does not lead to the current root."""


class NothingToClaim(ContractRevert):
    """The account already claimed its whole cumulative amount."""


class BeforeGenesis(ContractRevert):
    """The chain's clock is before the first epoch."""


class LengthMismatch(ContractRevert):
    """Parallel arrays of different lengths."""


# --- Credits ---------------------------------------------------------------------------
class StalePrice(ContractRevert):
    """The signed token price is older than credits.priceMaxAge."""


class PriceFromFuture(ContractRevert):
    """The signed token price is timestamped after the current block."""


class ZeroCredits(ContractRevert):
    """The purchase would give zero credits."""


class CreditPriceUnset(ContractRevert):
    """The governed credit price (credits.priceUsdE8) is 0."""


# --- HexBoosts ------------------------------------------------------------------------
class InvalidHexCell(ContractRevert):
    """A boost names something that is not an H3 cell of resolution 0 to 11."""


class MultiplierTooLow(ContractRevert):
    """A boost multiplies by at least 2."""


class MultiplierAboveMax(ContractRevert):
    """The multiplier is above the network's max_boost: the oracles would clip it."""


class ZeroEpochs(ContractRevert):
    """A boost lasts at least one epoch."""


class BoostPriceUnset(ContractRevert):
    """The network's boost_price is 0: boosts are not for sale on it."""


class EpochLengthUnset(ContractRevert):
    """epoch.length is 0: the deployment's epochs are not configured."""


# --- OpenZeppelin ----------------------------------------------------------------------
class OwnableUnauthorizedAccount(ContractRevert):
    """Only the owner (the timelock after deployment) may do this."""


class OwnableInvalidOwner(ContractRevert):
    """The new owner is not a valid owner."""


class AccessControlUnauthorizedAccount(ContractRevert):
    """The caller lacks the needed role."""


class AccessControlBadConfirmation(ContractRevert):
    """renounceRole must be called by the account itself."""


class ERC20InsufficientBalance(ContractRevert):
    """Not enough tokens."""


class ERC20InsufficientAllowance(ContractRevert):
    """Not enough allowance: approve (or permit) first."""


class ERC20ExceededCap(ContractRevert):
    """Minting would exceed the token cap."""


class ECDSAInvalidSignature(ContractRevert):
    """A signature that recovers to no address."""


class ECDSAInvalidSignatureLength(ContractRevert):
    """A signature that is not 65 bytes."""


class ECDSAInvalidSignatureS(ContractRevert):
    """A malleable (high-s) signature."""


class ERC2612ExpiredSignature(ContractRevert):
    """An expired permit."""


class ERC2612InvalidSigner(ContractRevert):
    """A permit signed by someone other than the owner."""


class InvalidAccountNonce(ContractRevert):
    """A nonce that is not the account's current one."""


class TimelockUnexpectedOperationState(ContractRevert):
    """A timelock operation in the wrong state (not ready, already done...)."""


class TimelockUnauthorizedCaller(ContractRevert):
    """Only the timelock itself may call this."""


class TimelockInsufficientDelay(ContractRevert):
    """A timelock delay below the minimum."""


class GovernorUnexpectedProposalState(ContractRevert):
    """A proposal in the wrong state for this step."""


class GovernorInsufficientProposerVotes(ContractRevert):
    """The proposer has fewer votes than the proposal threshold."""


class GovernorAlreadyCastVote(ContractRevert):
    """The account already voted on this proposal."""


class GovernorOnlyExecutor(ContractRevert):
    """Only the executor (the timelock) may do this."""


class GovernorNonexistentProposal(ContractRevert):
    """No proposal with this id."""


class GovernorRestrictedProposer(ContractRevert):
    """The description restricts who may propose."""


class ERC5805FutureLookup(ContractRevert):
    """Votes asked for a timepoint that is not in the past."""


class CheckpointUnorderedInsertion(ContractRevert):
    """A votes checkpoint written out of order (send ERC20Votes transactions one by one)."""


class ERC20ExceededSafeSupply(ContractRevert):
    """Minting past the largest supply ERC20Votes can checkpoint."""


class ERC20InvalidApprover(ContractRevert):
    """Approval from the zero address."""


class ERC20InvalidCap(ContractRevert):
    """A token cap of zero."""


class ERC20InvalidReceiver(ContractRevert):
    """Transfer or mint to the zero address."""


class ERC20InvalidSender(ContractRevert):
    """Transfer or burn from the zero address."""


class ERC20InvalidSpender(ContractRevert):
    """Approval of the zero address."""


class ERC6372InconsistentClock(ContractRevert):
    """The token's vote clock and the governor's disagree."""


class FailedCall(ContractRevert):
    """A low-level call made by the timelock or governor failed without a reason."""


class GovernorAlreadyQueuedProposal(ContractRevert):
    """The proposal is already queued."""


class GovernorDisabledDeposit(ContractRevert):
    """The governor does not accept ETH here."""


class GovernorInvalidProposalLength(ContractRevert):
    """targets, values and calldatas differ in length (or are empty)."""


class GovernorInvalidQuorumFraction(ContractRevert):
    """A quorum numerator above the denominator."""


class GovernorInvalidSignature(ContractRevert):
    """A vote by signature from the wrong signer."""


class GovernorInvalidVoteParams(ContractRevert):
    """Vote parameters this counting module does not take."""


class GovernorInvalidVoteType(ContractRevert):
    """Support must be 0 (against), 1 (for) or 2 (abstain)."""


class GovernorInvalidVotingPeriod(ContractRevert):
    """A voting period of zero."""


class GovernorProposalQueueingFailed(ContractRevert):
    """Queueing the proposal in the timelock failed."""


class GovernorProposalQueueingNotRequired(ContractRevert):
    """The proposal does not need queueing."""


class GovernorUnableToCancel(ContractRevert):
    """Only the proposer cancels, and only while pending."""


class InvalidShortString(ContractRevert):
    """An EIP-712 name or version string too long to be stored short."""


class SafeCastOverflowedUintDowncast(ContractRevert):
    """A value too large for its smaller integer type."""


class StringTooLong(ContractRevert):
    """A string too long for a ShortString."""


class TimelockInvalidOperationLength(ContractRevert):
    """targets, payloads and values differ in length."""


class TimelockUnexecutedPredecessor(ContractRevert):
    """The operation's predecessor has not executed."""


class VotesExpiredSignature(ContractRevert):
    """An expired delegation signature."""


def _error_classes() -> dict[str, type[ContractRevert]]:
    return {
        name: obj
        for name, obj in globals().items()
        if isinstance(obj, type)
        and issubclass(obj, ContractRevert)
        and obj not in (ContractRevert, UnknownRevert)
    }


PANIC_SELECTOR = keccak(text="Panic(uint256)")[:4]
ERROR_STRING_SELECTOR = keccak(text="Error(string)")[:4]


def _abi_type(param: Mapping[str, Any]) -> str:
    """The canonical type string of an ABI parameter (tuples expanded)."""
    typ = str(param["type"])
    if typ.startswith("tuple"):
        inner = ",".join(_abi_type(c) for c in param.get("components", []))
        return f"({inner}){typ[5:]}"
    return typ


def _normalise(typ: str, value: Any) -> Any:
    if typ == "address":
        return to_checksum_address(value)
    if typ.endswith("[]") and isinstance(value, (list, tuple)):
        return [_normalise(typ[:-2], v) for v in value]
    return value


class ErrorDecoder:
    """Maps revert data to exception instances, using the custom errors of some ABIs."""

    def __init__(self, abis: Iterable[Iterable[Mapping[str, Any]]]) -> None:
        self._classes = _error_classes()
        self._errors: dict[bytes, tuple[str, list[str], list[str]]] = {}
        for abi in abis:
            for item in abi:
                if item.get("type") != "error":
                    continue
                types = [_abi_type(p) for p in item.get("inputs", [])]
                names = [str(p.get("name") or f"arg{i}") for i, p in enumerate(item["inputs"])]
                selector = keccak(text=f"{item['name']}({','.join(types)})")[:4]
                self._errors[selector] = (str(item["name"]), types, names)

    def decode(self, data: bytes) -> ContractRevert:
        """The exception for revert ``data``; UnknownRevert when nothing matches."""
        selector, body = data[:4], data[4:]
        try:
            if selector == ERROR_STRING_SELECTOR:
                (message,) = abi_decode(["string"], body)
                return RevertString("Error", {"message": message}, data=data)
            if selector == PANIC_SELECTOR:
                (code,) = abi_decode(["uint256"], body)
                return Panic("Panic", {"code": hex(code)}, data=data)
            known = self._errors.get(selector)
            if known is None:
                return UnknownRevert("unknown", {"data": data}, data=data)
            name, types, names = known
            values = abi_decode(types, body)
        except Exception:  # malformed revert data from a misbehaving node or contract
            return UnknownRevert("undecodable", {"data": data}, data=data)
        args = {n: _normalise(t, v) for n, t, v in zip(names, types, values, strict=True)}
        cls = self._classes.get(name, ContractRevert)
        return cls(name, args, data=data)
