"""The built-in ``uptime`` network: devices prove liveness with heartbeats."""

from __future__ import annotations

from depinkit.networks.registry import NetworkSpec
from depinkit.networks.uptime.schemas import HEARTBEAT, Heartbeat

NAME = "uptime"


def network_spec() -> NetworkSpec:
    """The uptime network's report kinds (a fresh spec per call: no shared state)."""
    return NetworkSpec(name=NAME, kinds={HEARTBEAT: Heartbeat})


__all__ = ["HEARTBEAT", "NAME", "Heartbeat", "network_spec"]
