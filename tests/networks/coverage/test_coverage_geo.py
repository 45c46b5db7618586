"""Integer geometry: H3 distances, exact logarithms, free-space path loss."""

from __future__ import annotations

import math

import h3.api.basic_int as h3
import pytest
from coverage_kit import ORIGIN, cell_at
from hypothesis import given
from hypothesis import strategies as st

from depinkit.networks.coverage.geo import (
    cell_distance_m,
    distance_mm,
    fspl_db10,
    hex_distance,
    ij_delta,
    lattice_q,
    location_cell,
    log10_hundredths,
)


@pytest.mark.parametrize("offset", [(0, 0), (3, 0), (3, 1), (0, 5), (-4, 2), (7, -7), (-9, -3)])
def test_hex_distance_is_h3_grid_distance(offset: tuple[int, int]) -> None:
    other = cell_at(*offset)
    delta = ij_delta(ORIGIN, other)
    assert delta == offset
    assert hex_distance(*delta) == h3.grid_distance(ORIGIN, other)


def test_neighbours_are_one_spacing_apart() -> None:
    for cell in h3.grid_ring(ORIGIN, 1):
        delta = ij_delta(ORIGIN, cell)
        assert delta is not None and lattice_q(*delta) == 1
    assert distance_mm(1) == 49_647
    # Within 2 % of the great-circle distance 2 km away (the spacing is H3's global mean).
    far = cell_at(40, 0)
    exact_m = h3.great_circle_distance(h3.cell_to_latlng(ORIGIN), h3.cell_to_latlng(far), "m")
    assert abs(cell_distance_m(ORIGIN, far) - exact_m) < 0.02 * exact_m  # type: ignore[operator]


@given(st.integers(1, 10**60))
def test_log10_hundredths_is_floor_of_100_log10(value: int) -> None:
    got = log10_hundredths(value)
    # exact criterion: 10**got <= value**100 < 10**(got + 1), checked on integers
    if value < 10**40:
        assert 10**got <= value**100 < 10 ** (got + 1)
    else:
        assert abs(got - math.floor(100 * math.log10(value))) <= 1


def test_log10_edges() -> None:
    assert [log10_hundredths(v) for v in (1, 10, 100, 99, 101)] == [0, 100, 200, 199, 200]
    with pytest.raises(ValueError):
        log10_hundredths(0)


@pytest.mark.parametrize("q", [1, 4, 100, 400, 10_000, 4_000_000])
def test_fspl_is_free_space_rounded_down(q: int) -> None:
    metres = math.sqrt(q) * 49.647
    exact = 20 * math.log10(metres) + 20 * math.log10(868_100_000) - 147.55
    assert exact * 10 - 2 <= fspl_db10(q, 868_100_000) <= exact * 10


def test_location_cell_takes_res11_or_finer() -> None:
    assert location_cell(0) is None
    assert location_cell(12345) is None
    assert location_cell(h3.cell_to_parent(ORIGIN, 10)) is None
    assert location_cell(ORIGIN) == ORIGIN
    assert location_cell(h3.cell_to_center_child(ORIGIN, 12)) == ORIGIN


def test_far_cells_use_coarser_resolutions() -> None:
    paris = h3.cell_to_center_child(ORIGIN, 12)
    sydney = h3.latlng_to_cell(-33.87, 151.21, 12)
    assert cell_distance_m(paris, paris) == 0
    assert cell_distance_m(paris, sydney) is None or cell_distance_m(paris, sydney) > 10**6
