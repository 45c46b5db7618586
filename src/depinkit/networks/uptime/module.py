"""The uptime network as a :class:`~depinkit.networks.module.NetworkModule`."""

from __future__ import annotations

from collections.abc import Sequence
from types import MappingProxyType

from depinkit.networks.context import EpochContext
from depinkit.networks.module import NetworkModule, ReceivedReport, Scores, Verdict
from depinkit.networks.uptime.parameters import PARAMETERS
from depinkit.networks.uptime.schemas import HEARTBEAT, Heartbeat
from depinkit.networks.uptime.score import BUCKET, score_uptime
from depinkit.networks.uptime.verify import verify_heartbeats

NAME = "uptime"


class UptimeModule(NetworkModule):
    """Devices prove liveness by echoing per-slot challenges; a point per slot online.

    The agent side is :class:`~depinkit.networks.uptime.role.UptimeRole`, built by the agent
    CLI with its oracles' URLs (it reads their epoch beacons), so ``role_factory`` is not used.
    """

    name = NAME
    kinds = MappingProxyType({HEARTBEAT: Heartbeat})
    buckets = (BUCKET,)
    parameters = PARAMETERS

    def verify(self, ctx: EpochContext, reports: Sequence[ReceivedReport]) -> list[Verdict]:
        return verify_heartbeats(ctx, reports)

    def score(self, ctx: EpochContext, verdicts: Sequence[Verdict]) -> Scores:
        return score_uptime(ctx, verdicts)
