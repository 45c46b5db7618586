"""explain(): the explorer-ready data of each rewarded hotspot, as the manifest publishes it."""

from __future__ import annotations

from fractions import Fraction

import h3.api.basic_int as h3
import pytest
from coverage_kit import (
    ACCOUNTS,
    CONSUMER,
    DOMAIN,
    EPOCH,
    beacon,
    cell_at,
    context,
    params,
    receipt_report,
    witness,
)

from depinkit.networks import run_module
from depinkit.networks.coverage import COVERAGE, DATA, module
from depinkit.networks.coverage import parameters as P
from depinkit.networks.coverage.module import BOOST, HEX, SCALE, TRUST, UNITS
from depinkit.networks.coverage.score import POINTS_PER_UNIT
from depinkit.networks.errors import NetworkError
from depinkit.networks.module import check_explanation
from depinkit.networks.receipts import sign_receipt

A = ACCOUNTS
CELLS = {A[0]: cell_at(0), A[1]: cell_at(20), A[2]: cell_at(0, 20), A[3]: cell_at(-20, -20)}
REPORTS = [beacon(A[0]), witness(A[1], A[0]), witness(A[2], A[0]), witness(A[3], A[0])]


def crowded_cells() -> dict[object, int]:
    """A[2] moved into A[1]'s res-10 hex (HIP-17 res 10: one hotspot per hex)."""
    parent = h3.cell_to_parent(CELLS[A[1]], 10)
    other = next(c for c in sorted(h3.cell_to_children(parent, 11)) if c != CELLS[A[1]])
    return {**CELLS, A[2]: other}


def test_each_rewarded_hotspot_gets_hex_scale_boost_trust_and_units() -> None:
    cells = crowded_cells()
    boosted = h3.cell_to_parent(cells[A[3]], 8)
    ramp = params(**{P.TRUST_RAMP_EPOCHS: 4})
    prior = {
        "boosts": [[boosted, 3, EPOCH]],
        "locations": {A[3].address: [cells[A[3]], EPOCH - 1, EPOCH - 1]},  # second epoch there
    }
    ctx = context(cells, parameters=ramp, prior=prior)
    m = module()
    verdicts, scores = run_module(m, ctx, REPORTS)
    explained = m.explain(ctx, verdicts, scores)
    # worked by hand: 3 witnesses, so the beacon is 3/4 unit and each witness 1 unit;
    # A[1] and A[2] share a res-10 hex (scale 1/2); A[3] is boosted 3x at trust 2/4
    assert explained == {
        A[0].address: {HEX: h3.int_to_str(cells[A[0]]), SCALE: "1", BOOST: "1",
                       TRUST: "1/4", UNITS: "3/4"},
        A[1].address: {HEX: h3.int_to_str(cells[A[1]]), SCALE: "1/2", BOOST: "1",
                       TRUST: "1/4", UNITS: "1"},
        A[2].address: {HEX: h3.int_to_str(cells[A[2]]), SCALE: "1/2", BOOST: "1",
                       TRUST: "1/4", UNITS: "1"},
        A[3].address: {HEX: h3.int_to_str(cells[A[3]]), SCALE: "1", BOOST: "3",
                       TRUST: "1/2", UNITS: "1"},
    }  # fmt: skip
    check_explanation(m, scores, explained)
    for device, values in explained.items():  # the published values give the points back
        product = (
            POINTS_PER_UNIT
            * Fraction(values[UNITS])
            * Fraction(values[SCALE])
            * int(values[BOOST])
            * Fraction(values[TRUST])
        )
        assert scores[COVERAGE][device] == product.numerator // product.denominator


def test_only_hotspots_with_coverage_points_are_explained() -> None:
    receipt = sign_receipt(
        CONSUMER,
        DOMAIN,
        network="coverage",
        payee=A[5].address,
        channel=b"\x05" * 32,
        cumulative=500,
    )
    cells = {**CELLS, A[5]: cell_at(40, 40)}
    ctx = context(cells, credits={CONSUMER.address: 10_000})
    m = module()
    verdicts, scores = run_module(m, ctx, [*REPORTS, receipt_report(A[5], receipt)])
    assert scores[DATA] == {A[5].address: 500}
    explained = m.explain(ctx, verdicts, scores)
    assert sorted(explained) == sorted(a.address for a in A[:4])  # the relay-only one: none
    lone = [beacon(A[0])]  # a beacon nobody witnessed earns no units
    verdicts, scores = run_module(m, context(CELLS), lone)
    assert scores[COVERAGE] == {} and m.explain(context(CELLS), verdicts, scores) == {}


@pytest.mark.parametrize(
    ("explained", "message"),
    [
        ({"0xnobody": {"hex": "8b1f"}}, "did not score"),
        ({"ALICE": {}}, "non-empty"),
        ({"ALICE": {"Hex": "1"}}, "bad explanation name"),
        ({"ALICE": {"hex": ""}}, "bad explanation value"),
        ({"ALICE": {"hex": "x" * 101}}, "bad explanation value"),
        ({"ALICE": {"scale": 1}}, "bad explanation value"),
    ],
)
def test_an_explanation_the_manifest_cannot_publish_is_refused(
    explained: dict[str, dict[str, object]], message: str
) -> None:
    with pytest.raises(NetworkError, match=message):
        check_explanation(module(), {COVERAGE: {"ALICE": 5}}, explained)  # type: ignore[arg-type]
