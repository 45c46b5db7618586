"""NetworkSpec: the part of a network that ingest needs (its report kinds).

Kept apart from :mod:`depinkit.networks.registry` so that network modules can
build their spec without importing the registry that imports them.
"""

from __future__ import annotations

import msgspec


class NetworkSpec(msgspec.Struct, frozen=True):
    """What the core needs to know about a network: its report kinds.

    ``kinds`` maps a kind name to the msgspec Struct type of its body.
    """

    name: str
    kinds: dict[str, type]
