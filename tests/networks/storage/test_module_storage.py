"""StorageModule.verify: every check's rejection with its reason code, and the happy path."""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

import msgspec
import pytest
from storage_protocol_kit import (
    AUDITOR,
    CONSUMER,
    DOMAIN,
    EPOCH_MS,
    OUTSIDER,
    PROVIDERS,
    StoredFile,
    by_id,
    capacity_report,
    context,
    deal_report,
    devices,
    make_file,
    params,
    piece_proofs,
    proof_report,
    proof_reports,
    receipt_report,
    registration,
    run_epoch,
    signed,
)

from depinkit.core.keys import Account, keccak256
from depinkit.networks import DeviceView, ReceivedReport, check_output
from depinkit.networks.receipts import FACT_CREDITS, FACT_PAYER, Receipt
from depinkit.networks.storage import (
    CAPACITY,
    DEAL,
    REASONS,
    CapacityDeclaration,
    DealRegistration,
    StorageModule,
    deal_digest,
    decode_state,
    encode_state,
)
from depinkit.networks.storage import verify as v
from depinkit.networks.storage.reputation import DISQUALIFIED, SUSPENDED
from depinkit.networks.storage.schemas import RECEIPT, ReceiptReport

MODULE = StorageModule(auditors=[AUDITOR.address])
P0, P1, P2, P3, P4, P5, P6, P7 = PROVIDERS
STRANGER = Account.from_key(bytes([0x77]) * 32)  # not in the registry


@cache
def base() -> tuple[StoredFile, dict[str, Any]]:
    """Epoch 0: P0..P5 declare capacity and file 1 is registered on P0..P4."""
    file = make_file(1)
    reports = [capacity_report(a) for a in PROVIDERS[:6]] + [deal_report(file)]
    verdicts, _, prior = run_epoch(MODULE, context(0), reports)
    assert all(x.accepted for x in verdicts)
    return file, prior


def judge(reports: list[ReceivedReport], epoch: int = 1, **ctx_kw: Any) -> list:
    ctx_kw.setdefault("prior", base()[1])
    ctx = context(epoch, **ctx_kw)
    verdicts = MODULE.verify(ctx, reports)
    check_output(MODULE, reports, verdicts, MODULE.score(ctx, verdicts))
    return verdicts


def reason(report: ReceivedReport, others: list[ReceivedReport] = (), **kw: Any) -> str:
    verdicts = by_id(judge([*others, report], **kw))
    return verdicts[report.id].reason


def with_standing(prior: dict[str, Any], provider: str, standing: str) -> dict[str, Any]:
    state = decode_state(prior)
    record = msgspec.structs.replace(state.providers[provider], standing=standing)
    providers = {**state.providers, provider: record}
    return encode_state(msgspec.structs.replace(state, providers=providers))


def new_deal(seed: int, **kw: Any) -> StoredFile:
    return make_file(seed, **kw)


# --- the happy path -----------------------------------------------------------------------


def test_honest_epoch_is_accepted_and_scored() -> None:
    file, prior = base()
    reports = [r for a in PROVIDERS[:5] for r in proof_reports(a, [file], 1)]
    reports.append(receipt_report(P0, file.deal_id, 5_000, 1))
    ctx = context(1, prior=prior)
    verdicts = MODULE.verify(ctx, reports)
    assert all(x.accepted for x in verdicts), [x.detail for x in verdicts if not x.accepted]
    scores = MODULE.score(ctx, verdicts)
    assert scores["capacity"] == {a.address: 3_072 for a in PROVIDERS[:5]}
    assert scores["usage"] == {P0.address: 5_000}
    receipt = next(x for x in verdicts if FACT_CREDITS in x.facts)
    assert receipt.facts == {FACT_CREDITS: 5_000, FACT_PAYER: int(CONSUMER.address, 16)}


def test_every_reason_code_is_documented() -> None:
    assert len(set(REASONS)) == len(REASONS)
    text = (Path(__file__).parents[3] / "docs" / "networks" / "storage.md").read_text("utf-8")
    for code in REASONS:
        assert f"`{code}`" in text, code


# --- common checks --------------------------------------------------------------------------


def test_common_checks() -> None:
    body = CapacityDeclaration(capacity_bytes=1)
    assert reason(signed(P0, CAPACITY, body, 1, network="uptime")) == "wrong_network"
    assert reason(signed(P0, "bogus", body, 1)) == "unknown_kind"
    assert reason(signed(P0, DEAL, body, 1)) == "malformed_body"
    assert reason(signed(P0, CAPACITY, body, 2, offset_ms=-EPOCH_MS)) == "wrong_epoch"
    assert reason(signed(P0, CAPACITY, body, 1, offset_ms=EPOCH_MS)) == "outside_epoch"
    assert reason(signed(STRANGER, CAPACITY, body, 1)) == "unknown_device"
    assert reason(signed(OUTSIDER, CAPACITY, body, 1)) == "network_mismatch"
    inactive = {
        **devices(),
        P0.address: DeviceView(owner=P0.address, network="storage", status="unbonding"),
    }
    assert reason(signed(P0, CAPACITY, body, 1), device_map=inactive) == "inactive_device"


# --- capacity -------------------------------------------------------------------------------


def test_a_later_declaration_supersedes_an_earlier_one() -> None:
    early, late = capacity_report(P6, 1, 100), capacity_report(P6, 1, 200, offset_ms=5)
    verdicts = by_id(judge([late, early]))
    assert verdicts[early.id].reason == v.SUPERSEDED
    assert verdicts[late.id].facts == {v.FACT_CAPACITY: 200}


def test_a_disqualified_provider_cannot_declare() -> None:
    prior = with_standing(base()[1], P5.address, DISQUALIFIED)
    assert reason(capacity_report(P5, 1), prior=prior) == v.PROVIDER_DISQUALIFIED


# --- deals ----------------------------------------------------------------------------------


def test_deal_reregistered_by_another_provider_is_accepted_and_changes_nothing() -> None:
    file, _ = base()
    report = deal_report(file, P3, 1)
    verdict = by_id(judge([report]))[report.id]
    assert verdict.accepted and verdict.facts[v.FACT_REGISTERED] == 0


def test_deal_signed_by_someone_else() -> None:
    file = new_deal(2, providers=PROVIDERS[1:6])
    forged = DealRegistration(file.terms, STRANGER.sign_digest(deal_digest(DOMAIN, file.terms)))
    assert reason(signed(P1, DEAL, forged, 1)) == v.BAD_DEAL_SIGNATURE
    # no domain at all: nothing can be checked, nothing registered
    assert reason(deal_report(file, P1, 1), domain=None) == v.BAD_DEAL_SIGNATURE


def test_deal_conflict() -> None:
    file, _ = base()
    other = msgspec.structs.replace(file.terms, duration_epochs=7)
    report = signed(P0, DEAL, registration(other), 1)
    assert reason(report) == v.DEAL_CONFLICT


def test_deal_sent_by_a_provider_outside_it() -> None:
    file = new_deal(3, providers=PROVIDERS[1:6])
    assert reason(deal_report(file, P0, 1)) == v.NOT_IN_DEAL


def test_deal_expired() -> None:
    file = new_deal(4, providers=PROVIDERS[1:6], start_epoch=0, duration_epochs=1)
    assert reason(deal_report(file, P1, 1)) == v.DEAL_EXPIRED


def test_deal_with_a_profile_not_governed() -> None:
    file = new_deal(5, providers=PROVIDERS[1:6], k=2, n=5)
    assert reason(deal_report(file, P1, 1)) == v.BAD_ERASURE_PROFILE


def test_deal_with_two_shares_on_one_provider() -> None:
    file = new_deal(6, providers=[P1, P2, P3, P4, P1])
    assert reason(deal_report(file, P1, 1)) == v.BAD_LAYOUT


def test_deal_with_missing_share() -> None:
    file = new_deal(7, providers=PROVIDERS[1:6])
    short = msgspec.structs.replace(file.terms, pieces=file.terms.pieces[:4])
    assert reason(signed(P1, DEAL, registration(short), 1)) == v.BAD_LAYOUT


def test_deal_with_an_oversized_piece() -> None:
    file = new_deal(8, providers=PROVIDERS[1:6])
    small = params(max_piece_bytes=1_000)
    assert reason(deal_report(file, P1, 1), parameters=small) == v.OVERSIZED_PIECE


def test_deal_placing_a_root_twice_on_one_provider() -> None:
    file, _ = base()
    copy = msgspec.structs.replace(file.terms, deal_id=keccak256(b"copy"))
    assert reason(signed(P0, DEAL, registration(copy), 1)) == v.DUPLICATE_ROOT


def test_deal_underpriced() -> None:
    file = new_deal(9, providers=PROVIDERS[1:6], price_gib_epoch=0)
    assert reason(deal_report(file, P1, 1)) == v.UNDERPRICED
    file = new_deal(9, providers=PROVIDERS[1:6], price_gib_egress=1)
    assert reason(deal_report(file, P1, 1)) == v.UNDERPRICED


def test_deal_naming_a_device_that_is_not_a_storage_provider() -> None:
    file = new_deal(10, providers=[P1, P2, P3, P4, OUTSIDER])
    assert reason(deal_report(file, P1, 1)) == v.BAD_PROVIDER
    file = new_deal(10, providers=[P1, P2, P3, P4, STRANGER])
    assert reason(deal_report(file, P1, 1)) == v.BAD_PROVIDER


def test_deal_naming_a_provider_in_bad_standing() -> None:
    file = new_deal(11, providers=PROVIDERS[1:6])
    prior = with_standing(base()[1], P5.address, SUSPENDED)
    assert reason(deal_report(file, P1, 1), prior=prior) == v.PROVIDER_SUSPENDED
    prior = with_standing(base()[1], P5.address, DISQUALIFIED)
    assert reason(deal_report(file, P1, 1), prior=prior) == v.PROVIDER_DISQUALIFIED


def test_deal_naming_a_provider_without_capacity() -> None:
    file = new_deal(12, providers=PROVIDERS[2:7])  # P6 never declared
    assert reason(deal_report(file, P2, 1)) == v.NO_CAPACITY
    # declaring in the same epoch is enough
    assert reason(deal_report(file, P2, 1), [capacity_report(P6, 1)]) == ""


def test_deal_above_a_providers_capacity() -> None:
    file = new_deal(13, providers=PROVIDERS[1:6])
    assert reason(deal_report(file, P1, 1), [capacity_report(P5, 1, 3_000)]) == v.OVER_CAPACITY


# --- proofs ---------------------------------------------------------------------------------


def test_piece_proven_twice() -> None:
    file, _ = base()
    first = proof_report(P0, piece_proofs(file, P0.address, 1), 1)
    second = proof_report(P0, piece_proofs(file, P0.address, 1), 1, offset_ms=1)
    verdicts = by_id(judge([first, second]))
    assert verdicts[first.id].accepted
    assert verdicts[second.id].reason == v.DUPLICATE_PROOF
    twice = proof_report(P0, piece_proofs(file, P0.address, 1) * 2, 1, offset_ms=2)
    assert reason(twice) == v.DUPLICATE_PROOF


def test_proof_of_an_unknown_piece() -> None:
    file, _ = base()
    proofs = piece_proofs(file, P0.address, 1)
    wrong_deal = msgspec.structs.replace(proofs[0], deal_id=keccak256(b"nope"))
    assert reason(proof_report(P0, [wrong_deal], 1)) == v.UNKNOWN_PIECE
    wrong_share = msgspec.structs.replace(proofs[0], segment=3)
    assert reason(proof_report(P0, [wrong_share], 1)) == v.UNKNOWN_PIECE


def test_proof_for_a_deal_not_yet_started() -> None:
    later = new_deal(14, providers=PROVIDERS[1:6], start_epoch=5)
    reports = [deal_report(later, P1, 1)]
    proof = proof_report(P1, piece_proofs(later, P1.address, 1), 1)
    assert reason(proof, reports) == v.DEAL_INACTIVE


def test_proof_of_a_piece_placed_elsewhere() -> None:
    file, _ = base()
    stolen = piece_proofs(file, P5.address, 1, pieces_held=file.held_by(P0.address))
    assert reason(proof_report(P5, stolen, 1)) == v.NOT_PROVIDER


def test_proof_for_another_epochs_challenge() -> None:
    file, _ = base()
    stale = piece_proofs(file, P0.address, 2, count=2)
    assert reason(proof_report(P0, stale, 1)) == "wrong_challenge"


def test_proof_with_a_tampered_chunk() -> None:
    file, _ = base()
    proof = piece_proofs(file, P0.address, 1)[0]
    chunk = proof.chunks[0]
    bad = msgspec.structs.replace(chunk, data=bytes([chunk.data[0] ^ 1]) + chunk.data[1:])
    tampered = msgspec.structs.replace(proof, chunks=[bad, *proof.chunks[1:]])
    assert reason(proof_report(P0, [tampered], 1)) == "bad_proof"


def test_proof_from_a_disqualified_provider() -> None:
    file, prior = base()
    prior = with_standing(prior, P0.address, DISQUALIFIED)
    assert reason(proof_reports(P0, [file], 1)[0], prior=prior) == v.PROVIDER_DISQUALIFIED


def test_suspended_provider_proves_but_earns_no_capacity() -> None:
    file, prior = base()
    prior = with_standing(prior, P0.address, SUSPENDED)
    report = proof_reports(P0, [file], 1)[0]
    ctx = context(1, prior=prior)
    verdicts = MODULE.verify(ctx, [report])
    assert verdicts[0].accepted and verdicts[0].facts[v.FACT_SUSPENDED] == 1
    assert MODULE.score(ctx, verdicts)["capacity"] == {}


# --- receipts -------------------------------------------------------------------------------


def proven(file: StoredFile, *accounts: Account) -> list[ReceivedReport]:
    return [r for a in accounts for r in proof_reports(a, [file], 1)]


def test_receipt_with_a_forged_signature() -> None:
    file, _ = base()
    good = receipt_report(P0, file.deal_id, 100, 1).report
    receipt = msgspec.structs.replace(
        _receipt(good), signature=STRANGER.sign_digest(keccak256(b"x"))
    )
    report = signed(P0, RECEIPT, ReceiptReport(receipt), 1)
    assert reason(report, proven(file, P0)) == v.BAD_RECEIPT


def _receipt(report) -> Receipt:
    from depinkit.core.envelope import decode_body

    return decode_body(report, ReceiptReport).receipt


def test_receipt_of_another_network_or_payee_or_channel() -> None:
    file, _ = base()
    others = proven(file, P0)
    assert reason(receipt_report(P0, file.deal_id, 1, 1, network="compute"), others) == (
        v.WRONG_RECEIPT_NETWORK
    )
    assert reason(receipt_report(P0, file.deal_id, 1, 1, payee=P1.address), others) == v.WRONG_PAYEE
    assert reason(receipt_report(P0, keccak256(b"?"), 1, 1), others) == v.UNKNOWN_CHANNEL
    assert reason(receipt_report(P5, file.deal_id, 1, 1), others) == v.UNKNOWN_CHANNEL


def test_receipt_of_a_provider_that_missed_its_proof() -> None:
    file, _ = base()
    assert reason(receipt_report(P0, file.deal_id, 100, 1)) == v.UNPROVEN_DEAL


def test_receipt_of_a_provider_in_bad_standing() -> None:
    file, prior = base()
    for standing, code in (
        (SUSPENDED, v.PROVIDER_SUSPENDED),
        (DISQUALIFIED, v.PROVIDER_DISQUALIFIED),
    ):
        bad = with_standing(prior, P0.address, standing)
        assert reason(receipt_report(P0, file.deal_id, 100, 1), prior=bad) == code


def test_receipt_replayed_or_above_credits() -> None:
    file, _ = base()
    first = receipt_report(P0, file.deal_id, 100, 1)
    replay = receipt_report(P0, file.deal_id, 100, 1, offset_ms=1)
    lower = receipt_report(P0, file.deal_id, 50, 1, offset_ms=2)
    verdicts = by_id(judge([first, replay, lower, *proven(file, P0)]))
    # a channel's receipts apply in ascending order: 50, then 100 (+50), then 100 again
    assert verdicts[lower.id].facts[FACT_CREDITS] == 50
    assert verdicts[first.id].facts[FACT_CREDITS] == 50
    assert verdicts[replay.id].reason == v.REPLAYED_RECEIPT
    assert sum(x.facts.get(FACT_CREDITS, 0) for x in verdicts.values()) == 100
    poor = receipt_report(P0, file.deal_id, 101, 1)
    assert reason(poor, proven(file, P0), credits={CONSUMER.address: 100}) == v.INSUFFICIENT_CREDITS


def test_receipts_carry_over_epochs_so_nothing_is_paid_twice() -> None:
    file, prior = base()
    reports = [*proven(file, *PROVIDERS[:5]), receipt_report(P0, file.deal_id, 100, 1)]
    _, _, prior2 = run_epoch(MODULE, context(1, prior=prior), reports)
    again = proof_reports(P0, [file], 2)
    old = receipt_report(P0, file.deal_id, 100, 2)
    newer = receipt_report(P0, file.deal_id, 250, 2)
    verdicts = by_id(MODULE.verify(context(2, prior=prior2), [*again, old, newer]))
    assert verdicts[old.id].reason == v.REPLAYED_RECEIPT
    assert verdicts[newer.id].facts[FACT_CREDITS] == 150


@pytest.mark.parametrize("epoch_offset", [0, 1])
def test_verify_is_total_on_an_empty_epoch(epoch_offset: int) -> None:
    assert MODULE.verify(context(1 + epoch_offset, prior=base()[1]), []) == []


# --- wiring ---------------------------------------------------------------------------------


def test_the_module_registers_and_exposes_what_oracles_and_clients_read() -> None:
    from depinkit.networks import NetworkRegistry
    from depinkit.networks.storage import audit_plan, provider_directory

    registry = NetworkRegistry([StorageModule()])
    assert registry.module("storage").buckets == ("capacity", "usage", "repair")
    file, prior = base()
    directory = provider_directory(prior)
    assert sorted(directory) == sorted(a.address for a in PROVIDERS[:6])
    assert directory[P0.address].url == "http://127.0.0.1:1"
    plan = audit_plan(context(1, prior=prior), AUDITOR.address)
    assert len(plan) == params()["audits_per_auditor"]
    assert {t.deal_id for t in plan} == {file.deal_id}


def test_next_prior_is_plain_canonical_data_and_reads_back() -> None:
    from depinkit.core.canonical import canonical_encode

    _, prior = base()
    assert canonical_encode(prior)  # the pipeline stores it canonically
    assert decode_state(prior) == decode_state(encode_state(decode_state(prior)))


def test_receipts_may_pay_on_the_file_id_channel() -> None:
    file, _ = base()
    assert file.terms.file_id != file.deal_id
    report = receipt_report(P0, file.terms.file_id, 70, 1)
    verdict = by_id(judge([report, *proven(file, P0)]))[report.id]
    assert verdict.accepted and verdict.facts[FACT_CREDITS] == 70
    assert reason(receipt_report(P0, file.terms.file_id, 70, 1)) == v.UNPROVEN_DEAL


def test_a_disqualified_provider_that_keeps_failing_is_still_slashed() -> None:
    file, prior = base()
    # from the default record (alpha = 100 events) at lambda 0.5: 0.98, 0.94, 0.88, 0.77, ...
    harsh = params(
        reputation_lambda_ppm=500_000, disqualification_ppm=800_000, slash_after_epochs=5
    )
    standings, slashed = [], []
    for epoch in range(1, 7):
        reports = [r for a in (P0, P1, P3, P4) for r in proof_reports(a, [file], epoch)]
        _, _, prior = run_epoch(MODULE, context(epoch, prior=prior, parameters=harsh), reports)
        state = decode_state(prior)
        standings.append(state.providers[P2.address].standing)
        slashed += [(epoch, s.provider, s.failed_epochs) for s in state.slashings]
    assert standings == ["good", "good", SUSPENDED] + [DISQUALIFIED] * 3
    assert slashed == [(5, P2.address, 5)]  # disqualified first, slashed all the same
