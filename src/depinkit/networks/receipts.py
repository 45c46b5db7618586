"""Consumer-signed cumulative receipts: how credits are spent off chain.

A consumer buys credits on chain (``Credits.buyCredits`` burns tokens); it then pays a
device for a service (stored bytes, egress, fuel, relayed packets) by signing receipts
that say "on this channel I have paid you ``cumulative`` credit base units so far". Only
the newest receipt of a channel matters: each one supersedes the previous, so a device
keeps one receipt per channel and a lost message costs nothing. The device turns its
newest receipts into signed reports of its network; the network's ``verify`` checks them
with :func:`verify_receipt` and a :class:`ReceiptBook` built from ``ctx.prior`` and
``ctx.credits``, and marks the increase as spent (verdict facts ``credits`` and
``payer``), which the epoch pipeline subtracts from the consumer's balance.

Amounts are in *nanocredits* (1e-9 of a credit; the Credits contract counts in 1e-18),
so every off-chain amount fits a signed 64-bit integer: msgpack bodies, verdict facts and
SQL BIGINT columns all hold it exactly (docs/decisions/0002-nanocredits-off-chain.md).

The digest binds a receipt to one deployment (chain id and DeviceRegistry, as reports
are), one network, one consumer, one payee and one channel, under a tag no report or
root digest shares::

    keccak256(RECEIPT_TAG || separator(domain) || keccak256(network) || consumer (20 bytes)
              || payee (20 bytes) || channel (32 bytes) || cumulative (32 bytes, big-endian))
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any, Final

import msgspec

from depinkit.core.envelope import ReportDomain
from depinkit.core.errors import InvalidSignature
from depinkit.core.keys import (
    Account,
    address_bytes,
    is_checksummed,
    keccak256,
    recover_address,
)
from depinkit.networks.errors import NetworkError

RECEIPT_TAG: Final[bytes] = b"depinkit/receipt/v1"  # domain separation from reports and roots
CHANNEL_BYTES: Final[int] = 32  # bytes: a deal, lease or session id
SIGNATURE_BYTES: Final[int] = 65  # r || s || v
MAX_CUMULATIVE: Final[int] = 2**63 - 1  # nanocredits: 9.2e9 credits per channel, fits BIGINT
CHAIN_UNITS_PER_NANOCREDIT: Final[int] = 10**9  # the Credits contract's 1e-18 units per 1e-9
FACT_CREDITS: Final[str] = "credits"  # Verdict.facts: nanocredits this report spent
FACT_PAYER: Final[str] = "payer"  # Verdict.facts: the paying consumer's address as an int

_Name = Annotated[str, msgspec.Meta(pattern=r"^[a-z0-9_-]{1,32}$")]
_Address = Annotated[str, msgspec.Meta(pattern=r"^0x[0-9a-fA-F]{40}$")]


class ReceiptError(NetworkError):
    """A receipt that cannot count: malformed, wrongly signed, or not for this deployment."""


class ReplayedReceipt(ReceiptError):
    """A receipt that pays nothing new: its cumulative is not above the channel's last one."""


class InsufficientCredits(ReceiptError):
    """A receipt that would spend more than the consumer has left."""


class Receipt(msgspec.Struct, frozen=True, array_like=True, forbid_unknown_fields=True):
    """The consumer's signed statement of what it has paid ``payee`` on ``channel`` so far.

    ``cumulative`` is in nanocredits.
    """

    network: _Name
    consumer: _Address
    payee: _Address
    channel: Annotated[bytes, msgspec.Meta(min_length=CHANNEL_BYTES, max_length=CHANNEL_BYTES)]
    cumulative: Annotated[int, msgspec.Meta(ge=1, le=MAX_CUMULATIVE)]  # nanocredits
    signature: Annotated[
        bytes, msgspec.Meta(min_length=SIGNATURE_BYTES, max_length=SIGNATURE_BYTES)
    ]


def nanocredits(chain_amount: int) -> int:
    """Off-chain spendable nanocredits from an on-chain Credits amount (1e-18 units).

    Rounds down: the dust below a nanocredit (under 1e-9 credit per purchase total) is
    never spendable, so no consumer can spend more than it bought.
    """
    if type(chain_amount) is not int or chain_amount < 0:
        raise ReceiptError(f"credit amount must be a non-negative integer: {chain_amount!r}")
    return chain_amount // CHAIN_UNITS_PER_NANOCREDIT


def _check_fields(network: str, consumer: str, payee: str, channel: bytes, cumulative: int) -> None:
    if not isinstance(network, str) or not network or len(network) > 32:
        raise ReceiptError(f"network name must be 1..32 characters: {network!r}")
    for role, address in (("consumer", consumer), ("payee", payee)):
        if not isinstance(address, str) or not is_checksummed(address):
            raise ReceiptError(f"{role} must be an EIP-55 checksummed address: {address!r}")
    if consumer == payee:
        raise ReceiptError("a consumer cannot pay itself")
    if not isinstance(channel, bytes) or len(channel) != CHANNEL_BYTES:
        raise ReceiptError(f"channel must be {CHANNEL_BYTES} bytes")
    if type(cumulative) is not int or not 1 <= cumulative <= MAX_CUMULATIVE:
        raise ReceiptError(f"cumulative must be an integer in [1, 2**63-1], got {cumulative!r}")


def receipt_digest(
    domain: ReportDomain, network: str, consumer: str, payee: str, channel: bytes, cumulative: int
) -> bytes:
    """The 32-byte digest a consumer signs (see the module docstring for its layout)."""
    _check_fields(network, consumer, payee, channel, cumulative)
    return keccak256(
        RECEIPT_TAG
        + domain.separator()
        + keccak256(network.encode())
        + address_bytes(consumer)
        + address_bytes(payee)
        + channel
        + cumulative.to_bytes(32, "big")
    )


def sign_receipt(
    consumer: Account,
    domain: ReportDomain,
    *,
    network: str,
    payee: str,
    channel: bytes,
    cumulative: int,
) -> Receipt:
    """A receipt from ``consumer`` paying ``payee`` ``cumulative`` so far on ``channel``."""
    digest = receipt_digest(domain, network, consumer.address, payee, channel, cumulative)
    return Receipt(
        network=network,
        consumer=consumer.address,
        payee=payee,
        channel=channel,
        cumulative=cumulative,
        signature=consumer.sign_digest(digest),
    )


def verify_receipt(domain: ReportDomain | None, receipt: Receipt) -> None:
    """ReceiptError unless ``receipt`` is well formed and signed by its consumer for ``domain``."""
    if domain is None:
        raise ReceiptError("no deployment domain to check receipts against")
    if not isinstance(receipt, Receipt):
        raise ReceiptError(f"expected a Receipt, got {type(receipt).__name__}")
    digest = receipt_digest(
        domain,
        receipt.network,
        receipt.consumer,
        receipt.payee,
        receipt.channel,
        receipt.cumulative,
    )
    try:
        signer = recover_address(digest, receipt.signature)
    except (InvalidSignature, ValueError) as exc:
        raise ReceiptError(f"receipt signature is invalid: {exc}") from None
    if signer != receipt.consumer:
        raise ReceiptError(f"receipt is signed by {signer}, not by its consumer {receipt.consumer}")


ChannelKey = tuple[str, str, bytes]  # (consumer, payee, channel)


class ReceiptBook:
    """Balances and the last cumulative per channel; applies receipts all or nothing.

    Pure and in memory: a provider keeps one to refuse service beyond a consumer's
    credits, a network's ``verify`` builds one from ``ctx.prior`` and ``ctx.credits``.
    It does not check signatures: call :func:`verify_receipt` first.
    """

    def __init__(
        self,
        balances: Mapping[str, int] | None = None,
        last: Mapping[ChannelKey, int] | None = None,
    ) -> None:
        # Balances are looked up, never listed: an oracle's ctx.credits reads the chain per
        # consumer and cannot enumerate every consumer there is.
        self._balances: Mapping[str, int] = balances if balances is not None else {}
        self._spent: dict[str, int] = {}
        self._last: dict[ChannelKey, int] = dict(last or {})

    def balance(self, consumer: str) -> int:
        """What ``consumer`` may still spend through this book."""
        available = self._balances.get(consumer, 0)
        if type(available) is not int or available < 0:
            raise ReceiptError(f"balance of {consumer} must be a non-negative integer")
        return available - self._spent.get(consumer, 0)

    def last(self, consumer: str, payee: str, channel: bytes) -> int:
        return self._last.get((consumer, payee, channel), 0)

    def increase(self, receipt: Receipt) -> int:
        """What applying ``receipt`` would spend; errors as :meth:`apply`, nothing changes."""
        key = (receipt.consumer, receipt.payee, receipt.channel)
        previous = self._last.get(key, 0)
        if receipt.cumulative <= previous:
            raise ReplayedReceipt(
                f"cumulative {receipt.cumulative} is not above {previous} already paid on "
                f"channel {receipt.channel.hex()[:16]}..."
            )
        delta = receipt.cumulative - previous
        available = self.balance(receipt.consumer)
        if delta > available:
            raise InsufficientCredits(
                f"{receipt.consumer} would spend {delta} credits with {available} left"
            )
        return delta

    def apply(self, receipt: Receipt) -> int:
        """Record ``receipt``; the credits it spends beyond the channel's previous receipt."""
        delta = self.increase(receipt)
        self._last[(receipt.consumer, receipt.payee, receipt.channel)] = receipt.cumulative
        self._spent[receipt.consumer] = self._spent.get(receipt.consumer, 0) + delta
        return delta

    def spent(self, consumer: str) -> int:
        """What the receipts applied to this book spent of ``consumer``'s balance."""
        return self._spent.get(consumer, 0)

    def state(self) -> dict[str, Any]:
        """The last cumulative per channel as plain data, sorted (for ``next_prior``)."""
        return {
            "channels": [
                [consumer, payee, channel, cumulative]
                for (consumer, payee, channel), cumulative in sorted(self._last.items())
            ]
        }

    @classmethod
    def from_state(cls, state: Mapping[str, Any], balances: Mapping[str, int]) -> ReceiptBook:
        """A book from :meth:`state` output and the balances in force; ReceiptError if malformed."""
        last: dict[ChannelKey, int] = {}
        channels = state.get("channels", [])
        if not isinstance(channels, list | tuple):
            raise ReceiptError("receipt state: channels must be a list")
        for entry in channels:
            try:
                consumer, payee, channel, cumulative = entry
            except (TypeError, ValueError):
                raise ReceiptError(f"receipt state: bad channel entry {entry!r}") from None
            if not (
                isinstance(consumer, str)
                and isinstance(payee, str)
                and isinstance(channel, bytes)
                and type(cumulative) is int
            ):
                raise ReceiptError(f"receipt state: bad channel entry {entry!r}")
            last[(consumer, payee, channel)] = cumulative
        return cls(balances, last)
