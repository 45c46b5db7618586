"""Retrieval audits: targets from entropy, signed results, and what they do to reputation."""

from __future__ import annotations

from functools import cache
from typing import Any

import msgspec
from storage_protocol_kit import (
    AUDITOR,
    DOMAIN,
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

from depinkit.core.keys import Account, keccak256
from depinkit.networks.storage import (
    AUDIT,
    AUDIT_FAIL,
    AUDIT_OFFLINE,
    AUDIT_PASS,
    AuditBatch,
    StorageModule,
    audit_targets,
    decode_state,
    make_result,
    pieces,
)
from depinkit.networks.storage import audit as a
from depinkit.networks.storage.verify import DUPLICATE_AUDIT, FACT_AUDITS, FACT_FAILED

MODULE = StorageModule(auditors=[AUDITOR.address])
ROGUE = Account.from_key(bytes([0x52]) * 32)  # signs like an oracle, is not one
FORWARDER = PROVIDERS[6]  # any device of the network may carry audit results


@cache
def base() -> tuple[StoredFile, dict[str, Any]]:
    file = make_file(31, providers=PROVIDERS[:5])
    reports = [capacity_report(x) for x in PROVIDERS[:7]] + [deal_report(file)]
    _, _, prior = run_epoch(MODULE, context(0), reports)
    return file, prior


def targets(epoch: int = 1, auditor: str = AUDITOR.address, count: int = 16) -> list:
    _, prior = base()
    placements = decode_state(prior).placements(epoch)
    return audit_targets(context(epoch).entropy, auditor, placements, count)


def result_for(target: a.AuditTarget, outcome: int = AUDIT_PASS, **kw: Any):
    file, _ = base()
    data = pieces.chunk(file.data[(target.segment, target.share)], target.chunk)
    leaf = pieces.leaf_hash(data) if outcome == AUDIT_PASS else b""
    return make_result(
        kw.pop("auditor", AUDITOR), DOMAIN, kw.pop("epoch", 1), target, outcome, leaf
    )


def audit_report(*results, seq: int = 0):
    return signed(FORWARDER, AUDIT, AuditBatch(list(results)), 1, seq=seq, offset_ms=seq)


def reason(*reports) -> list[str]:
    verdicts = by_id(MODULE.verify(context(1, prior=base()[1]), list(reports)))
    return [verdicts[r.id].reason for r in reports]


def test_targets_are_deterministic_and_cover_placements() -> None:
    first = targets()
    assert first == targets()
    assert first != targets(epoch=2)
    assert first != targets(auditor=ROGUE.address)
    file, _ = base()
    for t in first:
        piece = next(x for x in file.terms.pieces if (x.segment, x.index) == (t.segment, t.share))
        assert t.provider == piece.provider
        assert 0 <= t.chunk < pieces.chunk_count(piece.size)
    assert audit_targets(context(1).entropy, AUDITOR.address, [], 5) == []


def test_a_planned_signed_result_counts() -> None:
    report = audit_report(result_for(targets()[0]), result_for(targets()[1], AUDIT_FAIL))
    verdict = MODULE.verify(context(1, prior=base()[1]), [report])[0]
    assert verdict.accepted and verdict.facts == {FACT_AUDITS: 2, FACT_FAILED: 1}


def test_every_audit_rejection() -> None:
    target = targets()[0]
    good = result_for(target)
    forged = msgspec.structs.replace(good, signature=ROGUE.sign_digest(keccak256(b"x")))
    assert reason(audit_report(forged)) == [a.BAD_AUDIT_SIGNATURE]
    rogue_target = targets(auditor=ROGUE.address)[0]
    assert reason(audit_report(result_for(rogue_target, auditor=ROGUE))) == [a.UNKNOWN_AUDITOR]
    assert reason(audit_report(result_for(target, epoch=2))) == [a.WRONG_AUDIT_EPOCH]
    unplanned = target._replace(chunk=(target.chunk + 1) % 3)
    if unplanned not in set(targets()):
        assert reason(audit_report(result_for(unplanned))) == [a.UNPLANNED_AUDIT]
    no_hash = make_result(AUDITOR, DOMAIN, 1, target, AUDIT_PASS, b"")
    assert reason(audit_report(no_hash)) == [a.BAD_AUDIT_OUTCOME]
    offline_hash = make_result(AUDITOR, DOMAIN, 1, target, AUDIT_OFFLINE, bytes(32))
    assert reason(audit_report(offline_hash)) == [a.BAD_AUDIT_OUTCOME]
    fail_junk = make_result(AUDITOR, DOMAIN, 1, target, AUDIT_FAIL, b"junk")
    assert reason(audit_report(fail_junk)) == [a.BAD_AUDIT_OUTCOME]
    assert reason(audit_report(good), audit_report(good, seq=1)) == ["", DUPLICATE_AUDIT]
    assert reason(audit_report(good, good)) == [DUPLICATE_AUDIT]


def test_audits_without_a_domain_or_an_auditor_set_do_not_count() -> None:
    report = audit_report(result_for(targets()[0]))
    assert StorageModule().verify(context(1, prior=base()[1]), [report])[0].reason == (
        a.UNKNOWN_AUDITOR
    )
    ctx = context(1, prior=base()[1], domain=None)
    assert MODULE.verify(ctx, [report])[0].reason == a.BAD_AUDIT_SIGNATURE


def test_failed_audits_lower_reputation_even_when_proofs_pass() -> None:
    file, prior = base()
    victim = targets()[0].provider
    failing = [t for t in targets(count=64) if t.provider == victim][:3]
    honest = [r for x in PROVIDERS[:5] for r in proof_reports(x, [file], 1)]
    results = [result_for(t, AUDIT_FAIL) for t in dict.fromkeys(failing)]
    ctx = context(1, prior=prior, parameters=params(audits_per_auditor=64))
    _, _, after = run_epoch(MODULE, ctx, [*honest, audit_report(*results)])
    state = decode_state(after)
    assert state.providers[victim].reputation.score() < 1
    assert state.providers[victim].streak == 1
    others = [x.address for x in PROVIDERS[:5] if x.address != victim]
    assert all(state.providers[o].reputation.score() == 1 for o in others)
    # a failed audit marks the piece unhealthy: its segment is queued for repair
    assert state.repair_queue and state.repair_queue[0].healthy == 4
