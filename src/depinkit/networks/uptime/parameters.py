"""The uptime network's governed parameters (docs/networks/uptime.md, "Parameters")."""

from __future__ import annotations

from typing import Final

from depinkit.networks.context import ParameterSpec

SLOT_S: Final[str] = "slot_s"  # on chain: netKey(keccak256("uptime"), "slot_s")
DEFAULT_SLOT_S: Final[int] = 3_600  # seconds: one point per hour online
MAX_SLOT_S: Final[int] = 31_536_000  # seconds: one year; longer only wastes the parameter

PARAMETERS: Final[tuple[ParameterSpec, ...]] = (
    ParameterSpec(
        name=SLOT_S,
        default=DEFAULT_SLOT_S,
        unit="seconds",
        rationale=(
            "Length of one scored slot. An hour rewards steady presence without asking "
            "devices to send much; devnets with one-minute epochs set it to seconds."
        ),
        minimum=1,
        maximum=MAX_SLOT_S,
    ),
)
