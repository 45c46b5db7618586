"""Repair policy (pure) and repair claims through the module."""

from __future__ import annotations

from functools import cache
from typing import Any

from storage_protocol_kit import (
    PROVIDERS,
    StoredFile,
    by_id,
    capacity_report,
    context,
    deal_report,
    make_file,
    params,
    proof_reports,
    run_epoch,
    signed,
)

from depinkit.core.keys import keccak256
from depinkit.networks.storage import REPAIR, RepairClaim, StorageModule, decode_state
from depinkit.networks.storage.repair_policy import (
    repair_points,
    repair_queue,
    segment_health,
    unhealthy_pieces,
)
from depinkit.networks.storage.state import DealRecord
from depinkit.networks.storage.verify import (
    ALREADY_CLAIMED,
    DUPLICATE_PROVIDER,
    FACT_CLAIMED_BYTES,
    NO_CAPACITY,
    NOT_IN_REPAIR,
    OVER_CAPACITY,
    UNKNOWN_PIECE,
)

MODULE = StorageModule()
P0, P1, P2, P3, P4, P5, P6, P7 = PROVIDERS


def record(file: StoredFile, threshold: int = 4) -> DealRecord:
    return DealRecord(file.terms, threshold, 0)


def test_health_counts_proven_pieces_of_providers_in_good_standing() -> None:
    file = make_file(41, segments=2)
    deal = record(file)
    keys = {(file.deal_id, x.segment, x.index) for x in file.terms.pieces}
    missed = {(file.deal_id, 0, 1)}
    unhealthy = unhealthy_pieces(keys, keys - missed, set())
    assert unhealthy == missed
    disqualified = file.terms.pieces[7].provider  # share 2 of segment 1, share 3 of segment 0
    health = segment_health([deal], 0, unhealthy, {disqualified})
    assert health == {(file.deal_id, 0): [0, 2, 4], (file.deal_id, 1): [0, 1, 3, 4]}
    queue = repair_queue({file.deal_id: deal}, health)
    assert [(n.segment, n.healthy, n.missing) for n in queue] == [(0, 3, [1, 3]), (1, 4, [2])]
    assert [n.segment for n in repair_queue({file.deal_id: record(file, 2)}, health)] == []
    assert segment_health([deal], 5_000, set(), set()) == {}  # an ended deal needs no repair
    assert unhealthy_pieces(set(), set(), missed) == missed  # a failed audit is enough


def test_repair_points_are_bytes_restored() -> None:
    assert repair_points(3_072) == 3_072
    assert repair_points(-1) == 0


@cache
def queued() -> tuple[StoredFile, dict[str, Any]]:
    """Epoch 0 registers a file on P0..P4; in epoch 1 P2 does not prove: share 2 is queued."""
    file = make_file(42, providers=PROVIDERS[:5])
    reports = [capacity_report(x) for x in PROVIDERS[:6]] + [deal_report(file)]
    reports.append(capacity_report(P7, 0, 100))  # too small to take a piece
    _, _, prior = run_epoch(MODULE, context(0), reports)
    honest = [r for x in (P0, P1, P3, P4) for r in proof_reports(x, [file], 1)]
    _, _, prior = run_epoch(MODULE, context(1, prior=prior), honest)
    return file, prior


def claim(account, file: StoredFile, share: int, segment: int = 0, offset_ms: int = 0):
    body = RepairClaim(file.deal_id, segment, share)
    return signed(account, REPAIR, body, 2, offset_ms=offset_ms)


def test_a_missed_proof_queues_its_segment() -> None:
    file, prior = queued()
    queue = decode_state(prior).repair_queue
    assert [(n.deal_id, n.segment, n.healthy, n.missing) for n in queue] == [
        (file.deal_id, 0, 4, [2])
    ]


def test_repair_claim_rejections() -> None:
    file, prior = queued()
    first = claim(P5, file, 2)
    reports = [
        first,
        claim(P6, file, 2, offset_ms=1),  # P6 declared nothing
        claim(P5, file, 1, offset_ms=2),  # share 1 is healthy
        claim(P0, file, 2, offset_ms=3),  # P0 already holds share 0
        claim(P7, file, 2, offset_ms=4),  # P7's capacity is too small
        signed(P5, REPAIR, RepairClaim(keccak256(b"?"), 0, 2), 2, offset_ms=5),
        claim(P5, file, 2, offset_ms=6),  # the same share again
    ]
    verdicts = by_id(MODULE.verify(context(2, prior=prior), reports))
    assert [verdicts[r.id].reason for r in reports] == [
        "",
        NO_CAPACITY,
        NOT_IN_REPAIR,
        DUPLICATE_PROVIDER,
        OVER_CAPACITY,
        UNKNOWN_PIECE,
        ALREADY_CLAIMED,
    ]
    assert verdicts[first.id].facts[FACT_CLAIMED_BYTES] == 3_072


def test_a_claimed_share_moves_and_pays_at_its_first_proof_only() -> None:
    file, prior = queued()
    _, _, prior = run_epoch(MODULE, context(2, prior=prior), [claim(P5, file, 2)])
    state = decode_state(prior)
    assert state.deal_map()[file.deal_id].piece(0, 2).provider == P5.address
    assert [(r.provider, r.index) for r in state.repairs] == [(P5.address, 2)]
    moved = make_file(42, providers=(P0, P1, P5, P3, P4))  # same bytes, share 2 now on P5
    reports = [r for x in (P0, P1, P3, P4, P5) for r in proof_reports(x, [moved], 3)]
    _, scores, prior = run_epoch(MODULE, context(3, prior=prior), reports)
    assert scores["repair"] == {P5.address: 3_072}
    assert decode_state(prior).repairs == []
    assert decode_state(prior).repair_queue == []
    reports = [r for x in (P0, P1, P3, P4, P5) for r in proof_reports(x, [moved], 4)]
    _, scores, _ = run_epoch(MODULE, context(4, prior=prior), reports)
    assert scores["repair"] == {}
    assert scores["capacity"][P5.address] == 3_072


def test_an_unproven_repair_goes_back_to_the_queue() -> None:
    file, prior = queued()
    _, _, prior = run_epoch(MODULE, context(2, prior=prior), [claim(P5, file, 2)])
    honest = [r for x in (P0, P1, P3, P4) for r in proof_reports(x, [file], 3)]
    _, _, prior = run_epoch(MODULE, context(3, prior=prior, parameters=params()), honest)
    state = decode_state(prior)
    assert [(n.segment, n.missing) for n in state.repair_queue] == [(0, [2])]
    assert state.providers[P5.address].streak == 1
