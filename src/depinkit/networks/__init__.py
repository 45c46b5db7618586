"""depinkit.networks: network modules and the registry that finds them."""

from depinkit.networks.registry import (
    ENTRY_POINT_GROUP,
    NetworkError,
    NetworkRegistry,
    NetworkSpec,
    UnknownKind,
    UnknownNetwork,
    default_registry,
)

__all__ = [
    "ENTRY_POINT_GROUP",
    "NetworkError",
    "NetworkRegistry",
    "NetworkSpec",
    "UnknownKind",
    "UnknownNetwork",
    "default_registry",
]
