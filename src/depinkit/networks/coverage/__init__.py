"""The built-in ``coverage`` network: proof of coverage with beacons and witnesses on H3 hexes.

Hotspots beacon on a schedule with payloads bound to the epoch's entropy, hotspots that hear
a beacon report witnesses, oracles check both, find cheaters in the witness graph, and pay
HIP-15 units scaled by HIP-17 hex density, boosts and location trust; a second bucket pays
for packets relayed with consumers' credits. Spec: docs/networks/coverage.md.
"""

from __future__ import annotations

from depinkit.networks.coverage.beacon import beacon_payload, beacon_window, slot_count
from depinkit.networks.coverage.module import NAME, CoverageModule
from depinkit.networks.coverage.schemas import (
    BEACON,
    PAYLOAD_BYTES,
    RECEIPT,
    WITNESS,
    Beacon,
    PacketReceipt,
    Witness,
)
from depinkit.networks.coverage.score import BUCKETS, COVERAGE, DATA, coverage_details
from depinkit.networks.coverage.verify import REASONS, REGION_BANDS_HZ


def module() -> CoverageModule:
    """A fresh coverage module."""
    return CoverageModule()


__all__ = [
    "BEACON",
    "BUCKETS",
    "COVERAGE",
    "DATA",
    "NAME",
    "PAYLOAD_BYTES",
    "REASONS",
    "RECEIPT",
    "REGION_BANDS_HZ",
    "WITNESS",
    "Beacon",
    "CoverageModule",
    "PacketReceipt",
    "Witness",
    "beacon_payload",
    "beacon_window",
    "coverage_details",
    "module",
    "slot_count",
]
