"""Integer geometry on H3 cells: distances and path loss without floating point.

Everything that feeds a verdict is an integer: cells are compared at resolution 11 through
H3's local IJ coordinates (integers), a planar lattice in which the squared distance between
two cells, in units of the cell spacing, is ``q = i*i - i*j + j*j`` (the I and J axes are
120 degrees apart). Metres come from a committed mean spacing; logarithms from a committed
rule on integers (:func:`log10_hundredths`). Spec: docs/networks/coverage.md, "Geometry".
"""

from __future__ import annotations

from bisect import bisect_right
from functools import cache, lru_cache
from math import isqrt
from typing import Final

import h3.api.basic_int as h3

DISTANCE_RES: Final[int] = 11  # H3 resolution distances are measured at (Helium: res 11)
# mm: mean centre-to-centre spacing of res-11 cells, sqrt(3) * H3's mean edge (28.663897 m).
RES11_SPACING_MM: Final[int] = 49_647
# Coarser resolutions to fall back on when local IJ fails (far apart, or a pentagon between);
# spacing grows by sqrt(7) per resolution. Used only for moves between epochs.
FALLBACK_SPACING_MM: Final[dict[int, int]] = {7: 49_647 * 49, 3: 49_647 * 2_401}
FSPL_CONSTANT_DB10: Final[int] = 1_476  # tenths of dB: 147.55 rounded up (lenient), see fspl
MANTISSA_DIGITS: Final[int] = 40  # digits of precision in log10_hundredths


def location_cell(cell: int) -> int | None:
    """The res-11 cell of an asserted location, or None when absent, invalid or too coarse."""
    if type(cell) is not int or not 0 < cell < 2**64 or not h3.is_valid_cell(cell):
        return None
    res = h3.get_resolution(cell)
    if res < DISTANCE_RES:
        return None
    return cell if res == DISTANCE_RES else h3.cell_to_parent(cell, DISTANCE_RES)


@lru_cache(maxsize=1 << 17)  # a pure function of the cell; every witness of a beacon asks it
def _own_ij(origin: int) -> tuple[int, int]:
    i, j = h3.cell_to_local_ij(origin, origin)
    return i, j


def ij_delta(origin: int, cell: int) -> tuple[int, int] | None:
    """(i, j) of ``cell`` relative to ``origin`` (same resolution), or None when H3 cannot say."""
    try:
        oi, oj = _own_ij(origin)
        ci, cj = h3.cell_to_local_ij(origin, cell)
    except Exception:  # H3's errors differ by version; any failure means "no local frame"
        return None
    return ci - oi, cj - oj


def hex_distance(i: int, j: int) -> int:
    """Grid distance (cells) of an IJ delta: H3's gridDistance, on integers."""
    return max(abs(i), abs(j)) if (i >= 0) == (j >= 0) else abs(i) + abs(j)


def lattice_q(i: int, j: int) -> int:
    """Squared planar distance of an IJ delta in units of the cell spacing."""
    return i * i - i * j + j * j


def distance_mm(q: int, spacing_mm: int = RES11_SPACING_MM) -> int:
    """floor(sqrt(q) * spacing): the distance in millimetres of a lattice distance q."""
    return isqrt(q * spacing_mm * spacing_mm)


def cell_distance_m(a: int, b: int) -> int | None:
    """Distance in metres between two cells of resolution >= 3, coarsening when needed.

    Both are taken at resolution 11 when possible, else 7, else 3; None when even that fails.
    """
    for res, spacing in ((DISTANCE_RES, RES11_SPACING_MM), *FALLBACK_SPACING_MM.items()):
        if h3.get_resolution(a) < res or h3.get_resolution(b) < res:
            continue
        delta = ij_delta(h3.cell_to_parent(a, res), h3.cell_to_parent(b, res))
        if delta is not None:
            return distance_mm(lattice_q(*delta), spacing) // 1000
    return None


def _iroot(value: int, n: int) -> int:
    """floor(value ** (1/n)) for value >= 0, exactly (Newton's method on integers)."""
    if value < 2:
        return value
    x = 1 << ((value.bit_length() + n - 1) // n)  # >= the root
    while True:
        y = ((n - 1) * x + value // x ** (n - 1)) // n
        if y >= x:
            return x
        x = y


@cache
def _mantissa_thresholds() -> tuple[int, ...]:
    """ceil(10 ** (MANTISSA_DIGITS - 1 + k / 100)) for k in 0..99, exactly."""
    out = []
    for k in range(100):
        power = 10 ** (100 * (MANTISSA_DIGITS - 1) + k)
        root = _iroot(power, 100)
        out.append(root if root**100 == power else root + 1)
    return tuple(out)


def log10_hundredths(value: int) -> int:
    """floor(100 * log10(value)) for value >= 1, in integers only.

    Exact for values below 10**40; above, the value is first truncated to 40 digits (a
    relative error under 1e-39, and the same on every machine).
    """
    if value < 1:
        raise ValueError("log10 of a value below 1")
    digits = len(str(value))
    shift = MANTISSA_DIGITS - digits
    scaled = value * 10**shift if shift >= 0 else value // 10 ** (-shift)
    return 100 * (digits - 1) + bisect_right(_mantissa_thresholds(), scaled) - 1


def fspl_db10(q: int, frequency_hz: int, spacing_mm: int = RES11_SPACING_MM) -> int:
    """Free-space path loss in tenths of dB over lattice distance q, rounded down.

    FSPL(dB) = 20 log10(d_m) + 20 log10(f_Hz) - 147.55 = 10 log10(d_mm^2 f^2) - 60 - 147.55,
    so in tenths: floor(100 log10(q * spacing_mm^2 * f^2)) - 600 - 1476. Rounding down and
    the constant rounded up both make the loss smaller, hence the check lenient.
    """
    return (
        log10_hundredths(max(1, q) * spacing_mm * spacing_mm * frequency_hz * frequency_hz)
        - 600
        - FSPL_CONSTANT_DB10
    )
