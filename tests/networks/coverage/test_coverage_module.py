"""The module as the pipeline uses it: scores, buckets, boosts, trust and next_prior."""

from __future__ import annotations

from fractions import Fraction

import h3.api.basic_int as h3
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

from depinkit.core.canonical import canonical_encode
from depinkit.networks import check_output, run_module
from depinkit.networks.coverage import COVERAGE, DATA, coverage_details, module
from depinkit.networks.coverage import parameters as P
from depinkit.networks.coverage.cheaters import DETECTOR_REASONS
from depinkit.networks.coverage.score import POINTS_PER_UNIT
from depinkit.networks.receipts import sign_receipt

A = ACCOUNTS
CELLS = {A[0]: cell_at(0), A[1]: cell_at(20), A[2]: cell_at(0, 20), A[3]: cell_at(-20, -20)}
REPORTS = [beacon(A[0]), witness(A[1], A[0]), witness(A[2], A[0]), witness(A[3], A[0])]


def test_points_are_hip15_units_in_micro_units() -> None:
    _, scores = run_module(module(), context(CELLS), REPORTS)
    assert scores[COVERAGE] == {
        A[0].address: 3 * POINTS_PER_UNIT // 4,  # 3 witnesses: 3/4 unit
        A[1].address: POINTS_PER_UNIT,
        A[2].address: POINTS_PER_UNIT,
        A[3].address: POINTS_PER_UNIT,
    }
    assert scores[DATA] == {}


def test_hex_density_scales_two_hotspots_in_one_res10_hex() -> None:
    crowded = {**CELLS, A[2]: h3.cell_to_center_child(h3.cell_to_parent(CELLS[A[1]], 10), 11)}
    if crowded[A[2]] == crowded[A[1]]:
        crowded[A[2]] = sorted(h3.cell_to_children(h3.cell_to_parent(CELLS[A[1]], 10), 11))[0]
    ctx = context(crowded)
    verdicts, scores = run_module(module(), ctx, REPORTS)
    details = coverage_details(ctx, verdicts)
    assert details[A[1].address].scale == Fraction(1, 2)
    assert scores[COVERAGE][A[1].address] == POINTS_PER_UNIT // 2


def test_boosted_hex_pays_more() -> None:
    hexagon = h3.cell_to_parent(CELLS[A[1]], 8)
    ctx = context(CELLS, prior={"boosts": [[hexagon, 3, EPOCH]]})
    _, scores = run_module(module(), ctx, REPORTS)
    assert scores[COVERAGE][A[1].address] == 3 * POINTS_PER_UNIT
    assert scores[COVERAGE][A[2].address] == POINTS_PER_UNIT


def test_location_trust_ramps_after_a_move() -> None:
    ramp = params(**{P.TRUST_RAMP_EPOCHS: 4})
    prior = {"locations": {A[1].address: [CELLS[A[1]], EPOCH - 2, EPOCH - 1]}}
    _, scores = run_module(module(), context(CELLS, parameters=ramp, prior=prior), REPORTS)
    assert scores[COVERAGE][A[1].address] == 3 * POINTS_PER_UNIT // 4  # third epoch there
    assert scores[COVERAGE][A[2].address] == POINTS_PER_UNIT // 4  # new


def test_data_bucket_pays_credits_and_spends_them() -> None:
    receipt = sign_receipt(
        CONSUMER,
        DOMAIN,
        network="coverage",
        payee=A[1].address,
        channel=b"\x02" * 32,
        cumulative=40,
    )
    reports = [*REPORTS, receipt_report(A[1], receipt)]
    ctx = context(CELLS, credits={CONSUMER.address: 100})
    verdicts, scores = run_module(module(), ctx, reports)
    assert scores[DATA] == {A[1].address: 40}
    prior = module().next_prior(ctx, reports, verdicts)
    assert prior["receipts"] == {"channels": [[CONSUMER.address, A[1].address, b"\x02" * 32, 40]]}


def test_next_prior_carries_state_as_plain_data() -> None:
    ctx = context(
        CELLS,
        prior={
            "denylist": [A[5].address, 7],
            "flagged": {A[6].address: [EPOCH + 2, "collusion_ring"], A[7].address: [EPOCH, "x"]},
            "boosts": [[h3.cell_to_parent(CELLS[A[0]], 7), 2, EPOCH], [CELLS[A[0]], 2, EPOCH + 5]],
        },
    )
    verdicts, _ = run_module(module(), ctx, REPORTS)
    prior = module().next_prior(ctx, REPORTS, verdicts)
    assert prior["denylist"] == [A[5].address]
    assert prior["flagged"] == {A[6].address: [EPOCH + 2, "collusion_ring"]}
    assert prior["boosts"] == [[CELLS[A[0]], 2, EPOCH + 5]]
    assert prior["locations"][A[1].address] == [CELLS[A[1]], EPOCH, EPOCH]
    canonical_encode(prior)  # storable as the pipeline stores it


def test_detector_verdicts_enter_the_algorithmic_denylist() -> None:
    ring = [(1, 0), (1, 1), (0, 1), (-1, 0), (-1, -1), (0, -1)]
    cells = {a: cell_at(30 * i, 30 * j) for a, (i, j) in zip(A[:6], ring, strict=True)}
    cells[A[6]] = cell_at(0)
    cells[A[7]] = cell_at(600, 600)  # claims ~30 km away but hears the town
    reports = []
    for b in A[:7]:
        reports += [beacon(b), *(witness(a, b) for a in A[:8] if a != b)]
    ctx = context(cells)
    verdicts, _ = run_module(module(), ctx, reports)
    flagged = {v.device: v.reason for v in verdicts if v.reason in DETECTOR_REASONS}
    # Its witnesses are all far beyond the others': the relay detector names it first.
    assert flagged == {A[7].address: "beacon_relay"}
    prior = module().next_prior(ctx, reports, verdicts)
    until = EPOCH + module().defaults()[P.DENY_EPOCHS]
    assert prior["flagged"] == {A[7].address: [until, "beacon_relay"]}
    # Next epoch (the kit reuses the epoch number) it only beacons: denylisted, reason shown.
    later = context(cells, prior=prior)
    (verdict,), _ = run_module(module(), later, [beacon(A[7])])
    assert verdict.reason == "denylisted"
    assert verdict.detail == f"algorithmic denylist (beacon_relay) until epoch {until}"


def test_module_keeps_the_interface() -> None:
    verdicts, scores = run_module(module(), context(CELLS), REPORTS)
    check_output(module(), REPORTS, verdicts, scores)
    assert module().buckets == (COVERAGE, DATA)
    assert len({p.name for p in module().parameters}) == len(module().parameters)
