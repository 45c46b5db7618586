"""Each cheater detector on a hand-built witness graph."""

from __future__ import annotations

from coverage_kit import ACCOUNTS, cell_at, context, params

from depinkit.networks.coverage import cheaters as C
from depinkit.networks.coverage import parameters as P
from depinkit.networks.coverage.geo import distance_mm, ij_delta, lattice_q

A = [a.address for a in ACCOUNTS]


def _ctx(cells: dict[int, int], **kw: object):  # type: ignore[no-untyped-def]
    return context({ACCOUNTS[i]: c for i, c in cells.items()}, **kw)  # type: ignore[arg-type]


def _cells(cells: dict[int, int]) -> dict[str, int]:
    return {A[i]: c for i, c in cells.items()}


def _link(w: int, b: int, cells: dict[int, int], slot: int = 0, strong: bool = False) -> C.Link:
    delta = ij_delta(cells[b], cells[w])
    assert delta is not None
    return C.Link(A[w], A[b], slot, distance_mm(lattice_q(*delta)) // 1000, strong)


# A ring of six honest hotspots ~1.5 km around the origin, all hearing each other.
AROUND = {
    i: cell_at(30 * dx, 30 * dy)
    for i, (dx, dy) in enumerate([(1, 0), (1, 1), (0, 1), (-1, 0), (-1, -1), (0, -1)])
}


def test_signal_spoofer_needs_enough_strong_peers() -> None:
    cells = {**AROUND, 6: cell_at(0)}
    links = [_link(6, i, cells, strong=i < 3) for i in range(6)]
    ctx = _ctx(cells)
    peers, strong = C._peers(links)
    assert set(C.signal_spoofers(ctx, peers, strong)) == {A[6]}  # 3 of 6 >= 25 %
    fewer = _ctx(cells, parameters=params(**{P.SPOOF_MIN_LINKS: 4}))
    assert C.signal_spoofers(fewer, peers, strong) == {}


def test_geometry_flags_a_hotspot_far_outside_its_peers() -> None:
    honest = {**AROUND, 6: cell_at(0)}
    liar = {**AROUND, 6: cell_at(400)}  # asserts ~20 km east, hears the hotspots around 0
    for cells, expected in ((honest, set()), (liar, {A[6]})):
        links = [_link(6, i, cells) for i in range(6)]
        peers, _ = C._peers(links)
        flags = C.geometry_spoofers(_ctx(cells), peers, _cells(cells))
        assert set(flags) == expected
        if expected:
            assert flags[A[6]].reason == C.LOCATION_GEOMETRY


def test_geometry_accepts_a_hotspot_at_the_edge_of_town() -> None:
    cells = {i: cell_at(40 + 20 * (i % 3), 20 * (i // 3)) for i in range(6)}
    cells[6] = cell_at(0)  # west of all its peers, but as close as they are to each other
    links = [_link(6, i, cells) for i in range(6)]
    peers, _ = C._peers(links)
    assert C.geometry_spoofers(_ctx(cells), peers, _cells(cells)) == {}


def test_impossible_move_uses_prior_locations() -> None:
    cells = {0: cell_at(6_000)}  # ~300 km from where it was last epoch, one hour ago
    prior = {"locations": {A[0]: [cell_at(0), 1, 2]}}
    ctx = _ctx(cells, prior=prior)
    flags = C.impossible_moves(ctx, [A[0]])
    assert set(flags) == {A[0]} and flags[A[0]].reason == C.IMPOSSIBLE_MOVE
    near = _ctx({0: cell_at(100)}, prior=prior)  # 5 km in an hour: a car
    assert C.impossible_moves(near, [A[0]]) == {}
    long_ago = _ctx(cells, prior={"locations": {A[0]: [cell_at(0), 0, 0]}}, epoch=3)
    assert C.impossible_moves(long_ago, [A[0]]) == {}  # 300 km in 3 h: a train
    assert C.impossible_moves(_ctx(cells, prior={"locations": {A[0]: "junk"}}), [A[0]]) == {}


def _ring_links(members: list[int], cells: dict[int, int]) -> list[C.Link]:
    return [_link(w, b, cells) for b in members for w in members if w != b]


def test_collusion_ring_needs_missed_live_neighbours() -> None:
    ring = {7: cell_at(0, 0), 8: cell_at(20, 0), 9: cell_at(0, 20), 10: cell_at(20, 20)}
    town = {i: cell_at(10 + 5 * i, 10) for i in range(7)}  # live, within 3 km, never linked
    cells = {**ring, **town}
    links = _ring_links(list(ring), cells) + _ring_links(list(town), cells)
    peers, _ = C._peers(links)
    # The town is bigger than the largest ring examined (a city always is), the ring is not.
    small = params(**{P.RING_MAX_SIZE: 6})
    flags = C.collusion_rings(_ctx(cells, parameters=small), peers, _cells(cells))
    assert set(flags) == {A[i] for i in ring}
    assert all(f.reason == C.COLLUSION_RING for f in flags.values())
    alone = _ring_links(list(ring), ring)  # an isolated village: nobody around to miss them
    peers, _ = C._peers(alone)
    assert C.collusion_rings(_ctx(ring), peers, _cells(ring)) == {}


def test_relayer_is_repeatedly_far_beyond_other_witnesses() -> None:
    cells = {0: cell_at(0), 1: cell_at(0, 30), 2: cell_at(30), 3: cell_at(-30, -30)}
    cells[4] = cell_at(1_000)  # ~50 km away
    cells[5] = cell_at(0, -40)
    links = []
    for slot in range(3):
        links += [_link(w, 0, cells, slot) for w in (1, 2, 3, 4)]
    links += [_link(5, 0, cells, 0)]
    flags = C.relayers(_ctx(cells), links)
    assert set(flags) == {A[4]}
    assert flags[A[4]].reason == C.BEACON_RELAY
    assert C.relayers(_ctx(cells, parameters=params(**{P.RELAY_MIN_COUNT: 4})), links) == {}


def test_detection_rounds_remove_named_hotspots_first() -> None:
    cells = {**AROUND, 6: cell_at(0), 7: cell_at(400), 8: cell_at(-400)}
    links = [_link(w, i, cells) for i in range(6) for w in (6, 7, 8)]
    flags = C.detect_cheaters(_ctx(cells), links, _cells(cells))
    assert set(flags) == {A[7], A[8]}
