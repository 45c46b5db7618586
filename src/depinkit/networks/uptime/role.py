"""The uptime network's agent role: one challenged heartbeat per slot.

The challenge of a slot is derived from the epoch's entropy (the hash of its
start block; docs/networks/uptime.md, "Challenges"), which the device cannot
know before the epoch starts. The agent learns it from the oracles' epoch
beacon (``GET /v1/epochs/{epoch}/beacon``): the epoch's start block, its hash
and the uptime parameters in force there. Oracles compute the same values from
the chain, so a lying oracle only makes its own device's heartbeats fail; the
role asks the next oracle when one does not answer.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final, Protocol

import httpx
import msgspec

from depinkit.agent.config import RoleSettings
from depinkit.agent.errors import RoleError
from depinkit.agent.roles import ReportDraft, Role, RoleContext, RoleFactory
from depinkit.networks.beacon import Beacon
from depinkit.networks.uptime.challenge import expected_challenge, slot_of
from depinkit.networks.uptime.parameters import DEFAULT_SLOT_S, SLOT_S
from depinkit.networks.uptime.schemas import HEARTBEAT, Heartbeat

NETWORK: Final[str] = "uptime"
BEACON_TIMEOUT_S: Final[float] = 5.0  # one oracle; the role tries the next one after this
BEACON_MAX_BYTES: Final[int] = 4_096  # a beacon is ~300 bytes; refuse anything much larger


class BeaconSource(Protocol):
    def beacon(self, epoch: int) -> Beacon | None:
        """The epoch's beacon, or None while nobody can tell it yet."""
        ...


class OracleBeacons:
    """Beacons fetched from the configured oracles, first answer wins, cached per epoch."""

    def __init__(self, urls: Sequence[str], *, timeout_s: float = BEACON_TIMEOUT_S) -> None:
        self._urls = [u.rstrip("/") for u in urls]
        self._timeout_s = timeout_s
        self._cache: dict[int, Beacon] = {}

    def beacon(self, epoch: int) -> Beacon | None:
        if epoch in self._cache:
            return self._cache[epoch]
        for url in self._urls:
            try:
                reply = httpx.get(f"{url}/v1/epochs/{epoch}/beacon", timeout=self._timeout_s)
            except httpx.HTTPError:
                continue
            if reply.status_code != 200 or len(reply.content) > BEACON_MAX_BYTES:
                continue
            try:  # typed decode only: never untrusted input into an untyped decoder
                found = msgspec.json.decode(reply.content, type=Beacon)
            except msgspec.DecodeError:
                continue
            if found.epoch == epoch and len(found.entropy_bytes()) == 32:
                self._cache = {epoch: found}  # one epoch at a time is all a role needs
                return found
        return None


class UptimeRole:
    """Sends a heartbeat carrying the slot's challenge, once per slot.

    Runs more often than the slot length (``interval_s``) so a late start or
    a missed tick still lands in every slot; the slots already answered in
    this process are skipped, and a restart at worst repeats one slot, which
    the oracles count once (``duplicate_slot``).
    """

    name = NETWORK

    def __init__(self, beacons: BeaconSource, *, interval_s: float = 60.0) -> None:
        self._beacons = beacons
        self.interval_s = interval_s
        self._answered: tuple[int, int] | None = None  # (epoch, slot) of the last heartbeat

    def produce(self, ctx: RoleContext) -> list[ReportDraft]:
        beacon = self._beacons.beacon(ctx.epoch)
        if beacon is None or not beacon.start_ms <= ctx.now_ms < beacon.end_ms:
            return []
        slot_s = beacon.parameter(NETWORK, SLOT_S, DEFAULT_SLOT_S)
        slot = slot_of(ctx.now_ms, beacon.start_ms, slot_s)
        if self._answered == (ctx.epoch, slot):
            return []
        self._answered = (ctx.epoch, slot)
        challenge = expected_challenge(beacon.entropy_bytes(), ctx.device, slot)
        uptime_s = max(0, ctx.now_ms - ctx.started_ms) // 1000
        return [ReportDraft(NETWORK, HEARTBEAT, Heartbeat(uptime_s=uptime_s, challenge=challenge))]


def uptime_role_factory(oracle_urls: Sequence[str]) -> RoleFactory:
    """Builds the role from its ``[[roles]]`` entry; beacons come from the agent's oracles."""

    def build(settings: RoleSettings) -> Role:
        if settings.options:
            raise RoleError(
                f"role {settings.name!r} takes no options, got {sorted(settings.options)}"
            )
        return UptimeRole(OracleBeacons(oracle_urls), interval_s=settings.interval_s)

    return build
