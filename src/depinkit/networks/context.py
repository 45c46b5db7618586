"""What a network module may know about an epoch: the :class:`EpochContext`.

Everything a verifier or scorer depends on is in the context, fixed before the
epoch is processed and identical on every oracle: the epoch's bounds, its
entropy (the hash of the epoch's start block), the governed parameters read at
that block, a read-only view of the device registry and the module's own prior
state. Nothing else (no clock, no I/O, no randomness) may influence a result,
which is what lets independent oracles compute byte-identical reward roots.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Final, Protocol

import msgspec

from depinkit.core.envelope import ReportDomain
from depinkit.networks.errors import NetworkError

ENTROPY_BYTES: Final[int] = 32  # bytes: a block hash
MAX_U256: Final[int] = 2**256 - 1  # largest value the Parameters contract stores

# Device lifecycle states as the oracle's registry view spells them
# (mirrors DeviceRegistry's status enum and depinkit.oracle.store.DeviceStatus).
DEVICE_ACTIVE: Final[str] = "active"
DEVICE_UNBONDING: Final[str] = "unbonding"
DEVICE_WITHDRAWN: Final[str] = "withdrawn"

_PARAM_NAME_RE = re.compile(r"[A-Za-z0-9_.]{1,64}")  # short ASCII: hashed into a governance key


class DeviceInfo(Protocol):
    """One device as the registry says it is at the epoch's start block.

    A Protocol, so the oracle can pass its own device rows without copying them.
    """

    @property
    def owner(self) -> str: ...

    @property
    def network(self) -> str | None: ...  # network name; None for a network this oracle lacks

    @property
    def h3_cell(self) -> int: ...

    @property
    def status(self) -> str: ...  # DEVICE_ACTIVE, DEVICE_UNBONDING or DEVICE_WITHDRAWN


class DeviceView(msgspec.Struct, frozen=True):
    """A plain :class:`DeviceInfo`, for tests, the simulator and third-party code."""

    owner: str
    network: str | None
    h3_cell: int = 0
    status: str = DEVICE_ACTIVE


class ParameterSpec(msgspec.Struct, frozen=True):
    """One governed parameter of a network.

    On chain it lives under ``netKey(network, name)`` (see docs/settlement.md);
    ``minimum``/``maximum`` bound what any value read from chain can mean, so a
    careless proposal cannot make a verifier divide by zero.
    """

    name: str
    default: int
    unit: str
    rationale: str
    minimum: int = 0
    maximum: int = MAX_U256

    def __post_init__(self) -> None:
        if not _PARAM_NAME_RE.fullmatch(self.name):
            raise NetworkError(f"parameter name {self.name!r} must match {_PARAM_NAME_RE.pattern}")
        if not 0 <= self.minimum <= self.default <= self.maximum <= MAX_U256:
            raise NetworkError(
                f"parameter {self.name}: need 0 <= minimum <= default <= maximum <= 2**256-1"
            )


def resolve_parameters(specs: Iterable[ParameterSpec], raw: Mapping[str, int]) -> dict[str, int]:
    """The values in force, from what the Parameters contract returned.

    An absent name takes its default, and so does 0 when 0 is below the
    minimum (the contract returns 0 for a key never set, so "unset" and "0"
    look alike). Any other value is clamped into [minimum, maximum]: every
    oracle applies the same rule, so the result stays deterministic and an
    epoch always settles. Names not in ``specs`` are ignored.
    """
    values: dict[str, int] = {}
    for spec in sorted(specs, key=lambda s: s.name):
        value = raw.get(spec.name)
        if value is None or (value == 0 and spec.minimum > 0):
            values[spec.name] = spec.default
        else:
            values[spec.name] = min(max(int(value), spec.minimum), spec.maximum)
    return values


def _freeze(mapping: Mapping[str, Any]) -> Mapping[str, Any]:
    return mapping if isinstance(mapping, MappingProxyType) else MappingProxyType(mapping)


@dataclass(frozen=True)
class EpochContext:
    """The inputs of one network's verify and score for one epoch (read-only).

    ``parameters`` holds the network's governed parameters by their short name
    (already resolved: see :func:`resolve_parameters`), ``devices`` maps an
    EIP-55 device address to its :class:`DeviceInfo`, and ``prior`` is state the
    module itself carried from earlier epochs (its meaning is the module's).
    Mappings are wrapped read-only; the caller must not mutate what it passed.
    """

    network: str
    epoch: int
    start_ms: int  # unix ms, inclusive
    end_ms: int  # unix ms, exclusive
    entropy: bytes  # 32 bytes: hash of the epoch's start block
    parameters: Mapping[str, int] = field(default_factory=dict)
    devices: Mapping[str, DeviceInfo] = field(default_factory=dict)
    prior: Mapping[str, Any] = field(default_factory=dict)
    credits: Mapping[str, int] = field(default_factory=dict)
    domain: ReportDomain | None = None
    oracles: tuple[str, ...] = ()  # the oracle set at the start block (EIP-55, sorted)

    def __post_init__(self) -> None:
        if self.epoch < 0:
            raise NetworkError(f"epoch must be >= 0, got {self.epoch}")
        if not 0 <= self.start_ms < self.end_ms:
            raise NetworkError(f"need 0 <= start_ms < end_ms, got {self.start_ms}..{self.end_ms}")
        if not isinstance(self.entropy, bytes) or len(self.entropy) != ENTROPY_BYTES:
            raise NetworkError(f"entropy must be {ENTROPY_BYTES} bytes")
        for name in ("parameters", "devices", "prior", "credits"):
            object.__setattr__(self, name, _freeze(getattr(self, name)))

    def param(self, name: str) -> int:
        """A parameter in force; NetworkError when the context lacks it."""
        try:
            return self.parameters[name]
        except KeyError:
            raise NetworkError(f"parameter {name!r} is not in the {self.network} context") from None
