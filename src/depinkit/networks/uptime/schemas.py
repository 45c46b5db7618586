"""Report bodies of the built-in ``uptime`` network.

The smallest useful network: a device proves it is alive by signing periodic
heartbeats, optionally echoing a challenge an oracle handed out (which shows
the heartbeat was made after the challenge existed).
"""

from __future__ import annotations

from typing import Annotated

import msgspec

MAX_UPTIME_S = 2**63 - 1  # seconds: fits a signed 64-bit SQL BIGINT
MAX_CHALLENGE_BYTES = 64  # bytes: a 32-byte nonce with room for a tag; bounds report size

HEARTBEAT = "heartbeat"  # kind name


class Heartbeat(msgspec.Struct, frozen=True, array_like=True, forbid_unknown_fields=True):
    """``heartbeat``: seconds the device agent has been up, and an optional challenge."""

    uptime_s: Annotated[int, msgspec.Meta(ge=0, le=MAX_UPTIME_S)]
    challenge: Annotated[bytes, msgspec.Meta(max_length=MAX_CHALLENGE_BYTES)] = b""
