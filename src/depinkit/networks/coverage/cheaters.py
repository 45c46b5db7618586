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

from collections import defaultdict
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


Vector = tuple[int, int]  # an IJ delta (geo.ij_delta)
ASK: Final[bool] = False  # in a peer map: the vector is not known yet, geometry asks H3 for it


class Link(NamedTuple):
    """One witness report that passed the per-report checks: an edge of the witness graph."""

    witness: str
    beaconer: str
    slot: int
    distance_m: int  # between the asserted locations
    strong: bool  # RSSI above the free-space bound for that distance
    # (ij_delta(beaconer's cell, witness's cell), ij_delta(witness's cell, beaconer's cell))
    # when the caller already computed them (each None when H3 cannot say); None: not given
    vectors: tuple[Vector | None, Vector | None] | None = None


PeerMap = dict[str, dict[str, Vector | bool | None]]
"""hotspot -> peer -> the peer's IJ delta from the hotspot (None: H3 cannot say; ASK: not
known yet). Its keys are the hotspot's peers: the hotspots it exchanged a witness with."""


@dataclass(frozen=True)
class Flag:
    """A detector's verdict on one hotspot: a reason code and a sentence for the manifest."""

    reason: str
    detail: str


def _peers(links: Iterable[Link]) -> tuple[PeerMap, dict[str, set[str]]]:
    return peer_maps(
        (link.witness, link.beaconer, link.strong, *(link.vectors or (ASK, ASK))) for link in links
    )


def peer_maps(
    edges: Iterable[tuple[str, str, bool, Vector | bool | None, Vector | bool | None]],
) -> tuple[PeerMap, dict[str, set[str]]]:
    """The peer map and the strong peers, from (witness, beaconer, strong, ahead, back) edges.

    ``ahead``: the witness's IJ delta from the beaconer, ``back`` the reverse (see Link.vectors;
    ASK when not known).
    """
    peers: defaultdict[str, dict[str, Vector | bool | None]] = defaultdict(dict)
    strong: defaultdict[str, set[str]] = defaultdict(set)
    for witness, beaconer, is_strong, ahead, back in edges:
        # the vectors depend only on the two cells: every link of a pair gives the same ones
        peers[witness][beaconer] = back
        peers[beaconer][witness] = ahead
        if is_strong:
            strong[witness].add(beaconer)
            strong[beaconer].add(witness)
    return dict(peers), dict(strong)


def signal_spoofers(
    ctx: EpochContext, peers: Mapping[str, Mapping[str, object]], strong: Mapping[str, set[str]]
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
    ctx: EpochContext, peers: PeerMap, cells: Mapping[str, int]
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
        origin = cells[hotspot]
        known: list[Vector] = []  # the sums and the sorted spread: any peer order
        for peer, given in peers[hotspot].items():
            vector = ij_delta(origin, cells[peer]) if given is ASK else given
            if vector is not None and not isinstance(vector, bool):  # None: H3 cannot say
                known.append(vector)
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


def _closure(start: str, peers: Mapping[str, Mapping[str, object]], limit: int) -> set[str] | None:
    """start and everything within two hops of it, or None when that exceeds ``limit``."""
    group = {start, *peers[start]}
    if len(group) > limit:
        return None
    for peer in sorted(peers[start]):
        group.update(peers[peer])
        if len(group) > limit:
            return None
    return group


def collusion_rings(
    ctx: EpochContext, peers: Mapping[str, Mapping[str, object]], cells: Mapping[str, int]
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
        if not all(len(peers[m].keys() & group) * P.BPS >= share * len(peers[m]) for m in group):
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
    by_beacon: defaultdict[tuple[str, int], list[tuple[int, str]]] = defaultdict(list)
    for link in links:
        by_beacon[link.beaconer, link.slot].append((link.distance_m, link.witness))
    return relay_flags(ctx, by_beacon.values())


def relay_flags(ctx: EpochContext, beacons: Iterable[list[tuple[int, str]]]) -> dict[str, Flag]:
    """:func:`relayers` on links already grouped: per beacon, its (distance_m, witness) list.

    The lists may be sorted in place.
    """
    ratio, min_count = ctx.param(P.RELAY_RATIO_PCT), ctx.param(P.RELAY_MIN_COUNT)
    share = ctx.param(P.RELAY_SHARE_BPS)
    total: dict[str, int] = {}
    outliers: dict[str, int] = {}
    for group in beacons:  # counts: the order of the beacons does not matter
        for _, witness in group:
            total[witness] = total.get(witness, 0) + 1
        if len(group) < 3:
            continue
        group.sort()  # by (distance, witness)
        middle = (len(group) - 2) // 2  # index of the lower median once one link is left out
        low, high = ratio * group[middle][0], ratio * group[middle + 1][0]
        for index, (distance_m, witness) in enumerate(group):
            if distance_m * 100 > (low if middle < index else high):
                outliers[witness] = outliers.get(witness, 0) + 1
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


def graph_detectors(
    ctx: EpochContext, links: Iterable[Link], cells: Mapping[str, int]
) -> tuple[dict[str, Flag], dict[str, Flag], dict[str, Flag]]:
    """The detectors that read the peer graph: (signal spoofers, collusion rings, geometry)."""
    return graph_flags(ctx, *_peers(links), cells)


def graph_flags(
    ctx: EpochContext, peers: PeerMap, strong: Mapping[str, set[str]], cells: Mapping[str, int]
) -> tuple[dict[str, Flag], dict[str, Flag], dict[str, Flag]]:
    """:func:`graph_detectors` on peer maps already built (:func:`peer_maps`)."""
    return (
        signal_spoofers(ctx, peers, strong),
        collusion_rings(ctx, peers, cells),
        geometry_spoofers(ctx, peers, cells),
    )


def merge_round(
    graph: tuple[dict[str, Flag], dict[str, Flag], dict[str, Flag]],
    relay: Mapping[str, Flag],
    moves: Mapping[str, Flag],
) -> dict[str, Flag]:
    """One round's flags: for each hotspot, the first detector (DETECTOR_REASONS) naming it."""
    signal, collusion, geometry = graph
    found: dict[str, Flag] = {}
    for flags in (signal, relay, collusion, geometry, moves):
        for hotspot in sorted(flags):
            found.setdefault(hotspot, flags[hotspot])
    return found


def _round(
    ctx: EpochContext, links: list[Link], cells: Mapping[str, int], moves: Mapping[str, Flag]
) -> dict[str, Flag]:
    return merge_round(graph_detectors(ctx, links, cells), relayers(ctx, links), moves)


def detect_cheaters(
    ctx: EpochContext,
    links: Iterable[Link],
    cells: Mapping[str, int],
    moves: Mapping[str, Flag] | None = None,
    first_round: Mapping[str, Flag] | None = None,
) -> dict[str, Flag]:
    """Every detector over the epoch's links; the first detector to name a hotspot wins.

    Runs in rounds: the links of hotspots named in one round are removed before the next, so
    cheaters cannot hide behind each other (a spoofer's far peers widen another's peer disc,
    a spoofer far from a beacon makes a relayer look less far). At most DETECTION_ROUNDS.
    ``cells``: res-11 asserted cell of every hotspot that appears in ``links``. ``moves``:
    ``impossible_moves(ctx, sorted(cells))`` when the caller already has it (it reads the
    prior state, not the links); ``first_round``: the first round's flags when the caller
    already has them (:func:`merge_round`).
    """
    if moves is None:
        moves = impossible_moves(ctx, sorted(cells))
    remaining = list(links)
    found: dict[str, Flag] = {}
    for number in range(DETECTION_ROUNDS):
        flags = (
            first_round
            if number == 0 and first_round is not None
            else _round(ctx, remaining, cells, moves)
        )
        new = {h: f for h, f in flags.items() if h not in found}
        if not new:
            break
        found.update(new)
        remaining = [k for k in remaining if k.witness not in found and k.beaconer not in found]
    return dict(sorted(found.items()))
