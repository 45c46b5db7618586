"""Roles: what a device does for a network, on a schedule.

A network module provides a role; the agent runtime runs it every
``interval_s`` seconds and signs, stores and delivers whatever it produces.
A role never signs reports, stores or sends them itself, so a network builder
writes only the part that is specific to the network (a role that must prove to a
service who it is signs a tagged *role message* through ``RoleContext.sign``, never a
raw digest):

    class MyRole:
        name = "my-network"
        interval_s = 300.0
        def produce(self, ctx: RoleContext) -> list[ReportDraft]:
            return [ReportDraft("my-network", "reading", Reading(value=read_sensor()))]

Roles are built from the config's ``[[roles]]`` entries by factories, looked
up by name: the agent's built-in ones plus any registered by third-party
packages under the ``depinkit.agent_roles`` entry-point group (the factory takes
the :class:`RoleSettings` and returns a :class:`Role`).

The agent layer does not import network modules (see DESIGN.md, "Layers"), so
the built-in :class:`HeartbeatRole` takes its body type as an argument; the
edge that assembles an agent (the CLI) passes ``depinkit.networks.uptime``'s
``Heartbeat``.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any, Final, NamedTuple, Protocol

import msgspec

from depinkit.agent.config import RoleSettings
from depinkit.agent.errors import RoleError
from depinkit.core.keys import keccak256

ROLE_ENTRY_POINT_GROUP = "depinkit.agent_roles"
# Prefix of every message a role has the device key sign: the digest keccak256(tag || message)
# can never be a report's, a receipt's, a consent's or a transaction's (each has its own tag).
ROLE_MESSAGE_TAG: Final[bytes] = b"depinkit/role-message/v1"


def role_message_digest(message: bytes) -> bytes:
    """The digest :attr:`RoleContext.sign` signs for ``message`` (what a verifier recovers)."""
    return keccak256(ROLE_MESSAGE_TAG + message)


class ReportDraft(NamedTuple):
    """One report a role wants made: network, kind and the network's body Struct."""

    network: str
    kind: str
    body: msgspec.Struct


@dataclass(frozen=True)
class RoleContext:
    """What a role may know when it runs (time comes from here, never the OS)."""

    device: str  # checksummed address of the device key
    now_ms: int  # runtime clock, unix ms
    epoch: int  # epoch the report will be labelled with
    started_ms: int  # when this agent process started, unix ms
    data_dir: Path  # the agent's data directory, for roles that keep state
    rng: random.Random  # the runtime's injected randomness
    # Signs role_message_digest(message) with the device key (65 bytes r || s || v), for
    # roles that must prove who they are to a service (a hotspot delivering packets); the
    # tag keeps such messages apart from everything else the key signs.
    sign: Callable[[bytes], bytes] | None = None


Produced = tuple[str, str, msgspec.Struct]  # a ReportDraft or a plain (network, kind, body)


class Role(Protocol):
    """A unit of periodic work for one network."""

    @property
    def name(self) -> str: ...

    @property
    def interval_s(self) -> float: ...

    def produce(self, ctx: RoleContext) -> Sequence[Produced]:
        """Return the reports to sign now: (network, kind, body) triples, maybe none."""
        ...


RoleFactory = Callable[[RoleSettings], Role]


class HeartbeatRole:
    """The ``uptime`` network's role: a heartbeat with the agent's uptime.

    Uptime is measured on the runtime's clock from the start of this agent
    process, so it restarts at zero after a reboot, as a real uptime does.
    """

    network = "uptime"
    kind = "heartbeat"

    def __init__(
        self,
        body_type: Callable[..., msgspec.Struct],
        *,
        name: str = "uptime",
        interval_s: float = 60.0,
    ) -> None:
        self._body_type = body_type
        self.name = name
        self.interval_s = interval_s

    def produce(self, ctx: RoleContext) -> list[ReportDraft]:
        uptime_s = max(0, ctx.now_ms - ctx.started_ms) // 1000
        return [ReportDraft(self.network, self.kind, self._body_type(uptime_s=uptime_s))]


def heartbeat_factory(body_type: Callable[..., msgspec.Struct]) -> RoleFactory:
    """A factory building :class:`HeartbeatRole` from config, with the given body type."""

    def build(settings: RoleSettings) -> Role:
        if settings.options:
            raise RoleError(
                f"role {settings.name!r} takes no options, got {sorted(settings.options)}"
            )
        return HeartbeatRole(body_type, name=settings.name, interval_s=settings.interval_s)

    return build


def discover_factories() -> dict[str, RoleFactory]:
    """Role factories registered by installed packages (entry points)."""
    found: dict[str, RoleFactory] = {}
    for entry in entry_points(group=ROLE_ENTRY_POINT_GROUP):
        found[entry.name] = entry.load()
    return found


def build_roles(settings: list[RoleSettings], factories: Mapping[str, RoleFactory]) -> list[Role]:
    """Instantiate the configured roles; RoleError for an unknown role name.

    A ``[[roles]]`` entry names its factory with ``options.factory`` when its
    own name differs (e.g. two heartbeat roles at different rates).
    """
    roles = []
    for entry in settings:
        options: dict[str, Any] = dict(entry.options)
        factory_name = str(options.pop("factory", entry.name))
        factory = factories.get(factory_name)
        if factory is None:
            known = ", ".join(sorted(factories)) or "none"
            raise RoleError(f"unknown role {factory_name!r} (known: {known})")
        roles.append(factory(msgspec.structs.replace(entry, options=options)))
    return roles
