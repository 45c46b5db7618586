"""Properties of storage verify, score and next_prior that rewards depend on (hypothesis)."""

from __future__ import annotations

import random
from functools import cache

import msgspec
from hypothesis import given, settings
from hypothesis import strategies as st
from storage_protocol_kit import (
    AUDITOR,
    CONSUMER,
    DOMAIN,
    PROVIDERS,
    capacity_report,
    context,
    deal_report,
    make_file,
    piece_proofs,
    proof_report,
    receipt_report,
    roundtrip,
    run_epoch,
    signed,
)

from depinkit.networks import ReceivedReport, run_module
from depinkit.networks.receipts import FACT_CREDITS, FACT_PAYER
from depinkit.networks.storage import (
    AUDIT,
    AUDIT_FAIL,
    AUDIT_PASS,
    AuditBatch,
    StorageModule,
    audit_targets,
    decode_state,
    make_result,
)
from depinkit.networks.storage import pieces as piece_tree

MODULE = StorageModule(auditors=[AUDITOR.address])
P0, P1, P2, P3, P4, P5, P6, _ = PROVIDERS


@cache
def setup() -> tuple[list, dict, list[ReceivedReport]]:
    """Two registered files and a pool of epoch-1 reports, good and bad."""
    a = make_file(201, providers=PROVIDERS[:5])
    b = make_file(202, providers=PROVIDERS[1:6])
    reports = [capacity_report(x) for x in PROVIDERS[:6]] + [deal_report(a), deal_report(b, P1)]
    _, _, prior = run_epoch(MODULE, context(0), reports)
    pool: list[ReceivedReport] = []
    for account in PROVIDERS[:6]:
        for file in (a, b):
            proofs = piece_proofs(file, account.address, 1)
            if proofs:
                pool.append(proof_report(account, proofs, 1, seq=1))
                pool.append(proof_report(account, proofs, 1, seq=2, offset_ms=3))  # duplicate
                stale = piece_proofs(file, account.address, 2)
                pool.append(proof_report(account, stale, 1, seq=3))  # wrong challenge
    for account in PROVIDERS[:6]:
        for file in (a, b):
            if file.held_by(account.address):
                for cumulative in (10, 25, 25, 40):
                    pool.append(
                        receipt_report(account, file.deal_id, cumulative, 1, offset_ms=cumulative)
                    )
    pool.append(capacity_report(P6, 1, 5_000))
    pool.append(capacity_report(P6, 1, 9_000, offset_ms=1))
    c = make_file(203, providers=PROVIDERS[2:7])
    pool.append(deal_report(c, P2, 1))
    pool.append(deal_report(c, P3, 1))
    placements = decode_state(prior).placements(1)
    for draw, target in enumerate(
        audit_targets(context(1).entropy, AUDITOR.address, placements, 6)
    ):
        file = a if target.deal_id == a.deal_id else b
        chunk = piece_tree.chunk(file.data[(target.segment, target.share)], target.chunk)
        outcome = AUDIT_FAIL if draw % 3 == 0 else AUDIT_PASS
        leaf = piece_tree.leaf_hash(chunk) if outcome == AUDIT_PASS else b""
        result = make_result(AUDITOR, DOMAIN, 1, target, outcome, leaf)
        pool.append(signed(P6, AUDIT, AuditBatch([result]), 1, seq=100 + draw))
    return [a, b, c], prior, pool


@settings(max_examples=40)
@given(st.data(), st.randoms(use_true_random=False))
def test_verify_score_and_next_prior_ignore_order_and_repeats(
    data: st.DataObject, rng: random.Random
) -> None:
    _, prior, pool = setup()
    chosen = data.draw(st.lists(st.sampled_from(pool), max_size=len(pool), unique_by=id))
    shuffled = list(chosen) + chosen[: len(chosen) // 3]
    rng.shuffle(shuffled)
    ctx = context(1, prior=prior)
    first = run_module(MODULE, ctx, chosen)
    second = run_module(MODULE, ctx, shuffled)
    assert first == second
    assert roundtrip(MODULE.next_prior(ctx, chosen, first[0])) == roundtrip(
        MODULE.next_prior(ctx, shuffled, second[0])
    )


@settings(max_examples=40)
@given(st.data(), st.integers(0, 300))
def test_spends_never_exceed_credits_and_each_increase_is_paid_once(
    data: st.DataObject, balance: int
) -> None:
    _, prior, pool = setup()
    chosen = data.draw(st.lists(st.sampled_from(pool), max_size=len(pool), unique_by=id))
    ctx = context(1, prior=prior, credits={CONSUMER.address: balance})
    verdicts, _ = run_module(MODULE, ctx, chosen)
    spent = [v.facts[FACT_CREDITS] for v in verdicts if FACT_CREDITS in v.facts]
    assert all(x > 0 for x in spent)
    assert sum(spent) <= balance
    assert all(
        v.facts[FACT_PAYER] == int(CONSUMER.address, 16)
        for v in verdicts
        if v.facts.get(FACT_PAYER)
    )
    # per channel, what was spent is exactly the highest cumulative the book recorded
    state = decode_state(MODULE.next_prior(ctx, chosen, verdicts))
    assert sum(spent) == sum(c for *_, c in state.receipts)


def test_a_proof_report_moved_to_another_epoch_or_provider_fails() -> None:
    files, prior, _ = setup()
    a = files[0]
    good = piece_proofs(a, P0.address, 1)
    replay = proof_report(P0, good, 2)
    ctx2 = context(2, prior=roundtrip(MODULE.next_prior(context(1, prior=prior), [], [])))
    assert MODULE.verify(ctx2, [replay])[0].reason == "wrong_challenge"
    claimed = msgspec.structs.replace(good[0])
    assert MODULE.verify(context(1, prior=prior), [proof_report(P1, [claimed], 1)])[0].reason == (
        "not_provider"
    )
