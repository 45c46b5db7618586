"""Which networks this process knows, and the body Struct of each report kind.

Registration is explicit: built-in networks are added by
:func:`default_registry`, third-party ones through the Python entry point
group ``depinkit.networks`` (each entry point names a :class:`NetworkSpec` or
a zero-argument callable returning one). A registry is an ordinary object
passed to whoever needs it; there is no process-wide one.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from importlib.metadata import EntryPoint, entry_points

import msgspec

from depinkit.core.envelope import NAME_PATTERN
from depinkit.core.errors import DepinkitError

ENTRY_POINT_GROUP = "depinkit.networks"  # where third-party packages register networks

_NAME_RE = re.compile(r"[a-z0-9_-]{1,32}")  # network and kind names follow the envelope's rule


class NetworkError(DepinkitError):
    """A network cannot be registered or looked up."""


class UnknownNetwork(NetworkError, KeyError):
    """No network of that name is registered."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else "unknown network"


class UnknownKind(NetworkError, KeyError):
    """The network has no report kind of that name."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else "unknown kind"


class NetworkSpec(msgspec.Struct, frozen=True):
    """What the core needs to know about a network: its report kinds.

    ``kinds`` maps a kind name to the msgspec Struct type of its body.
    """

    name: str
    kinds: dict[str, type]


def _validate(spec: NetworkSpec) -> None:
    if not isinstance(spec, NetworkSpec):
        raise NetworkError(f"expected a NetworkSpec, got {type(spec).__name__}")
    if not _NAME_RE.fullmatch(spec.name):
        raise NetworkError(f"network name {spec.name!r} must match {NAME_PATTERN}")
    for kind, body_type in spec.kinds.items():
        if not isinstance(kind, str) or not _NAME_RE.fullmatch(kind):
            raise NetworkError(f"kind {kind!r} of {spec.name} must match {NAME_PATTERN}")
        if not (isinstance(body_type, type) and issubclass(body_type, msgspec.Struct)):
            raise NetworkError(f"body of {spec.name}/{kind} must be a msgspec Struct type")


class NetworkRegistry:
    """A name -> NetworkSpec map that refuses duplicates and bad names."""

    def __init__(self, specs: Iterable[NetworkSpec] = ()) -> None:
        self._specs: dict[str, NetworkSpec] = {}
        for spec in specs:
            self.register(spec)

    def register(self, spec: NetworkSpec) -> None:
        _validate(spec)
        if spec.name in self._specs:
            raise NetworkError(f"network {spec.name!r} is already registered")
        self._specs[spec.name] = NetworkSpec(name=spec.name, kinds=dict(spec.kinds))

    def get(self, name: str) -> NetworkSpec:
        try:
            return self._specs[name]
        except (KeyError, TypeError):
            raise UnknownNetwork(f"unknown network {name!r}") from None

    def names(self) -> list[str]:
        """Registered names, sorted (a fixed order for anything iterating)."""
        return sorted(self._specs)

    def body_type(self, network: str, kind: str) -> type:
        spec = self.get(network)
        try:
            return spec.kinds[kind]
        except (KeyError, TypeError):
            raise UnknownKind(f"network {network!r} has no report kind {kind!r}") from None

    def __contains__(self, name: object) -> bool:
        return name in self._specs


def _load_entry_point(ep: EntryPoint) -> NetworkSpec:
    try:
        obj = ep.load()
        spec = obj() if callable(obj) and not isinstance(obj, NetworkSpec) else obj
    except Exception as exc:  # a broken plugin must name itself, not crash obscurely
        raise NetworkError(f"cannot load network plugin {ep.name!r} ({ep.value}): {exc}") from exc
    if not isinstance(spec, NetworkSpec):
        raise NetworkError(f"network plugin {ep.name!r} did not provide a NetworkSpec")
    return spec


def default_registry(
    *, plugins: Callable[[], Iterable[EntryPoint]] | None = None
) -> NetworkRegistry:
    """Built-in networks plus those installed under the entry point group.

    ``plugins`` replaces entry point discovery (tests, or to load none).
    """
    from depinkit.networks import uptime

    registry = NetworkRegistry([uptime.network_spec()])
    found = plugins() if plugins is not None else entry_points(group=ENTRY_POINT_GROUP)
    for ep in sorted(found, key=lambda e: e.name):
        registry.register(_load_entry_point(ep))
    return registry
