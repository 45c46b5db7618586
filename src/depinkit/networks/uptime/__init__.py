"""The built-in ``uptime`` network: devices prove liveness with challenged heartbeats.

Spec: docs/networks/uptime.md.
"""

from __future__ import annotations

from depinkit.networks.spec import NetworkSpec
from depinkit.networks.uptime.challenge import (
    CHALLENGE_BYTES,
    expected_challenge,
    slot_count,
    slot_of,
)
from depinkit.networks.uptime.module import NAME, UptimeModule
from depinkit.networks.uptime.parameters import DEFAULT_SLOT_S, SLOT_S
from depinkit.networks.uptime.schemas import HEARTBEAT, Heartbeat
from depinkit.networks.uptime.score import BUCKET
from depinkit.networks.uptime.verify import (
    BAD_CHALLENGE,
    DUPLICATE_SLOT,
    MISSING_CHALLENGE,
    REASONS,
)


def module() -> UptimeModule:
    """A fresh uptime module (stateless, but no shared instance either)."""
    return UptimeModule()


def network_spec() -> NetworkSpec:
    """The uptime network's report kinds (a fresh spec per call: no shared state)."""
    return module().spec()


__all__ = [
    "BAD_CHALLENGE",
    "BUCKET",
    "CHALLENGE_BYTES",
    "DEFAULT_SLOT_S",
    "DUPLICATE_SLOT",
    "HEARTBEAT",
    "MISSING_CHALLENGE",
    "NAME",
    "REASONS",
    "SLOT_S",
    "Heartbeat",
    "UptimeModule",
    "expected_challenge",
    "module",
    "network_spec",
    "slot_count",
    "slot_of",
]
