"""Cheater detection over one epoch's witness graph (docs/networks/coverage.md, "Cheaters").

Each detector looks at the *links* that passed the per-report checks (a witness report whose
beacon exists, whose timing, frequency and distance are plausible) and names hotspots with a
reason code and a sentence. The verifier then rejects every coverage report of a named hotspot
with that code (the verdicts are the published list), and ``next_prior`` keeps it on the
algorithmic denylist for ``deny_epochs`` epochs. Detectors, in the order their verdict wins:

* ``location_spoof``: many of its peers exchanged signals too strong for the asserted distance.
* ``beacon_relay``: its witnesses are, again and again, far beyond the other witnesses of the
  same beacon (beacons forwarded over the internet, not heard over the air).
* ``collusion_ring``: a closed group witnessing (almost) only itself, while live hotspots
  around its asserted locations never hear it.
* ``location_geometry``: its asserted location lies well outside the disc of its peers.
* ``impossible_move``: its asserted location moved faster than anything can travel.

All integer arithmetic, all iteration in sorted order.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Final, NamedTuple

import h3.api.basic_int as h3

from depinkit.networks.context import EpochContext
from depinkit.networks.coverage import parameters as P
from depinkit.networks.coverage.geo import (
    RES11_SPACING_MM,
    cell_distance_m,
    distance_mm,
    ij_delta,
    lattice_q,
)

LOCATION_SPOOF: Final[str] = "location_spoof"
LOCATION_GEOMETRY: Final[str] = "location_geometry"
IMPOSSIBLE_MOVE: Final[str] = "impossible_move"
COLLUSION_RING: Final[str] = "collusion_ring"
BEACON_RELAY: Final[str] = "beacon_relay"
DETECTOR_REASONS: Final[tuple[str, ...]] = (  # in the order their verdicts win
    LOCATION_SPOOF,
    BEACON_RELAY,
    COLLUSION_RING,
    LOCATION_GEOMETRY,
    IMPOSSIBLE_MOVE,
)
RING_INDEX_RES: Final[int] = 7  # H3 resolution of the spatial index for "nearby" hotspots
RING_INDEX_SPACING_MM: Final[int] = RES11_SPACING_MM * 49  # res-7 spacing: sqrt(7)^4 larger
MS_PER_HOUR: Final[int] = 3_600_000
GEOMETRY_QUANTILE_NUM: Final[int] = 3  # the peer disc holds 3/4 of the peers: robust to
GEOMETRY_QUANTILE_DEN: Final[int] = 4  # a few long links, still tight around the real place
DETECTION_ROUNDS: Final[int] = 4  # rounds of detection; each removes the hotspots named


class Link(NamedTuple):
    """One witness report that passed the per-report checks: an edge of the witness graph."""

    witness: str
    beaconer: str
    slot: int
    distance_m: int  # between the asserted locations
    strong: bool  # RSSI above the free-space bound for that distance


@dataclass(frozen=True)
class Flag:
    """A detector's verdict on one hotspot: a reason code and a sentence for the manifest."""

    reason: str
    detail: str


def _peers(links: Iterable[Link]) -> tuple[dict[str, set[str]], dict[str, set[str]]]:
    peers: dict[str, set[str]] = {}
    strong: dict[str, set[str]] = {}
    for link in links:
        peers.setdefault(link.witness, set()).add(link.beaconer)
        peers.setdefault(link.beaconer, set()).add(link.witness)
        if link.strong:
            strong.setdefault(link.witness, set()).add(link.beaconer)
            strong.setdefault(link.beaconer, set()).add(link.witness)
    return peers, strong


def signal_spoofers(
    ctx: EpochContext, peers: Mapping[str, set[str]], strong: Mapping[str, set[str]]
) -> dict[str, Flag]:
    """Hotspots with >= spoof_min_links strong peers making >= spoof_share_bps of their peers."""
    min_links, share = ctx.param(P.SPOOF_MIN_LINKS), ctx.param(P.SPOOF_SHARE_BPS)
    flags = {}
    for hotspot in sorted(strong):
        n_strong, n_all = len(strong[hotspot]), len(peers[hotspot])
        if n_strong >= min_links and n_strong * P.BPS >= share * n_all:
            flags[hotspot] = Flag(
                LOCATION_SPOOF,
                f"{n_strong} of {n_all} peers exchanged signals stronger than free space allows "
                "over the asserted distance",
            )
    return flags


def geometry_spoofers(
    ctx: EpochContext, peers: Mapping[str, set[str]], cells: Mapping[str, int]
) -> dict[str, Flag]:
    """Hotspots asserted farther than ``geometry_slack_m`` outside their peers' disc.

    The disc is centred on the peers' centroid and holds three quarters of them (a quantile,
    so a few long, lucky links do not widen it); an honest hotspot hears the peers around it,
    so it lies inside that disc or near its edge, even at the edge of a town.
    """
    min_links, slack_mm = ctx.param(P.GEOMETRY_MIN_LINKS), ctx.param(P.GEOMETRY_SLACK_M) * 1000
    flags = {}
    for hotspot in sorted(peers):
        if len(peers[hotspot]) < min_links:
            continue
        vectors = [ij_delta(cells[hotspot], cells[p]) for p in sorted(peers[hotspot])]
        known = [v for v in vectors if v is not None]
        n = len(known)
        if n < min_links:
            continue
        si, sj = sum(v[0] for v in known), sum(v[1] for v in known)
        offset_mm = distance_mm(lattice_q(si, sj)) // n  # |centroid - hotspot|
        spread = sorted(distance_mm(lattice_q(n * i - si, n * j - sj)) for i, j in known)
        radius_mm = spread[GEOMETRY_QUANTILE_NUM * (n - 1) // GEOMETRY_QUANTILE_DEN] // n
        if offset_mm > radius_mm + slack_mm:
            flags[hotspot] = Flag(
                LOCATION_GEOMETRY,
                f"asserted location is {offset_mm // 1000} m from the centre of its {n} peers, "
                f"three quarters of whom are within {radius_mm // 1000} m of that centre",
            )
    return flags


def impossible_moves(ctx: EpochContext, hotspots: Iterable[str]) -> dict[str, Flag]:
    """Hotspots whose asserted cell moved since the last epoch it was seen, too fast."""
    history = ctx.prior.get("locations", {})
    if not isinstance(history, Mapping):
        return {}
    max_kmh = ctx.param(P.MAX_MOVE_KMH)
    epoch_ms = ctx.end_ms - ctx.start_ms
    flags = {}
    for hotspot in sorted(hotspots):
        entry = history.get(hotspot)
        device = ctx.devices.get(hotspot)
        if device is None or entry is None or not _is_location_entry(entry):
            continue
        previous, _, last_seen = entry
        if previous == device.h3_cell or last_seen >= ctx.epoch:
            continue
        elapsed_ms = (ctx.epoch - last_seen) * epoch_ms
        distance = cell_distance_m(previous, device.h3_cell)
        if distance is None or distance * MS_PER_HOUR > max_kmh * 1000 * elapsed_ms:
            shown = "an unmeasurable distance" if distance is None else f"{distance} m"
            flags[hotspot] = Flag(
                IMPOSSIBLE_MOVE,
                f"asserted location moved {shown} since epoch {last_seen}, faster than "
                f"{max_kmh} km/h",
            )
    return flags


def _is_location_entry(entry: Any) -> bool:
    return (
        isinstance(entry, list | tuple)
        and len(entry) == 3
        and all(type(x) is int for x in entry)
        and 0 < entry[0] < 2**64
        and h3.is_valid_cell(entry[0])
    )


def _closure(start: str, peers: Mapping[str, set[str]], limit: int) -> set[str] | None:
    """start and everything within two hops of it, or None when that exceeds ``limit``."""
    group = {start} | peers[start]
    if len(group) > limit:
        return None
    for peer in sorted(peers[start]):
        group |= peers[peer]
        if len(group) > limit:
            return None
    return group


def collusion_rings(
    ctx: EpochContext, peers: Mapping[str, set[str]], cells: Mapping[str, int]
) -> dict[str, Flag]:
    """Closed groups of ring_min_size..ring_max_size hotspots that nearby live hotspots miss."""
    min_size, max_size = ctx.param(P.RING_MIN_SIZE), ctx.param(P.RING_MAX_SIZE)
    share, reach_m = ctx.param(P.RING_SHARE_BPS), ctx.param(P.RING_REACH_M)
    min_missed = ctx.param(P.RING_MIN_MISSED)
    index: dict[int, list[str]] = {}
    for hotspot in sorted(peers):
        index.setdefault(h3.cell_to_parent(cells[hotspot], RING_INDEX_RES), []).append(hotspot)
    k = reach_m * 1000 * 2 // (RING_INDEX_SPACING_MM * 17 // 10) + 2  # disc covers the reach
    flags: dict[str, Flag] = {}
    examined: set[frozenset[str]] = set()
    for start in sorted(peers):
        if start in flags:
            continue
        group = _closure(start, peers, max_size)
        if group is None or len(group) < min_size or frozenset(group) in examined:
            continue
        examined.add(frozenset(group))
        if not all(len(peers[m] & group) * P.BPS >= share * len(peers[m]) for m in group):
            continue
        linked = set(group).union(*(peers[m] for m in group))
        missed: set[str] = set()
        for member in sorted(group):
            for parent in h3.grid_disk(h3.cell_to_parent(cells[member], RING_INDEX_RES), k):
                for other in index.get(parent, ()):
                    if other in linked or other in missed:
                        continue
                    delta = ij_delta(cells[member], cells[other])
                    if delta is not None and distance_mm(lattice_q(*delta)) <= reach_m * 1000:
                        missed.add(other)
        if len(missed) >= min_missed:
            for member in sorted(group):
                flags[member] = Flag(
                    COLLUSION_RING,
                    f"one of {len(group)} hotspots that witness almost only each other, while "
                    f"{len(missed)} live hotspots within {reach_m} m never exchanged a witness "
                    "with them",
                )
    return flags


def relayers(ctx: EpochContext, links: Iterable[Link]) -> dict[str, Flag]:
    """Witnesses repeatedly more than relay_ratio_pct% of the median other witness's distance.

    A beacon needs at least two other witnesses to say what "near" means for it.
    """
    ratio, min_count = ctx.param(P.RELAY_RATIO_PCT), ctx.param(P.RELAY_MIN_COUNT)
    share = ctx.param(P.RELAY_SHARE_BPS)
    by_beacon: dict[tuple[str, int], list[Link]] = {}
    for link in links:
        by_beacon.setdefault((link.beaconer, link.slot), []).append(link)
    total: dict[str, int] = {}
    outliers: dict[str, int] = {}
    for key in sorted(by_beacon):
        group = sorted(by_beacon[key], key=lambda x: (x.distance_m, x.witness))
        for link in group:
            total[link.witness] = total.get(link.witness, 0) + 1
        if len(group) < 3:
            continue
        distances = [link.distance_m for link in group]
        middle = (len(group) - 2) // 2  # index of the lower median once one link is left out
        for index, link in enumerate(group):
            median = distances[middle] if middle < index else distances[middle + 1]
            if link.distance_m * 100 > ratio * median:
                outliers[link.witness] = outliers.get(link.witness, 0) + 1
    flags = {}
    for hotspot in sorted(outliers):
        count = outliers[hotspot]
        if count >= min_count and count * P.BPS >= share * total[hotspot]:
            flags[hotspot] = Flag(
                BEACON_RELAY,
                f"{count} of its {total[hotspot]} witnesses were over {ratio}% of the median "
                "distance of the other witnesses of the same beacon",
            )
    return flags


def _round(ctx: EpochContext, links: list[Link], cells: Mapping[str, int]) -> dict[str, Flag]:
    peers, strong = _peers(links)
    found: dict[str, Flag] = {}
    for flags in (
        signal_spoofers(ctx, peers, strong),
        relayers(ctx, links),
        collusion_rings(ctx, peers, cells),
        geometry_spoofers(ctx, peers, cells),
        impossible_moves(ctx, sorted(cells)),
    ):
        for hotspot in sorted(flags):
            found.setdefault(hotspot, flags[hotspot])
    return found


def detect_cheaters(
    ctx: EpochContext, links: Iterable[Link], cells: Mapping[str, int]
) -> dict[str, Flag]:
    """Every detector over the epoch's links; the first detector to name a hotspot wins.

    Runs in rounds: the links of hotspots named in one round are removed before the next, so
    cheaters cannot hide behind each other (a spoofer's far peers widen another's peer disc,
    a spoofer far from a beacon makes a relayer look less far). At most DETECTION_ROUNDS.
    ``cells``: res-11 asserted cell of every hotspot that appears in ``links``.
    """
    remaining = list(links)
    found: dict[str, Flag] = {}
    for _ in range(DETECTION_ROUNDS):
        new = {h: f for h, f in _round(ctx, remaining, cells).items() if h not in found}
        if not new:
            break
        found.update(new)
        remaining = [k for k in remaining if k.witness not in found and k.beaconer not in found]
    return dict(sorted(found.items()))
