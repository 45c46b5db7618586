"""ComputeModule verify/score/next_prior: every reason code, slashing, refunds, priors."""

from __future__ import annotations

import random

from compute_module_kit import (
    BAD,
    CONSUMER,
    CREDITS,
    DOMAIN,
    FUEL,
    JOB,
    OTHER_OWNER,
    PROVIDERS,
    claim,
    completion,
    context,
    devices,
    dispute,
    lease_of,
    offer,
    received,
)

from depinkit.core.keys import Account, keccak256
from depinkit.networks import (
    DeviceView,
    NetworkRegistry,
    ReceivedReport,
    Verdict,
    check_output,
    run_module,
)
from depinkit.networks.compute import (
    BAD_CLAIM,
    BAD_DISPUTE,
    BAD_OFFER,
    BAD_RECEIPT,
    DISPUTE_OUTVOTED,
    DISPUTED,
    DUPLICATE_SLOT,
    INSUFFICIENT_CREDITS,
    PRICE_BELOW_MIN,
    REASONS,
    REPLAYED_RECEIPT,
    WRONG_OUTPUT,
    WRONG_PROVIDER,
    Completion,
    ComputeModule,
    module,
)
from depinkit.networks.compute.score import (
    AVAILABILITY,
    FACT_CONFIRMED,
    FACT_SLASH,
    FACT_SLASHED,
    USAGE,
)
from depinkit.networks.receipts import FACT_CREDITS, FACT_PAYER, sign_receipt

A, B, C, D, E = PROVIDERS


def by_device(verdicts: list[Verdict]) -> dict[str, Verdict]:
    return {v.device: v for v in verdicts}


def spent(verdicts: list[Verdict]) -> int:
    return sum(v.facts.get(FACT_CREDITS, 0) for v in verdicts if v.accepted)


def test_module_is_registrable_and_reasons_are_unique() -> None:
    registry = NetworkRegistry([module()])
    assert registry.module("compute").buckets == (AVAILABILITY, USAGE)
    assert len(set(REASONS)) == len(REASONS)


def test_honest_completion_is_paid_and_scored() -> None:
    ctx = context()
    reports = [completion(A, paid=70)]
    verdicts, scores = run_module(ComputeModule(), ctx, reports)
    (v,) = verdicts
    assert v.accepted
    assert v.facts[FACT_CREDITS] == 70
    assert v.facts[FACT_PAYER] == int(CONSUMER.address, 16)
    assert v.facts[FACT_CONFIRMED] == 0
    assert scores[USAGE] == {A.address: 70}


def test_wrong_output_is_slashed_and_the_consumer_refunded() -> None:
    ctx = context(prior={"reputation": {A.address: 300, B.address: 10}})
    reports = [
        completion(A, BAD, paid=50),
        completion(B, paid=50, role=1),
        completion(C, paid=50, role=2),
    ]
    verdicts, scores = run_module(ComputeModule(), ctx, reports)
    got = by_device(verdicts)
    assert not got[A.address].accepted
    assert got[A.address].reason == WRONG_OUTPUT
    assert got[A.address].facts[FACT_SLASHED] == int(A.address, 16)
    assert got[A.address].facts[FACT_SLASH] == ctx.param("slash_amount")
    assert FACT_CREDITS not in got[A.address].facts  # A's receipt spends nothing: refunded
    assert got[B.address].facts[FACT_CONFIRMED] == 1
    assert spent(verdicts) == 100
    assert USAGE in scores and A.address not in scores[USAGE]
    prior = ComputeModule().next_prior(ctx, reports, verdicts)
    assert A.address not in prior["reputation"]  # all reputation lost (loss = 100%)
    assert prior["reputation"][B.address] == 10 + 1 + 5
    assert prior["reputation"][C.address] == 1 + 5


def test_a_dispute_slashes_a_provider_that_never_reported() -> None:
    ctx = context()
    accused = claim(A, BAD)
    reports = [dispute(C, accused, claim(B), claim(C)), completion(B), completion(C)]
    verdicts, _ = run_module(ComputeModule(), ctx, reports)
    slashing = [v for v in verdicts if FACT_SLASHED in v.facts]
    assert len(slashing) == 1
    assert slashing[0].accepted and slashing[0].device == C.address
    assert slashing[0].facts[FACT_SLASHED] == int(A.address, 16)
    # a second dispute about the same fault is accepted without slashing twice
    again = dispute(D, accused, claim(B), claim(C))
    verdicts2, _ = run_module(ComputeModule(), ctx, [*reports, again])
    assert sum(FACT_SLASHED in v.facts for v in verdicts2) == 1


def test_dispute_parties_must_be_compute_devices() -> None:
    sybil = Account.from_key(b"\x66" * 32)
    stranger_witness = dispute(C, claim(A, BAD), claim(B), claim(sybil))
    stranger_accused = dispute(C, claim(sybil, BAD), claim(B), claim(C))
    verdicts, _ = run_module(ComputeModule(), context(), [stranger_witness, stranger_accused])
    assert {v.reason for v in verdicts} == {BAD_DISPUTE}
    unbonding = devices()
    unbonding[A.address] = DeviceView(owner=OTHER_OWNER, network="compute", status="unbonding")
    caught, _ = run_module(
        ComputeModule(),
        context(device_map=unbonding),
        [dispute(C, claim(A, BAD), claim(B), claim(C))],
    )
    assert caught[0].accepted and caught[0].facts[FACT_SLASHED] == int(A.address, 16)


def test_own_completion_carries_the_slash_when_both_exist() -> None:
    reports = [completion(A, BAD), dispute(C, claim(A, BAD), claim(B), claim(C))]
    verdicts, _ = run_module(ComputeModule(), context(), reports)
    slashing = [v for v in verdicts if FACT_SLASHED in v.facts]
    assert [v.device for v in slashing] == [A.address]


def test_mismatch_without_majority_pays_nobody() -> None:
    verdicts, _ = run_module(ComputeModule(), context(), [completion(A, BAD), completion(B)])
    assert {v.reason for v in verdicts} == {DISPUTED}
    assert spent(verdicts) == 0


def test_different_fuel_is_a_mismatch() -> None:
    reports = [completion(A, fuel=FUEL + 1), completion(B), completion(C)]
    verdicts, _ = run_module(ComputeModule(), context(), reports)
    assert by_device(verdicts)[A.address].reason == WRONG_OUTPUT


def test_claim_and_receipt_checks() -> None:
    stranger = Account.from_key(b"\x77" * 32)
    ctx = context()
    wrong_provider = received(A, "completion", _body(claim(B), A))
    forged_claim = claim(A)
    forged = received(
        A,
        "completion",
        _body(
            type(forged_claim)(
                forged_claim.job_id,
                forged_claim.lease,
                forged_claim.provider,
                BAD,
                forged_claim.fuel_used,
                forged_claim.signature,
            ),
            A,
        ),
    )
    other_payee = received(A, "completion", _body(claim(A), A, payee=B.address), seq=1)
    unsigned = received(A, "completion", _body(claim(A), A, signer=stranger), seq=2)
    other_lease = received(A, "completion", _body(claim(A), A, channel=lease_of(B)), seq=3)
    verdicts, _ = run_module(
        ComputeModule(), ctx, [wrong_provider, forged, other_payee, unsigned, other_lease]
    )
    reasons = {v.report_id: v.reason for v in verdicts}
    assert reasons[wrong_provider.id] == WRONG_PROVIDER
    assert reasons[forged.id] == BAD_CLAIM
    assert reasons[other_payee.id] == BAD_RECEIPT
    assert reasons[unsigned.id] == BAD_RECEIPT
    assert reasons[other_lease.id] == BAD_RECEIPT


def _body(
    c: object,
    payee_account: Account,
    *,
    payee: str | None = None,
    signer: Account = CONSUMER,
    channel: bytes | None = None,
) -> Completion:
    from depinkit.networks.compute.schemas import Claim

    assert isinstance(c, Claim)
    receipt = sign_receipt(
        signer,
        DOMAIN,
        network="compute",
        payee=payee or payee_account.address,
        channel=channel or c.lease,
        cumulative=10,
    )
    if signer is not CONSUMER:  # claim the receipt is the consumer's: a forgery
        receipt = type(receipt)(
            receipt.network,
            CONSUMER.address,
            receipt.payee,
            receipt.channel,
            receipt.cumulative,
            receipt.signature,
        )
    return Completion(claim=c, role=0, receipt=receipt)


def test_receipts_replay_across_epochs_and_credit_limits() -> None:
    first = context()
    report = completion(A, paid=40)
    verdicts, _ = run_module(ComputeModule(), first, [report])
    prior = ComputeModule().next_prior(first, [report], verdicts)
    second = context(prior=prior, credits={CONSUMER.address: CREDITS - 40})
    again, _ = run_module(ComputeModule(), second, [report])
    assert again[0].reason == REPLAYED_RECEIPT
    more, _ = run_module(ComputeModule(), second, [completion(A, paid=65, seq=1)])
    assert more[0].facts[FACT_CREDITS] == 25  # only the increase over the last receipt
    poor = context(credits={CONSUMER.address: 10})
    broke, _ = run_module(ComputeModule(), poor, [completion(A, paid=11)])
    assert broke[0].reason == INSUFFICIENT_CREDITS


def test_two_receipts_of_one_lease_in_one_epoch_pay_the_newest_once() -> None:
    reports = [completion(A, paid=30), completion(A, paid=80, seq=1)]
    verdicts, _ = run_module(ComputeModule(), context(), reports)
    assert spent(verdicts) == 80
    assert sorted(v.facts.get(FACT_CREDITS, 0) for v in verdicts) == [30, 50]


def test_dispute_checks() -> None:
    job2 = keccak256(b"job 2")
    ctx = context()
    two_jobs = dispute(C, claim(A, BAD), claim(B), claim(C, job=job2))
    repeated = dispute(C, claim(A, BAD), claim(B), claim(B))
    split = dispute(C, claim(A, BAD), claim(B), claim(C, BAD, fuel=1))
    agreeing = dispute(C, claim(A), claim(B), claim(C))
    outvoted = dispute(C, claim(A, BAD), claim(B), claim(C))
    supporters = [completion(A, BAD), completion(D, BAD), completion(E, BAD)]
    verdicts, _ = run_module(
        ComputeModule(), ctx, [two_jobs, repeated, split, agreeing, outvoted, *supporters]
    )
    reasons = {v.report_id: v.reason for v in verdicts}
    assert reasons[two_jobs.id] == BAD_DISPUTE
    assert reasons[repeated.id] == BAD_DISPUTE
    assert reasons[split.id] == BAD_DISPUTE
    assert reasons[agreeing.id] == BAD_DISPUTE
    assert reasons[outvoted.id] == DISPUTE_OUTVOTED  # three runs back the accused
    assert all(v.accepted for v in verdicts if v.device in (D.address, E.address))


def test_offers_count_one_per_slot_with_owner_decay() -> None:
    owners = {C.address: OTHER_OWNER}
    ctx = context(device_map=devices(owners), availability_decay_ppm=500_000)
    reports = [
        offer(A, slots=4, busy=1, mfuel_per_s=1_000),  # 3000 idle
        offer(A, slots=4, busy=0, offset_ms=2_000, seq=1),  # same slot: duplicate
        offer(A, slots=4, busy=0, offset_ms=11_000, seq=2),  # next slot: 4000
        offer(B, slots=2, mfuel_per_s=1_000),  # 2000, second node of OWNER: half
        offer(C, slots=2, mfuel_per_s=1_000),  # 2000, first node of another owner
        offer(D, slots=1, busy=2),
        offer(E, price=1),
    ]
    verdicts, scores = run_module(ComputeModule(), ctx, reports)
    reasons = {v.report_id: v.reason for v in verdicts}
    assert reasons[reports[1].id] == DUPLICATE_SLOT
    assert reasons[reports[5].id] == BAD_OFFER
    assert reasons[reports[6].id] == PRICE_BELOW_MIN
    assert scores[AVAILABILITY] == {A.address: 7_000, B.address: 1_000, C.address: 2_000}


def test_offer_capacity_is_capped() -> None:
    ctx = context(max_offer_mfuel_s=500)
    _, scores = run_module(ComputeModule(), ctx, [offer(A, slots=8, mfuel_per_s=10_000)])
    assert scores[AVAILABILITY] == {A.address: 500}


def test_a_slashed_provider_earns_no_availability() -> None:
    reports = [offer(A), completion(A, BAD), completion(B), completion(C)]
    _, scores = run_module(ComputeModule(), context(), reports)
    assert A.address not in scores[AVAILABILITY]


def test_order_and_repetition_do_not_matter() -> None:
    reports: list[ReceivedReport] = [
        completion(A, BAD),
        completion(B),
        completion(C),
        dispute(D, claim(A, BAD), claim(B), claim(C)),
        offer(A),
        offer(B),
        completion(D, job=keccak256(b"other"), paid=9),
        completion(E, BAD, job=keccak256(b"other"), paid=9),
    ]
    ctx = context()
    expected = run_module(ComputeModule(), ctx, reports)
    prior = ComputeModule().next_prior(ctx, reports, expected[0])
    rng = random.Random(5)
    for _ in range(5):
        shuffled = reports + rng.sample(reports, 3)
        rng.shuffle(shuffled)
        got = run_module(ComputeModule(), ctx, shuffled)
        assert got == expected
        check_output(ComputeModule(), shuffled, got[0], got[1])
        assert ComputeModule().next_prior(ctx, shuffled, got[0]) == prior


def test_prior_is_plain_canonical_data_and_corrupt_prior_is_survived() -> None:
    from depinkit.core.canonical import canonical_encode

    ctx = context()
    reports = [completion(A)]
    verdicts, _ = run_module(ComputeModule(), ctx, reports)
    prior = ComputeModule().next_prior(ctx, reports, verdicts)
    assert canonical_encode(prior)
    broken = context(prior={"receipts": {"channels": [["x"]]}, "reputation": {"bad": -1}})
    again, _ = run_module(ComputeModule(), broken, reports)
    assert again[0].accepted
    assert ComputeModule().next_prior(broken, reports, again)["reputation"] == {A.address: 1}


def test_job_constant_is_used() -> None:
    assert len(JOB) == 32
