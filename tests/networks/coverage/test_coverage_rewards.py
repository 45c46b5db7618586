"""HIP-15 units, HIP-17 hex scaling, boosts and trust, against the values worked in the spec.

The tables below are the ones in docs/networks/coverage.md ("Worked values"): change one only
together with the other.
"""

from __future__ import annotations

from fractions import Fraction as F

import h3.api.basic_int as h3
import pytest
from coverage_kit import ORIGIN

from depinkit.networks.coverage.parameters import HIP17_DEFAULTS
from depinkit.networks.coverage.rewards import (
    beacon_units,
    boost_of,
    hex_limit,
    hex_scales,
    location_trust,
    witness_units,
)

# n -> (beacon units, units of each witness), R = 4, decay 4/5.
HIP15 = {
    0: (F(0), F(0)),
    1: (F(1, 4), F(1)),
    2: (F(1, 2), F(1)),
    3: (F(3, 4), F(1)),
    4: (F(1), F(1)),
    5: (F(6, 5), F(19, 25)),
    6: (F(34, 25), F(91, 150)),
    7: (F(186, 125), F(439, 875)),
    8: (F(994, 625), F(2131, 5000)),
    9: (F(5226, 3125), F(10399, 28125)),
    10: (F(27154, 15625), F(50971, 156250)),
    11: (F(139866, 78125), F(250759, 859375)),
    12: (F(715714, 390625), F(1237411, 4687500)),
    13: (F(3644106, 1953125), F(6121519, 25390625)),
    14: (F(18482674, 9765625), F(30345451, 136718750)),
    15: (F(93461946, 48828125), F(150678679, 732421875)),
    16: (F(471504034, 244140625), F(749199091, 3906250000)),
    17: (F(2374297386, 1220703125), F(3729218239, 20751953125)),
    18: (F(11938595794, 6103515625), F(18578982331, 109863281250)),
    19: (F(59961414426, 30517578125), F(92626476199, 579833984375)),
    20: (F(300880813954, 152587890625), F(462058639171, 3051757812500)),
}


@pytest.mark.parametrize("n", sorted(HIP15))
def test_hip15_units_match_the_worked_table(n: int) -> None:
    beacon, witness = HIP15[n]
    assert beacon_units(n) == beacon
    assert witness_units(n) == witness


def test_hip15_shape() -> None:
    """Beacon units grow and stay below 2; total witness units fall from 4 towards 3."""
    for n in range(1, 20):
        assert beacon_units(n) < beacon_units(n + 1) < 2
        if n >= 4:
            assert n * witness_units(n) > (n + 1) * witness_units(n + 1) > 3
    assert 5 * witness_units(5) == F(19, 5)  # 3 + 4/5


def test_hex_limit_follows_hip17() -> None:
    assert hex_limit(1, 2, 1, 1) == 1
    assert hex_limit(7, 4, 5, 10) == 10  # (7 - 4 + 1) * 5 = 20, capped at 10
    assert hex_limit(5, 4, 5, 10) == 10  # (5 - 4 + 1) * 5
    assert hex_limit(4, 4, 5, 10) == 5
    assert hex_limit(0, 4, 25, 50) == 25


def _cells_in_same(res: int, count: int, child_res: int = 11) -> list[int]:
    """``count`` res-11 cells in distinct res-``child_res`` children of ORIGIN's res parent."""
    parent = h3.cell_to_parent(ORIGIN, res)
    children = sorted(h3.cell_to_children(parent, child_res))[:count]
    return [h3.cell_to_center_child(c, 11) for c in children]


def test_case_a_two_hotspots_in_one_res10_hex_share_it() -> None:
    """Spec case A: two hotspots in one res-10 hex: r10 clips 2 to 1, scale 1/2 each."""
    cells = _cells_in_same(10, 2)
    scales = hex_scales(cells, HIP17_DEFAULTS)
    assert scales == {cells[0]: F(1, 2), cells[1]: F(1, 2)}


def test_case_b_three_res10_hexes_in_one_res9_hex() -> None:
    """Spec case B: three hotspots in three res-10 hexes of one res-9 hex: r9 clips 3 to 1."""
    cells = _cells_in_same(9, 3, child_res=10)
    assert hex_scales(cells, HIP17_DEFAULTS) == dict.fromkeys(cells, F(1, 3))


def test_case_c_seven_hotspots_in_one_res7_hex() -> None:
    """Spec case C: 7 hotspots, one in each res-8 child of one res-7 hex: r8..r10 keep 1
    each, the res-7 hex is the only occupied one around, so its limit is the target 5."""
    cells = _cells_in_same(7, 7, child_res=8)
    scales = hex_scales(cells, HIP17_DEFAULTS)
    assert scales == dict.fromkeys(cells, F(5, 7))


def test_case_e_two_hotspots_in_one_res8_hex_are_clipped_at_r8() -> None:
    """Spec case E: two hotspots in different res-9 hexes of one res-8 hex: r8 max is 1."""
    cells = _cells_in_same(8, 2, child_res=9)
    assert hex_scales(cells, HIP17_DEFAULTS) == dict.fromkeys(cells, F(1, 2))


def test_case_d_same_cell_twice() -> None:
    """Spec case D: two hotspots asserting the same res-11 cell: r10 clips 2 to 1."""
    assert hex_scales([ORIGIN, ORIGIN], HIP17_DEFAULTS) == {ORIGIN: F(1, 2)}


def test_lonely_hotspot_keeps_its_full_scale() -> None:
    assert hex_scales([ORIGIN], HIP17_DEFAULTS) == {ORIGIN: F(1)}


def test_hex_scale_ignores_order() -> None:
    cells = _cells_in_same(7, 12, child_res=9) + _cells_in_same(10, 3)
    assert hex_scales(cells, HIP17_DEFAULTS) == hex_scales(cells[::-1], HIP17_DEFAULTS)


def test_boosts_take_the_largest_unexpired_and_clip() -> None:
    res8 = h3.cell_to_parent(ORIGIN, 8)
    res9 = h3.cell_to_parent(ORIGIN, 9)
    elsewhere = h3.cell_to_parent(h3.grid_disk(ORIGIN, 40)[-1], 9)
    boosts = [[res8, 3, 10], [res9, 5, 2], [elsewhere, 9, 10], "junk", [res8, 2]]
    assert boost_of(ORIGIN, boosts, epoch=2, max_boost=10) == 5
    assert boost_of(ORIGIN, boosts, epoch=3, max_boost=10) == 3  # the 5x expired
    assert boost_of(ORIGIN, boosts, epoch=2, max_boost=4) == 4
    assert boost_of(ORIGIN, [], epoch=2, max_boost=10) == 1
    assert boost_of(ORIGIN, None, epoch=2, max_boost=10) == 1


def test_location_trust_ramps_at_one_location() -> None:
    assert location_trust(ORIGIN, None, 5, 1) == 1
    assert location_trust(ORIGIN, None, 5, 4) == F(1, 4)
    assert location_trust(ORIGIN, [ORIGIN, 3, 4], 5, 4) == F(3, 4)
    assert location_trust(ORIGIN, [ORIGIN, 0, 4], 5, 4) == 1
    assert location_trust(ORIGIN, [ORIGIN + 1, 0, 4], 5, 4) == F(1, 4)  # moved: starts over
