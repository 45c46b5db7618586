"""One spelling per address, so every oracle sorts and hashes the same text.

Devices and owners are EVM addresses. The rest of depinkit writes them EIP-55 checksummed,
but a checksum costs a keccak per address and says nothing the lowercase form does not, so
the reward computation keys everything by lowercase ``0x`` hex: the form
:mod:`depinkit.core.merkle` returns, and the order of the raw 20 bytes. Two spellings of one
address in the same input are refused rather than silently merged.
"""

from __future__ import annotations

import re
from typing import Final

from depinkit.oracle.rewards.errors import RewardsError

_LOWER_ADDRESS: Final[re.Pattern[str]] = re.compile(r"0x[0-9a-f]{40}")  # 20 bytes, lowercase


def canonical_address(address: object, error: type[RewardsError] = RewardsError) -> str:
    """``address`` as lowercase 0x hex; ``error`` when it is not a 20-byte hex address."""
    if isinstance(address, str):
        lower = address.lower()
        if _LOWER_ADDRESS.fullmatch(lower):
            return lower
    raise error(f"not a 0x-prefixed 20-byte hex address: {address!r}")
