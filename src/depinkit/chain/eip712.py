"""EIP-712 digests and signatures for the messages the contracts verify.

Each contract hashes a message with its own domain (name, version "1", chain id, its own
address), so a signature made for one contract or chain never verifies on another. These
helpers rebuild the same digests in Python with plain ABI encoding, then sign them with
any key that can sign a 32-byte digest.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, Final, Protocol

from eth_abi import encode as abi_encode
from eth_utils import keccak, to_checksum_address

DOMAIN_TYPE: Final[bytes] = keccak(
    text="EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)"
)
DOMAIN_VERSION: Final[str] = "1"  # every depinkit contract uses version "1"

REWARD_ROOT_TYPE: Final[bytes] = keccak(
    text="RewardRoot(uint64 epoch,bytes32 root,uint256 totalCumulative)"
)
FRAUD_VERDICT_TYPE: Final[bytes] = keccak(
    text="FraudVerdict(address device,uint256 amount,bytes32 reason,uint256 verdictNonce)"
)
TOKEN_PRICE_TYPE: Final[bytes] = keccak(text="TokenPrice(uint256 priceUsdE8,uint64 timestamp)")
ONBOARD_TYPE: Final[bytes] = keccak(
    text=(
        "Onboard(address device,address owner,bytes32 network,uint64 h3Cell,"
        "uint256 nonce,uint256 deadline)"
    )
)
MAKER_APPROVAL_TYPE: Final[bytes] = keccak(text="MakerApproval(address device,bytes32 network)")


class DigestSigner(Protocol):
    """Anything that signs a 32-byte digest as r||s||v (v in 27/28): core.keys.Account does."""

    @property
    def address(self) -> str: ...

    def sign_digest(self, digest: bytes) -> bytes: ...


def sign_digest(signer: Any, digest: bytes) -> bytes:
    """65-byte signature of ``digest`` by a DigestSigner or an eth-account LocalAccount."""
    if hasattr(signer, "sign_digest"):
        return bytes(signer.sign_digest(digest))
    signed = signer.unsafe_sign_hash(digest)  # eth_account LocalAccount
    return bytes(signed.signature)


def domain_separator(name: str, chain_id: int, contract: str) -> bytes:
    return keccak(
        abi_encode(
            ["bytes32", "bytes32", "bytes32", "uint256", "address"],
            [
                DOMAIN_TYPE,
                keccak(text=name),
                keccak(text=DOMAIN_VERSION),
                chain_id,
                to_checksum_address(contract),
            ],
        )
    )


def typed_digest(separator: bytes, struct_hash: bytes) -> bytes:
    return keccak(b"\x19\x01" + separator + struct_hash)


def _struct(type_hash: bytes, types: Sequence[str], values: Sequence[Any]) -> bytes:
    return keccak(abi_encode(["bytes32", *types], [type_hash, *values]))


def reward_root_digest(
    chain_id: int, distributor: str, epoch: int, root: bytes, total_cumulative: int
) -> bytes:
    """What oracles sign to publish epoch ``epoch``'s root on the RewardsDistributor."""
    return typed_digest(
        domain_separator("RewardsDistributor", chain_id, distributor),
        _struct(
            REWARD_ROOT_TYPE, ["uint64", "bytes32", "uint256"], [epoch, root, total_cumulative]
        ),
    )


def fraud_verdict_digest(
    chain_id: int, registry: str, device: str, amount: int, reason: bytes, verdict_nonce: int
) -> bytes:
    """What oracles sign to slash ``device`` through DeviceRegistry.slashByVerdict."""
    return typed_digest(
        domain_separator("DeviceRegistry", chain_id, registry),
        _struct(
            FRAUD_VERDICT_TYPE,
            ["address", "uint256", "bytes32", "uint256"],
            [to_checksum_address(device), amount, reason, verdict_nonce],
        ),
    )


def token_price_digest(chain_id: int, credits: str, price_usd_e8: int, timestamp: int) -> bytes:
    """What oracles sign to vouch for the token's USD price on the Credits contract."""
    return typed_digest(
        domain_separator("Credits", chain_id, credits),
        _struct(TOKEN_PRICE_TYPE, ["uint256", "uint64"], [price_usd_e8, timestamp]),
    )


def onboard_digest(
    chain_id: int,
    registry: str,
    *,
    device: str,
    owner: str,
    network: bytes,
    h3_cell: int,
    nonce: int,
    deadline: int,
) -> bytes:
    """What a device key signs to consent to being registered to ``owner``."""
    return typed_digest(
        domain_separator("DeviceRegistry", chain_id, registry),
        _struct(
            ONBOARD_TYPE,
            ["address", "address", "bytes32", "uint64", "uint256", "uint256"],
            [
                to_checksum_address(device),
                to_checksum_address(owner),
                network,
                h3_cell,
                nonce,
                deadline,
            ],
        ),
    )


def maker_approval_digest(chain_id: int, registry: str, device: str, network: bytes) -> bytes:
    """What an approved maker signs to vouch that ``device`` is genuine hardware."""
    return typed_digest(
        domain_separator("DeviceRegistry", chain_id, registry),
        _struct(
            MAKER_APPROVAL_TYPE, ["address", "bytes32"], [to_checksum_address(device), network]
        ),
    )


def quorum_signatures(signers: Iterable[Any], digest: bytes) -> list[bytes]:
    """Signatures of ``digest`` ordered by signer address, as OracleSet.verifyQuorum wants."""
    ordered = sorted(signers, key=lambda s: int(str(s.address), 16))
    return [sign_digest(s, digest) for s in ordered]


def sort_signatures(signed: Iterable[tuple[str, bytes]]) -> list[bytes]:
    """Order ``(signer address, signature)`` pairs collected from peers by signer address."""
    return [sig for _, sig in sorted(signed, key=lambda p: int(p[0], 16))]


def sign_reward_root(
    oracle: Any, chain_id: int, distributor: str, epoch: int, root: bytes, total_cumulative: int
) -> bytes:
    """An oracle's signature of a RewardRoot for one distributor on one chain."""
    return sign_digest(
        oracle, reward_root_digest(chain_id, distributor, epoch, root, total_cumulative)
    )


def sign_fraud_verdict(
    oracle: Any,
    chain_id: int,
    registry: str,
    device: str,
    amount: int,
    reason: bytes,
    verdict_nonce: int,
) -> bytes:
    """An oracle's signature of a FraudVerdict for one registry on one chain."""
    return sign_digest(
        oracle, fraud_verdict_digest(chain_id, registry, device, amount, reason, verdict_nonce)
    )


def sign_token_price(
    oracle: Any, chain_id: int, credits: str, price_usd_e8: int, timestamp: int
) -> bytes:
    """An oracle's signature of a TokenPrice for one Credits contract on one chain."""
    return sign_digest(oracle, token_price_digest(chain_id, credits, price_usd_e8, timestamp))
