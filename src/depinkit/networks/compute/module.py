"""The compute network as a :class:`~depinkit.networks.module.NetworkModule`.

docs/networks/compute.md, "Checks". ``verify`` judges offers, completions and disputes;
``score`` turns the verdicts into usage and availability points; ``next_prior`` carries
reputation and the receipt book (last cumulative per lease) to the next epoch.

Money: a completion's receipt spends the consumer's credits (verdict facts ``credits``
and ``payer``) only when its result was not proven wrong. The wrong provider's receipt
spends nothing, so the consumer keeps (is refunded) what it reserved for that run, and one
verdict per wrong (job, provider) carries the slashing facts ``slashed`` and ``slash``:
the oracles' signed manifest is the slashing verdict.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from types import MappingProxyType
from typing import Any, Final

import msgspec

from depinkit.core.envelope import decode_body
from depinkit.core.errors import DecodeError
from depinkit.core.keys import to_checksum
from depinkit.networks.checks import distinct_by_id, precheck
from depinkit.networks.compute.parameters import (
    AVAILABILITY_SLOT_S,
    MAX_OFFER_MFUEL_S,
    MIN_PRICE_PER_MFUEL,
    PARAMETERS,
    SLASH_AMOUNT,
)
from depinkit.networks.compute.reputation import next_reputations, reputations
from depinkit.networks.compute.schemas import (
    COMPLETION,
    DISPUTE,
    OFFER,
    Claim,
    ClaimError,
    Completion,
    Dispute,
    Offer,
    verify_claim,
)
from depinkit.networks.compute.score import (
    BUCKETS,
    FACT_CAPACITY,
    FACT_CONFIRMED,
    FACT_FUEL,
    FACT_ROLE,
    FACT_SLASH,
    FACT_SLASHED,
    FACT_SLOT,
    score_compute,
)
from depinkit.networks.compute.verification import DECIDED, UNDECIDED, Outcome, outcomes
from depinkit.networks.context import DEVICE_ACTIVE, EpochContext
from depinkit.networks.module import (
    COMMON_REASONS,
    MAX_DETAIL_CHARS,
    NetworkModule,
    ReceivedReport,
    Scores,
    Verdict,
    accept,
    reject,
)
from depinkit.networks.receipts import (
    FACT_CREDITS,
    FACT_PAYER,
    InsufficientCredits,
    ReceiptBook,
    ReceiptError,
    ReplayedReceipt,
    verify_receipt,
)

NAME: Final[str] = "compute"
MS_PER_S: Final[int] = 1_000
KINDS: Final[Mapping[str, type[msgspec.Struct]]] = MappingProxyType(
    {COMPLETION: Completion, DISPUTE: Dispute, OFFER: Offer}
)

# Reason codes of this network (beyond the common ones), in the order the checks run.
BAD_OFFER: Final[str] = "bad_offer"  # more busy slots than slots
PRICE_BELOW_MIN: Final[str] = "price_below_min"  # offer priced under min_price_per_mfuel
DUPLICATE_SLOT: Final[str] = "duplicate_slot"  # the availability slot is already counted
WRONG_PROVIDER: Final[str] = "wrong_provider"  # the claim names another provider
BAD_CLAIM: Final[str] = "bad_claim"  # a result claim not signed by its provider
BAD_RECEIPT: Final[str] = "bad_receipt"  # receipt unsigned, for another network/payee/lease
WRONG_OUTPUT: Final[str] = "wrong_output"  # re-runs proved the result wrong: slashed
DISPUTED: Final[str] = "disputed"  # runs disagree with no majority yet: nothing paid
REPLAYED_RECEIPT: Final[str] = "replayed_receipt"  # pays nothing beyond the lease's last
INSUFFICIENT_CREDITS: Final[str] = "insufficient_credits"  # the consumer cannot pay it
BAD_DISPUTE: Final[str] = "bad_dispute"  # claims for several jobs, repeated or agreeing
DISPUTE_OUTVOTED: Final[str] = "dispute_outvoted"  # the epoch's claims do not convict
REASONS: Final[tuple[str, ...]] = (
    *COMMON_REASONS,
    BAD_OFFER,
    PRICE_BELOW_MIN,
    DUPLICATE_SLOT,
    WRONG_PROVIDER,
    BAD_CLAIM,
    BAD_RECEIPT,
    WRONG_OUTPUT,
    DISPUTED,
    REPLAYED_RECEIPT,
    INSUFFICIENT_CREDITS,
    BAD_DISPUTE,
    DISPUTE_OUTVOTED,
)

PRIOR_REPUTATION: Final[str] = "reputation"  # prior key: {address: points}
PRIOR_RECEIPTS: Final[str] = "receipts"  # prior key: ReceiptBook.state()


def _address_int(address: str) -> int:
    return int(address, 16)


def _check_offer(ctx: EpochContext, item: ReceivedReport, offer: Offer) -> Verdict | int:
    """A rejection, or the idle capacity the offer counts for (million fuel per second)."""
    if offer.busy > offer.slots:
        return reject(item, BAD_OFFER, f"{offer.busy} busy slots of {offer.slots}")
    if offer.price_per_mfuel < ctx.param(MIN_PRICE_PER_MFUEL):
        return reject(
            item,
            PRICE_BELOW_MIN,
            f"price {offer.price_per_mfuel} under {ctx.param(MIN_PRICE_PER_MFUEL)} per mfuel",
        )
    idle = (offer.slots - offer.busy) * offer.mfuel_per_s
    return min(idle, ctx.param(MAX_OFFER_MFUEL_S))


def _check_completion(
    ctx: EpochContext, item: ReceivedReport, completion: Completion
) -> Verdict | None:
    device = item.report.device
    claim, receipt = completion.claim, completion.receipt
    if claim.provider != device:
        return reject(item, WRONG_PROVIDER, f"claim is by {claim.provider}, report by {device}")
    try:
        verify_claim(ctx.domain, claim)
    except ClaimError as exc:
        return reject(item, BAD_CLAIM, str(exc))
    try:
        verify_receipt(ctx.domain, receipt)
    except ReceiptError as exc:
        return reject(item, BAD_RECEIPT, str(exc))
    if receipt.network != ctx.network or receipt.payee != device or receipt.channel != claim.lease:
        return reject(
            item, BAD_RECEIPT, "receipt is for another network, payee or lease than the claim"
        )
    return None


def _check_dispute(ctx: EpochContext, item: ReceivedReport, dispute: Dispute) -> Verdict | None:
    claims = (dispute.accused, *dispute.witnesses)
    for claim in claims:
        try:
            verify_claim(ctx.domain, claim)
        except ClaimError as exc:
            return reject(item, BAD_CLAIM, str(exc))
    accused = ctx.devices.get(dispute.accused.provider)
    if accused is None or accused.network != ctx.network:
        return reject(item, BAD_DISPUTE, "the accused is not a registered compute device")
    for witness in dispute.witnesses:
        device = ctx.devices.get(witness.provider)
        if device is None or device.network != ctx.network or device.status != DEVICE_ACTIVE:
            return reject(
                item, BAD_DISPUTE, f"witness {witness.provider} is not an active compute device"
            )
    if len({c.job_id for c in claims}) != 1:
        return reject(item, BAD_DISPUTE, "claims are for more than one job")
    if len({c.provider for c in claims}) != len(claims):
        return reject(item, BAD_DISPUTE, "a provider appears twice")
    if len({c.key() for c in dispute.witnesses}) != 1:
        return reject(item, BAD_DISPUTE, "the witnesses disagree with each other")
    if dispute.accused.key() == dispute.witnesses[0].key():
        return reject(item, BAD_DISPUTE, "the accused agrees with the witnesses")
    return None


def _slash_verdict(ctx: EpochContext, item: ReceivedReport, accused: str, job: bytes) -> Verdict:
    """The slashing verdict: on the accused's own completion (rejected) or on a dispute
    (accepted); either way it names the provider and the stake it forfeits."""
    own = item.report.device == accused
    facts = {FACT_SLASH: ctx.param(SLASH_AMOUNT), FACT_SLASHED: _address_int(accused)}
    detail = f"result of job {job.hex()} by {accused} outvoted by re-runs: slashed"
    return Verdict(
        item.id,
        item.report.device,
        not own,
        WRONG_OUTPUT if own else "",
        detail[:MAX_DETAIL_CHARS],
        dict(sorted(facts.items())),
    )


def verify_compute(ctx: EpochContext, reports: Sequence[ReceivedReport]) -> list[Verdict]:
    """One verdict per distinct report id, sorted by id, whatever the input order."""
    verdicts: dict[bytes, Verdict] = {}
    offers: list[tuple[str, int, int, bytes, ReceivedReport, int]] = []
    completions: list[tuple[ReceivedReport, Completion]] = []
    disputes: list[tuple[ReceivedReport, Dispute]] = []
    slot_ms = ctx.param(AVAILABILITY_SLOT_S) * MS_PER_S
    for item in distinct_by_id(reports):
        checked = precheck(ctx, item, KINDS)
        if isinstance(checked, Verdict):
            verdicts[item.id] = checked
        elif isinstance(checked, Offer):
            capacity = _check_offer(ctx, item, checked)
            if isinstance(capacity, Verdict):
                verdicts[item.id] = capacity
            else:
                ts = item.report.timestamp_ms
                slot = (ts - ctx.start_ms) // slot_ms
                offers.append((item.report.device, slot, ts, item.id, item, capacity))
        elif isinstance(checked, Completion):
            rejected = _check_completion(ctx, item, checked)
            if rejected is not None:
                verdicts[item.id] = rejected
            else:
                completions.append((item, checked))
        elif isinstance(checked, Dispute):
            rejected = _check_dispute(ctx, item, checked)
            if rejected is not None:
                verdicts[item.id] = rejected
            else:
                disputes.append((item, checked))

    verdicts.update(_judge_offers(offers))
    claims: list[Claim] = [c.claim for _, c in completions]
    for _, dispute in disputes:
        claims.extend((dispute.accused, *dispute.witnesses))
    decided = outcomes(claims)
    carriers = _slash_carriers(decided, completions, disputes)
    verdicts.update(_judge_disputes(ctx, decided, disputes, carriers))
    verdicts.update(_judge_completions(ctx, decided, completions, carriers))
    return [verdicts[rid] for rid in sorted(verdicts)]


def _judge_offers(
    offers: list[tuple[str, int, int, bytes, ReceivedReport, int]],
) -> dict[bytes, Verdict]:
    out: dict[bytes, Verdict] = {}
    counted: dict[tuple[str, int], bytes] = {}
    for device, slot, _, rid, item, capacity in sorted(offers, key=lambda o: o[:4]):
        first = counted.setdefault((device, slot), rid)
        if first == rid:
            out[rid] = accept(item, **{FACT_SLOT: slot, FACT_CAPACITY: capacity})
        else:
            out[rid] = reject(item, DUPLICATE_SLOT, f"slot {slot} already counted")
    return out


def _slash_carriers(
    decided: Mapping[bytes, Outcome],
    completions: Sequence[tuple[ReceivedReport, Completion]],
    disputes: Sequence[tuple[ReceivedReport, Dispute]],
) -> dict[bytes, tuple[str, bytes]]:
    """Report id -> (accused, job) for the one report that carries each slashing: the wrong
    provider's own completion with the lowest id, else the dispute with the lowest id."""
    chosen: dict[tuple[str, bytes], bytes] = {}
    for item, completion in completions:  # already in id order
        job = completion.claim.job_id
        if item.report.device in decided[job].wrong:
            chosen.setdefault((item.report.device, job), item.id)
    for item, dispute in disputes:
        job = dispute.accused.job_id
        if dispute.accused.provider in decided[job].wrong:
            chosen.setdefault((dispute.accused.provider, job), item.id)
    return {rid: key for key, rid in chosen.items()}


def _judge_disputes(
    ctx: EpochContext,
    decided: Mapping[bytes, Outcome],
    disputes: Sequence[tuple[ReceivedReport, Dispute]],
    carriers: Mapping[bytes, tuple[str, bytes]],
) -> dict[bytes, Verdict]:
    out: dict[bytes, Verdict] = {}
    for item, dispute in disputes:
        job, accused = dispute.accused.job_id, dispute.accused.provider
        if accused not in decided[job].wrong:
            out[item.id] = reject(
                item, DISPUTE_OUTVOTED, f"the epoch's claims for job {job.hex()} do not convict"
            )
        elif item.id in carriers:
            out[item.id] = _slash_verdict(ctx, item, accused, job)
        else:  # the slashing is carried by another report: this one adds nothing
            out[item.id] = accept(item)
    return out


def _judge_completions(
    ctx: EpochContext,
    decided: Mapping[bytes, Outcome],
    completions: Sequence[tuple[ReceivedReport, Completion]],
    carriers: Mapping[bytes, tuple[str, bytes]],
) -> dict[bytes, Verdict]:
    out: dict[bytes, Verdict] = {}
    payable: list[tuple[ReceivedReport, Completion, Outcome]] = []
    for item, completion in completions:
        outcome = decided[completion.claim.job_id]
        device = item.report.device
        if device in outcome.wrong:
            if item.id in carriers:
                out[item.id] = _slash_verdict(ctx, item, device, completion.claim.job_id)
            else:
                out[item.id] = reject(item, WRONG_OUTPUT, "result outvoted by re-runs")
        elif outcome.status == UNDECIDED:
            out[item.id] = reject(item, DISPUTED, "runs of this job disagree; a tiebreak decides")
        else:
            payable.append((item, completion, outcome))
    book = _receipt_book(ctx)
    # Receipts of one lease apply in cumulative order, so an older one is the replay.
    ordered = sorted(
        payable,
        key=lambda p: (p[1].receipt.channel, p[1].receipt.cumulative, p[0].id),
    )
    for item, completion, outcome in ordered:
        receipt = completion.receipt
        try:
            spent = book.apply(receipt)
        except ReplayedReceipt as exc:
            out[item.id] = reject(item, REPLAYED_RECEIPT, str(exc))
            continue
        except InsufficientCredits as exc:
            out[item.id] = reject(item, INSUFFICIENT_CREDITS, str(exc))
            continue
        confirmed = int(outcome.confirmed or outcome.status == DECIDED)
        out[item.id] = accept(
            item,
            **{
                FACT_CREDITS: spent,
                FACT_PAYER: _address_int(receipt.consumer),
                FACT_FUEL: completion.claim.fuel_used,
                FACT_ROLE: completion.role,
                FACT_CONFIRMED: confirmed,
            },
        )
    return out


def _receipt_book(ctx: EpochContext) -> ReceiptBook:
    state = ctx.prior.get(PRIOR_RECEIPTS, {})
    try:
        return ReceiptBook.from_state(state if isinstance(state, Mapping) else {}, ctx.credits)
    except ReceiptError:  # a corrupt prior cannot stop the epoch: start the book afresh
        return ReceiptBook(ctx.credits)


def next_prior_compute(
    ctx: EpochContext, reports: Sequence[ReceivedReport], verdicts: Sequence[Verdict]
) -> dict[str, Any]:
    """Reputation after this epoch and the receipt book with its accepted receipts applied."""
    by_id = {item.id: item for item in reports}
    book = _receipt_book(ctx)
    paid: dict[str, int] = {}
    confirmed: dict[str, int] = {}
    faults: dict[str, int] = {}
    accepted_receipts = []
    for v in sorted(verdicts, key=lambda v: v.report_id):
        if FACT_SLASHED in v.facts:
            address = _checksum_of_int(v.facts[FACT_SLASHED])
            faults[address] = faults.get(address, 0) + 1
        if v.accepted and FACT_CREDITS in v.facts and v.report_id in by_id:
            paid[v.device] = paid.get(v.device, 0) + 1
            confirmed[v.device] = confirmed.get(v.device, 0) + v.facts.get(FACT_CONFIRMED, 0)
            try:
                body = decode_body(by_id[v.report_id].report, Completion)
            except DecodeError:
                continue
            accepted_receipts.append(body.receipt)
    for receipt in sorted(accepted_receipts, key=lambda r: (r.channel, r.cumulative)):
        try:
            book.apply(receipt)
        except ReceiptError:
            continue
    table = next_reputations(ctx.parameters, reputations(ctx.prior), paid, confirmed, faults)
    return {PRIOR_RECEIPTS: book.state(), PRIOR_REPUTATION: table}


def _checksum_of_int(value: int) -> str:
    return to_checksum("0x" + value.to_bytes(20, "big").hex())


class ComputeModule(NetworkModule):
    """WebAssembly jobs on providers' machines, priced by auction, verified by re-runs.

    The provider side (sandbox and HTTP service) lives in ``provider*.py``/``sandbox*.py``;
    the consumer side in :mod:`depinkit.networks.compute.client`.
    """

    name = NAME
    kinds = KINDS
    buckets = BUCKETS
    parameters = PARAMETERS

    def verify(self, ctx: EpochContext, reports: Sequence[ReceivedReport]) -> list[Verdict]:
        return verify_compute(ctx, reports)

    def score(self, ctx: EpochContext, verdicts: Sequence[Verdict]) -> Scores:
        return score_compute(ctx, verdicts)

    def next_prior(
        self, ctx: EpochContext, reports: Sequence[ReceivedReport], verdicts: Sequence[Verdict]
    ) -> dict[str, Any]:
        return next_prior_compute(ctx, reports, verdicts)
