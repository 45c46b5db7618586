"""One spelling per address, so every oracle sorts and hashes the same text.

Devices and owners are EVM addresses. The rest of depinkit writes them EIP-55 checksummed,
but a checksum costs a keccak per address and says nothing the lowercase form does not, so
the reward computation keys everything by lowercase ``0x`` hex: the form
:mod:`depinkit.core.merkle` returns, and the order of the raw 20 bytes. Two spellings of one
address in the same input are refused rather than silently merged.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Final, TypeVar

from depinkit.oracle.rewards.errors import RewardsError

V = TypeVar("V")

_LOWER_ADDRESS: Final[re.Pattern[str]] = re.compile(r"0x[0-9a-f]{40}")  # 20 bytes, lowercase


def canonical_address(address: object, error: type[RewardsError] = RewardsError) -> str:
    """``address`` as lowercase 0x hex; ``error`` when it is not a 20-byte hex address."""
    if isinstance(address, str):
        lower = address.lower()
        if _LOWER_ADDRESS.fullmatch(lower):
            return lower
    raise error(f"not a 0x-prefixed 20-byte hex address: {address!r}")


_MANY_LOWER_ADDRESSES: Final[re.Pattern[str]] = re.compile(r"(?:0x[0-9a-f]{40}\n)*")


def canonical_addresses(
    addresses: Sequence[object], error: type[RewardsError] = RewardsError
) -> list[str]:
    """:func:`canonical_address` of each, in one pass of C string code.

    A million devices go through this every epoch: joining, lowering and matching them as one
    string takes a fraction of the time of a million calls. On any failure the slow path
    names the first bad address.
    """
    if not addresses:
        return []
    try:
        joined = "\n".join(addresses)  # type: ignore[arg-type]  # non-str: TypeError, slow path
    except TypeError:
        joined = ""
    if joined:
        lower = joined.lower()
        if _MANY_LOWER_ADDRESSES.fullmatch(lower + "\n"):
            if (
                lower == joined
                and joined.count("\n") == len(addresses) - 1
                and set(map(type, addresses)) == {str}
            ):
                # already canonical (the usual case): keep the caller's strings rather than
                # a second copy of a million of them
                return list(addresses)  # type: ignore[arg-type]  # all str: join succeeded
            out = lower.split("\n")
            if len(out) == len(addresses):
                return out
    for address in addresses:
        canonical_address(address, error)
    raise error("malformed address list")  # pragma: no cover - the loop above raised


def canonical_owners(
    owners: Mapping[str, str], error: type[RewardsError] = RewardsError
) -> dict[str, str]:
    """A registry view (device -> owner) with both sides lowercase.

    One device spelled twice is fine when both spellings name the same owner, refused when
    they name two: which one earns would depend on dict order.
    """
    devices = canonical_addresses(list(owners), error)
    accounts = canonical_addresses(list(owners.values()), error)
    out = dict(zip(devices, accounts, strict=True))
    if len(out) != len(devices):
        for device, owner in zip(devices, accounts, strict=True):
            if out[device] != owner:
                raise error(f"device {device} listed twice with different owners")
    return out


def sorted_by_key(mapping: Mapping[str, V]) -> dict[str, V]:
    """``mapping`` as a dict in key order.

    Sorting the keys alone (a list of str) and looking the values up is several times
    faster than sorting ``(key, value)`` tuples at a million entries.
    """
    keys = sorted(mapping)
    return dict(zip(keys, map(mapping.__getitem__, keys), strict=True))
