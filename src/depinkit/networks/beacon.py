"""An epoch's beacon: the public randomness and parameters devices need during the epoch.

Oracles publish it at ``GET /v1/epochs/{epoch}/beacon`` as soon as the epoch's start block
is confirmed; a network's agent role uses it to answer challenges that nobody could know
before the epoch began (the uptime network's heartbeats, docs/networks/uptime.md). Every
oracle derives the same beacon from the chain, so an agent may ask any of them.
"""

from __future__ import annotations

from typing import Final

import msgspec

ENTROPY_HEX_CHARS: Final[int] = 66  # "0x" + 32 bytes


class Beacon(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    epoch: int
    start_ms: int  # epoch start, unix ms (inclusive)
    end_ms: int  # epoch end, unix ms (exclusive)
    block: int  # the epoch's start block
    entropy: str  # 0x-prefixed hash of the start block
    parameters: dict[str, dict[str, int]] = msgspec.field(default_factory=dict)  # per network

    def entropy_bytes(self) -> bytes:
        return bytes.fromhex(self.entropy.removeprefix("0x"))

    def parameter(self, network: str, name: str, default: int) -> int:
        """A network's governed parameter at the start block (the default when unset or 0)."""
        return self.parameters.get(network, {}).get(name) or default
