"""Which networks this process knows, and the body Struct of each report kind.

Registration is explicit: built-in networks are added by
:func:`default_registry`, third-party ones through the Python entry point
group ``depinkit.networks``. An entry point names a :class:`NetworkModule`
(instance or class), a :class:`NetworkSpec` (kinds only: ingest accepts its
reports but no epoch pipeline scores them), or a zero-argument callable
returning either. A registry is an ordinary object passed to whoever needs
it; there is no process-wide one.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from importlib.metadata import EntryPoint, entry_points

import msgspec

from depinkit.core.envelope import NAME_PATTERN
from depinkit.networks.errors import NetworkError, UnknownKind, UnknownNetwork
from depinkit.networks.module import NetworkModule, validate_module
from depinkit.networks.spec import NetworkSpec

ENTRY_POINT_GROUP = "depinkit.networks"  # where third-party packages register networks

_NAME_RE = re.compile(r"[a-z0-9_-]{1,32}")  # network and kind names follow the envelope's rule

Registrable = NetworkSpec | NetworkModule

__all__ = [
    "ENTRY_POINT_GROUP",
    "NetworkError",
    "NetworkRegistry",
    "NetworkSpec",
    "UnknownKind",
    "UnknownNetwork",
    "default_registry",
]


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
    """A name -> network map that refuses duplicates and bad names.

    Every entry has a :class:`NetworkSpec` (what ingest needs); entries
    registered as a :class:`NetworkModule` also have the module (what the
    epoch pipeline needs).
    """

    def __init__(self, networks: Iterable[Registrable] = ()) -> None:
        self._specs: dict[str, NetworkSpec] = {}
        self._modules: dict[str, NetworkModule] = {}
        for network in networks:
            self.register(network)

    def register(self, network: Registrable) -> None:
        module = None
        if isinstance(network, NetworkModule):
            validate_module(network)
            module, network = network, network.spec()
        _validate(network)
        if network.name in self._specs:
            raise NetworkError(f"network {network.name!r} is already registered")
        self._specs[network.name] = NetworkSpec(name=network.name, kinds=dict(network.kinds))
        if module is not None:
            self._modules[network.name] = module

    def get(self, name: str) -> NetworkSpec:
        try:
            return self._specs[name]
        except (KeyError, TypeError):
            raise UnknownNetwork(f"unknown network {name!r}") from None

    def module(self, name: str) -> NetworkModule:
        """The network's module; UnknownNetwork, or NetworkError for a spec-only entry."""
        self.get(name)
        try:
            return self._modules[name]
        except KeyError:
            raise NetworkError(f"network {name!r} was registered without a module") from None

    def modules(self) -> list[NetworkModule]:
        """Registered modules, sorted by name (the order an epoch processes them in)."""
        return [self._modules[n] for n in sorted(self._modules)]

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


def _load_entry_point(ep: EntryPoint) -> Registrable:
    try:
        obj = ep.load()
        if isinstance(obj, NetworkSpec | NetworkModule):
            found = obj
        elif callable(obj):  # a factory function, or a NetworkModule subclass
            found = obj()
        else:
            found = obj
    except Exception as exc:  # a broken plugin must name itself, not crash obscurely
        raise NetworkError(f"cannot load network plugin {ep.name!r} ({ep.value}): {exc}") from exc
    if not isinstance(found, NetworkSpec | NetworkModule):
        raise NetworkError(
            f"network plugin {ep.name!r} did not provide a NetworkSpec or NetworkModule"
        )
    return found


def default_registry(
    *, plugins: Callable[[], Iterable[EntryPoint]] | None = None
) -> NetworkRegistry:
    """Built-in networks plus those installed under the entry point group.

    ``plugins`` replaces entry point discovery (tests, or to load none).
    """
    from depinkit.networks import uptime

    registry = NetworkRegistry([uptime.module()])
    found = plugins() if plugins is not None else entry_points(group=ENTRY_POINT_GROUP)
    for ep in sorted(found, key=lambda e: e.name):
        registry.register(_load_entry_point(ep))
    return registry
