"""Verification of storage reports (docs/networks/storage.md, "Checks").

:func:`evaluate` judges one epoch's reports against the state carried from earlier epochs
and returns the verdicts together with what they established (deals registered, pieces
proven, audit outcomes, receipts applied, repairs claimed); ``verify``, ``score`` and
``next_prior`` all read from it, so the three can never disagree. Kinds are judged in a
fixed order because later checks read earlier results: capacity declarations, deals,
proofs, audits, repair claims, receipts. Within a kind reports are taken in a fixed order
too (stated at each step), so the result does not depend on the order of arrival.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Final

import msgspec

from depinkit.core.errors import InvalidSignature
from depinkit.core.keys import recover_address
from depinkit.networks.checks import distinct_by_id, precheck
from depinkit.networks.context import DEVICE_ACTIVE, EpochContext
from depinkit.networks.module import COMMON_REASONS, ReceivedReport, Verdict, accept, reject
from depinkit.networks.receipts import (
    FACT_CREDITS,
    FACT_PAYER,
    InsufficientCredits,
    Receipt,
    ReceiptBook,
    ReceiptError,
    ReplayedReceipt,
    verify_receipt,
)
from depinkit.networks.storage import audit as audits
from depinkit.networks.storage import parameters as p
from depinkit.networks.storage.proofs import BAD_PROOF, WRONG_CHALLENGE, check_piece_proof
from depinkit.networks.storage.reputation import DISQUALIFIED, GOOD, SUSPENDED
from depinkit.networks.storage.schemas import (
    AUDIT,
    AUDIT_PASS,
    CAPACITY,
    DEAL,
    KINDS,
    PROOF,
    RECEIPT,
    REPAIR,
    AuditBatch,
    CapacityDeclaration,
    DealRegistration,
    DealTerms,
    ReceiptReport,
    RepairClaim,
    StorageProof,
    deal_digest,
)
from depinkit.networks.storage.state import (
    DealRecord,
    PieceKey,
    RepairNeed,
    StorageState,
    decode_state,
)

# Reason codes of this network, beyond the common ones (docs/networks/storage.md, "Checks").
SUPERSEDED: Final[str] = "superseded"  # a later capacity declaration of the device counts
PROVIDER_DISQUALIFIED: Final[str] = "provider_disqualified"  # a provider disqualified for good
PROVIDER_SUSPENDED: Final[str] = "provider_suspended"  # a provider suspended for now
BAD_DEAL_SIGNATURE: Final[str] = "bad_deal_signature"  # not signed by the deal's consumer
DEAL_CONFLICT: Final[str] = "deal_conflict"  # the deal id is registered with other terms
NOT_IN_DEAL: Final[str] = "not_in_deal"  # the sender holds no piece of the deal
DEAL_EXPIRED: Final[str] = "deal_expired"  # the deal ends before this epoch
BAD_ERASURE_PROFILE: Final[str] = "bad_erasure_profile"  # (k, n) is not a governed profile
BAD_LAYOUT: Final[str] = "bad_layout"  # segments are not n shares 0..n-1 on distinct providers
OVERSIZED_PIECE: Final[str] = "oversized_piece"  # a piece above max_piece_bytes
DUPLICATE_ROOT: Final[str] = "duplicate_root"  # a provider would hold one root twice
UNDERPRICED: Final[str] = "underpriced"  # a price below the governed price
BAD_PROVIDER: Final[str] = "bad_provider"  # a provider is not an active storage device
NO_CAPACITY: Final[str] = "no_capacity"  # a provider never declared capacity
OVER_CAPACITY: Final[str] = "over_capacity"  # a provider's pieces would exceed its capacity
DUPLICATE_PROOF: Final[str] = "duplicate_proof"  # a piece proven twice this epoch
UNKNOWN_PIECE: Final[str] = "unknown_piece"  # no registered deal has that piece
DEAL_INACTIVE: Final[str] = "deal_inactive"  # the piece's deal does not cover this epoch
NOT_PROVIDER: Final[str] = "not_provider"  # the piece is placed on another provider
DUPLICATE_AUDIT: Final[str] = "duplicate_audit"  # that audit result already counted
NOT_IN_REPAIR: Final[str] = "not_in_repair"  # that share of that segment awaits no repair
DUPLICATE_PROVIDER: Final[str] = "duplicate_provider"  # claimant already holds a share of it
ALREADY_CLAIMED: Final[str] = "already_claimed"  # another claim for that share came first
BAD_RECEIPT: Final[str] = "bad_receipt"  # malformed or wrongly signed receipt
WRONG_RECEIPT_NETWORK: Final[str] = "wrong_receipt_network"  # a receipt of another network
WRONG_PAYEE: Final[str] = "wrong_payee"  # a receipt paying another device
UNKNOWN_CHANNEL: Final[str] = "unknown_channel"  # no deal of that consumer with this provider
UNPROVEN_DEAL: Final[str] = "unproven_deal"  # the provider failed a proof of that deal
REPLAYED_RECEIPT: Final[str] = "replayed_receipt"  # pays nothing beyond the last receipt
INSUFFICIENT_CREDITS: Final[str] = "insufficient_credits"  # above the consumer's credits

REASONS: Final[tuple[str, ...]] = (
    *COMMON_REASONS,
    SUPERSEDED,
    PROVIDER_DISQUALIFIED,
    PROVIDER_SUSPENDED,
    BAD_DEAL_SIGNATURE,
    DEAL_CONFLICT,
    NOT_IN_DEAL,
    DEAL_EXPIRED,
    BAD_ERASURE_PROFILE,
    BAD_LAYOUT,
    OVERSIZED_PIECE,
    DUPLICATE_ROOT,
    UNDERPRICED,
    BAD_PROVIDER,
    NO_CAPACITY,
    OVER_CAPACITY,
    DUPLICATE_PROOF,
    UNKNOWN_PIECE,
    DEAL_INACTIVE,
    NOT_PROVIDER,
    WRONG_CHALLENGE,
    BAD_PROOF,
    audits.BAD_AUDIT_SIGNATURE,
    audits.UNKNOWN_AUDITOR,
    audits.WRONG_AUDIT_EPOCH,
    audits.UNPLANNED_AUDIT,
    audits.BAD_AUDIT_OUTCOME,
    DUPLICATE_AUDIT,
    NOT_IN_REPAIR,
    DUPLICATE_PROVIDER,
    ALREADY_CLAIMED,
    BAD_RECEIPT,
    WRONG_RECEIPT_NETWORK,
    WRONG_PAYEE,
    UNKNOWN_CHANNEL,
    UNPROVEN_DEAL,
    REPLAYED_RECEIPT,
    INSUFFICIENT_CREDITS,
)

# Verdict facts (integers) that score and the pipeline read.
FACT_CAPACITY: Final[str] = "capacity_bytes"  # capacity: bytes declared
FACT_REGISTERED: Final[str] = "registered"  # deal: 1 when this report registered it
FACT_DEAL_BYTES: Final[str] = "deal_bytes"  # deal: bytes in the deal
FACT_PROVEN_BYTES: Final[str] = "proven_bytes"  # proof: bytes of the pieces proven
FACT_CLAIMED_BYTES: Final[str] = "claimed_bytes"  # repair: bytes of the claimed piece
FACT_PIECES: Final[str] = "pieces"  # deal, proof: pieces
FACT_REPAIR_BYTES: Final[str] = "repair_bytes"  # proof: bytes of repaired pieces first proven
FACT_SUSPENDED: Final[str] = "suspended"  # proof: 1 when the provider is suspended (no points)
FACT_AUDITS: Final[str] = "audits"  # audit: results counted
FACT_FAILED: Final[str] = "failed"  # audit: results that were not a pass
FACT_SEGMENT: Final[str] = "segment"  # repair: the segment
FACT_INDEX: Final[str] = "index"  # repair: the share


@dataclass
class Outcome:
    """One epoch's verdicts and what they established (input to score and next_prior)."""

    state: StorageState
    verdicts: dict[bytes, Verdict] = field(default_factory=dict)
    declarations: dict[str, CapacityDeclaration] = field(default_factory=dict)
    deals: dict[bytes, DealRecord] = field(default_factory=dict)  # prior and new, by id
    new_deals: set[bytes] = field(default_factory=set)
    proven: dict[PieceKey, str] = field(default_factory=dict)  # piece -> provider that proved it
    audit_events: list[tuple[str, PieceKey, bool]] = field(default_factory=list)  # sorted
    claims: dict[PieceKey, str] = field(default_factory=dict)  # repaired piece -> new provider
    book: ReceiptBook = field(default_factory=ReceiptBook)

    def expected(self, epoch: int) -> dict[PieceKey, str]:
        """Pieces that had to be proven this epoch: deals in the prior state active now."""
        return {
            (pl.deal_id, pl.piece.segment, pl.piece.index): pl.piece.provider
            for pl in self.state.placements(epoch)
        }


def standing_of(state: StorageState, provider: str) -> str:
    record = state.providers.get(provider)
    return record.standing if record is not None else GOOD


def _provider_reject(state: StorageState, provider: str) -> tuple[str, str] | None:
    standing = standing_of(state, provider)
    if standing == DISQUALIFIED:
        return PROVIDER_DISQUALIFIED, f"{provider} is disqualified"
    if standing == SUSPENDED:
        return PROVIDER_SUSPENDED, f"{provider} is suspended"
    return None


def _by_time(items: Iterable[tuple[ReceivedReport, msgspec.Struct]]) -> list:
    return sorted(items, key=lambda t: (t[0].report.timestamp_ms, t[0].id))


def evaluate(
    ctx: EpochContext, reports: Sequence[ReceivedReport], auditors: Iterable[str] = ()
) -> Outcome:
    """Judge every distinct report of the epoch (pure; see the module docstring)."""
    out = Outcome(state=decode_state(ctx.prior))
    out.deals = out.state.deal_map()
    by_kind: dict[str, list[tuple[ReceivedReport, msgspec.Struct]]] = {k: [] for k in KINDS}
    for item in distinct_by_id(reports):
        body = precheck(ctx, item, KINDS)
        if isinstance(body, Verdict):
            out.verdicts[item.id] = body
        else:
            by_kind[item.report.kind].append((item, body))
    _capacity(ctx, out, by_kind[CAPACITY])
    _deals(ctx, out, by_kind[DEAL])
    _proofs(ctx, out, by_kind[PROOF])
    _audits(ctx, out, by_kind[AUDIT], sorted(set(auditors)))
    _repairs(ctx, out, by_kind[REPAIR])
    _receipts(ctx, out, by_kind[RECEIPT])
    return out


def _capacity(ctx: EpochContext, out: Outcome, items: list) -> None:
    """Per device, its latest declaration (by timestamp, then id) counts."""
    latest: dict[str, ReceivedReport] = {}
    for item, body in _by_time(items):
        device = item.report.device
        if standing_of(out.state, device) == DISQUALIFIED:
            out.verdicts[item.id] = reject(item, PROVIDER_DISQUALIFIED, f"{device} is disqualified")
            continue
        if device in latest:
            older = latest[device]
            out.verdicts[older.id] = reject(older, SUPERSEDED, "a later declaration counts")
        latest[device] = item
        out.declarations[device] = body
        out.verdicts[item.id] = accept(item, **{FACT_CAPACITY: body.capacity_bytes})


def declared_capacity(out: Outcome, provider: str) -> int:
    if provider in out.declarations:
        return out.declarations[provider].capacity_bytes
    record = out.state.providers.get(provider)
    return record.capacity_bytes if record is not None else 0


def _committed(out: Outcome, epoch: int) -> dict[str, int]:
    """Bytes each provider holds for deals active now or later."""
    held: dict[str, int] = {}
    for deal in out.deals.values():
        if deal.terms.end_epoch > epoch:
            for piece in deal.terms.pieces:
                held[piece.provider] = held.get(piece.provider, 0) + piece.size
    return held


def _roots(out: Outcome, epoch: int) -> set[tuple[str, bytes]]:
    return {
        (piece.provider, piece.root)
        for deal in out.deals.values()
        if deal.terms.end_epoch > epoch
        for piece in deal.terms.pieces
    }


def _layout_error(terms: DealTerms) -> str | None:
    """Pieces sorted by (segment, share); every segment has shares 0..n-1 on n providers."""
    order = [(x.segment, x.index) for x in terms.pieces]
    if order != sorted(set(order)):
        return "pieces must be sorted by (segment, share), each once"
    segments: dict[int, list[tuple[int, str]]] = {}
    for piece in terms.pieces:
        segments.setdefault(piece.segment, []).append((piece.index, piece.provider))
    for segment, shares in sorted(segments.items()):
        if [i for i, _ in shares] != list(range(terms.n)):
            return f"segment {segment} must have shares 0..{terms.n - 1}"
        if len({prov for _, prov in shares}) != len(shares):
            return f"segment {segment} places two shares on one provider"
    return None


def _signature_error(ctx: EpochContext, reg: DealRegistration) -> tuple[str, str] | None:
    if ctx.domain is None:
        return BAD_DEAL_SIGNATURE, "no deployment domain to check deal signatures against"
    try:
        signer = recover_address(deal_digest(ctx.domain, reg.terms), reg.signature)
    except (InvalidSignature, ValueError):
        signer = ""
    if signer != reg.terms.consumer:
        return BAD_DEAL_SIGNATURE, f"deal is not signed by its consumer {reg.terms.consumer}"
    return None


def _deal_error(
    ctx: EpochContext,
    out: Outcome,
    item: ReceivedReport,
    terms: DealTerms,
    held: set[tuple[str, bytes]],
    committed: dict[str, int],
) -> tuple[str, str] | None:
    if item.report.device not in {x.provider for x in terms.pieces}:
        return NOT_IN_DEAL, "the sender holds no piece of this deal"
    if terms.end_epoch <= ctx.epoch:
        return DEAL_EXPIRED, f"deal ended at epoch {terms.end_epoch}"
    if (terms.k, terms.n) not in p.profiles(ctx.parameters):
        return BAD_ERASURE_PROFILE, f"{terms.k}-of-{terms.n} is not a governed erasure profile"
    layout = _layout_error(terms)
    if layout is not None:
        return BAD_LAYOUT, layout
    biggest = max(x.size for x in terms.pieces)
    if biggest > ctx.param(p.MAX_PIECE_BYTES):
        return OVERSIZED_PIECE, f"a piece of {biggest} bytes exceeds {ctx.param(p.MAX_PIECE_BYTES)}"
    placed = [(x.provider, x.root) for x in terms.pieces]
    if len(set(placed)) != len(placed) or any(pr in held for pr in placed):
        return DUPLICATE_ROOT, "a provider would hold the same piece root twice"
    if terms.price_gib_epoch < ctx.param(p.PRICE_GIB_EPOCH) or terms.price_gib_egress < ctx.param(
        p.PRICE_GIB_EGRESS
    ):
        return UNDERPRICED, "the deal pays less than the governed prices"
    adding: dict[str, int] = {}
    for piece in terms.pieces:
        adding[piece.provider] = adding.get(piece.provider, 0) + piece.size
    for provider in sorted(adding):
        device = ctx.devices.get(provider)
        if device is None or device.network != ctx.network or device.status != DEVICE_ACTIVE:
            return BAD_PROVIDER, f"{provider} is not an active {ctx.network} device"
        refused = _provider_reject(out.state, provider)
        if refused is not None:
            return refused
        capacity = declared_capacity(out, provider)
        if capacity == 0:
            return NO_CAPACITY, f"{provider} has declared no capacity"
        if committed.get(provider, 0) + adding[provider] > capacity:
            return OVER_CAPACITY, f"{provider} would hold more than its {capacity} bytes"
    return None


def _deals(ctx: EpochContext, out: Outcome, items: list) -> None:
    """By (deal id, timestamp, report id): the first valid registration of an id fixes it;
    the same terms again (from the deal's other providers) are accepted and change nothing."""
    profiles = p.profiles(ctx.parameters)
    held, committed = _roots(out, ctx.epoch), _committed(out, ctx.epoch)
    order = sorted(items, key=lambda t: (t[1].terms.deal_id, t[0].report.timestamp_ms, t[0].id))
    for item, reg in order:
        terms = reg.terms
        facts = {FACT_PIECES: len(terms.pieces), FACT_DEAL_BYTES: sum(x.size for x in terms.pieces)}
        error = _signature_error(ctx, reg)
        known = out.deals.get(terms.deal_id)
        if error is None and known is not None:
            fresh = terms.deal_id in out.new_deals
            if (known.terms == terms) if fresh else _same_deal(known, terms):
                out.verdicts[item.id] = accept(item, **{FACT_REGISTERED: 0, **facts})
                continue
            error = DEAL_CONFLICT, "this deal id is registered with other terms"
        if error is None:
            error = _deal_error(ctx, out, item, terms, held, committed)
        if error is not None:
            out.verdicts[item.id] = reject(item, *error)
            continue
        out.deals[terms.deal_id] = DealRecord(terms, profiles[(terms.k, terms.n)], ctx.epoch)
        out.new_deals.add(terms.deal_id)
        for piece in terms.pieces:
            held.add((piece.provider, piece.root))
            committed[piece.provider] = committed.get(piece.provider, 0) + piece.size
        out.verdicts[item.id] = accept(item, **{FACT_REGISTERED: 1, **facts})


def _same_deal(record: DealRecord, terms: DealTerms) -> bool:
    """The registered deal, ignoring where repairs have moved pieces since."""
    strip = msgspec.structs.replace
    mine = [strip(x, provider="") for x in record.terms.pieces]
    theirs = [strip(x, provider="") for x in terms.pieces]
    return strip(record.terms, pieces=mine) == strip(terms, pieces=theirs)


def _proofs(ctx: EpochContext, out: Outcome, items: list) -> None:
    """By (device, timestamp, report id). A report counts whole or not at all: an honest
    provider checks its own proofs and leaves out the pieces it cannot prove."""
    count = ctx.param(p.CHUNKS_PER_PIECE)
    pending = {(r.deal_id, r.segment, r.index): r.provider for r in out.state.repairs}
    order = sorted(items, key=lambda t: (t[0].report.device, t[0].report.timestamp_ms, t[0].id))
    for item, body in order:
        assert isinstance(body, StorageProof)
        device = item.report.device
        if standing_of(out.state, device) == DISQUALIFIED:
            out.verdicts[item.id] = reject(item, PROVIDER_DISQUALIFIED, f"{device} is disqualified")
            continue
        error: tuple[str, str] | None = None
        keys: list[PieceKey] = []
        proven_bytes = repaired_bytes = 0
        for proof in body.pieces:
            key = (proof.deal_id, proof.segment, proof.index)
            where = f"deal {proof.deal_id.hex()[:16]} segment {proof.segment} share {proof.index}"
            deal = out.deals.get(proof.deal_id)
            piece = deal.piece(proof.segment, proof.index) if deal is not None else None
            if key in out.proven or key in keys:
                error = DUPLICATE_PROOF, f"{where} is already proven this epoch"
            elif deal is None or piece is None:
                error = UNKNOWN_PIECE, f"no registered {where}"
            elif not deal.active(ctx.epoch):
                error = DEAL_INACTIVE, f"{where}: the deal does not cover epoch {ctx.epoch}"
            elif piece.provider != device:
                error = NOT_PROVIDER, f"{where} is placed on {piece.provider}"
            else:
                reason = check_piece_proof(ctx.entropy, piece, proof, count)
                if reason is not None:
                    error = reason, f"{where}: {reason.replace('_', ' ')}"
            if error is not None:
                break
            assert piece is not None
            keys.append(key)
            proven_bytes += piece.size
            if pending.get(key) == device:
                repaired_bytes += piece.size
        if error is not None:
            out.verdicts[item.id] = reject(item, *error)
            continue
        for key in keys:
            out.proven[key] = device
        out.verdicts[item.id] = accept(
            item,
            **{
                FACT_PROVEN_BYTES: proven_bytes,
                FACT_PIECES: len(keys),
                FACT_REPAIR_BYTES: repaired_bytes,
                FACT_SUSPENDED: int(standing_of(out.state, device) == SUSPENDED),
            },
        )


def _audits(ctx: EpochContext, out: Outcome, items: list, auditors: list[str]) -> None:
    """By (timestamp, report id). A batch counts whole or not at all; a result counts once."""
    if not items:
        return
    placements = out.state.placements(ctx.epoch)
    draws = ctx.param(p.AUDITS_PER_AUDITOR)
    planned = {a: set(audits.audit_targets(ctx.entropy, a, placements, draws)) for a in auditors}
    seen: set[tuple[str, audits.AuditTarget]] = set()
    for item, batch in _by_time(items):
        assert isinstance(batch, AuditBatch)
        error: tuple[str, str] | None = None
        mine: list[tuple[str, audits.AuditTarget]] = []
        for result in batch.results:
            key = (result.auditor, audits.target_of(result))
            reason = audits.check_audit_result(ctx.domain, result, ctx.epoch, planned)
            if reason is None and (key in seen or key in mine):
                reason = DUPLICATE_AUDIT
            if reason is not None:
                error = reason, f"audit of {result.provider} by {result.auditor}: {reason}"
                break
            mine.append(key)
        if error is not None:
            out.verdicts[item.id] = reject(item, *error)
            continue
        seen.update(mine)
        failed = 0
        for result in batch.results:
            passed = result.outcome == AUDIT_PASS
            failed += not passed
            piece_key = (result.deal_id, result.segment, result.index)
            out.audit_events.append((result.provider, piece_key, passed))
        out.verdicts[item.id] = accept(
            item, **{FACT_AUDITS: len(batch.results), FACT_FAILED: failed}
        )
    out.audit_events.sort()


def _claim_error(
    ctx: EpochContext,
    out: Outcome,
    device: str,
    claim: RepairClaim,
    queue: dict[tuple[bytes, int], RepairNeed],
    committed: dict[str, int],
) -> tuple[str, str] | None:
    refused = _provider_reject(out.state, device)
    if refused is not None:
        return refused
    deal = out.deals.get(claim.deal_id)
    piece = deal.piece(claim.segment, claim.index) if deal is not None else None
    if deal is None or piece is None or not deal.active(ctx.epoch):
        return UNKNOWN_PIECE, "no active deal has that piece"
    need = queue.get((claim.deal_id, claim.segment))
    if need is None or claim.index not in need.missing:
        return NOT_IN_REPAIR, f"share {claim.index} of segment {claim.segment} needs no repair"
    if device in {x.provider for x in deal.terms.pieces if x.segment == claim.segment}:
        return DUPLICATE_PROVIDER, "the claimant already holds a share of that segment"
    capacity = declared_capacity(out, device)
    if capacity == 0:
        return NO_CAPACITY, f"{device} has declared no capacity"
    if committed.get(device, 0) + piece.size > capacity:
        return OVER_CAPACITY, f"{device} would hold more than its declared capacity"
    key = (claim.deal_id, claim.segment, claim.index)
    if key in out.claims:
        return ALREADY_CLAIMED, f"{out.claims[key]} claimed that share first"
    return None


def _repairs(ctx: EpochContext, out: Outcome, items: list) -> None:
    """By (timestamp, report id): the first valid claim of a share wins."""
    queue = {(need.deal_id, need.segment): need for need in out.state.repair_queue}
    committed = _committed(out, ctx.epoch)
    for item, claim in _by_time(items):
        assert isinstance(claim, RepairClaim)
        device = item.report.device
        error = _claim_error(ctx, out, device, claim, queue, committed)
        if error is not None:
            out.verdicts[item.id] = reject(item, *error)
            continue
        piece = out.deals[claim.deal_id].piece(claim.segment, claim.index)
        assert piece is not None
        out.claims[(claim.deal_id, claim.segment, claim.index)] = device
        committed[device] = committed.get(device, 0) + piece.size
        facts = {
            FACT_SEGMENT: claim.segment,
            FACT_INDEX: claim.index,
            FACT_CLAIMED_BYTES: piece.size,
        }
        out.verdicts[item.id] = accept(item, **facts)


def unproven_deals(out: Outcome, epoch: int) -> set[tuple[str, bytes]]:
    """(provider, deal id) for every deal of which the provider missed a required proof."""
    return {
        (provider, key[0])
        for key, provider in out.expected(epoch).items()
        if out.proven.get(key) != provider
    }


def channel_deals(deals: Iterable[DealRecord]) -> dict[bytes, list[DealRecord]]:
    """Receipt channel -> the deals it pays: each deal under its id and under its file id."""
    out: dict[bytes, list[DealRecord]] = {}
    for deal in sorted(deals, key=lambda d: d.terms.deal_id):
        out.setdefault(deal.terms.deal_id, []).append(deal)
        if deal.terms.file_id != deal.terms.deal_id:
            out.setdefault(deal.terms.file_id, []).append(deal)
    return out


def _receipt_error(
    ctx: EpochContext,
    out: Outcome,
    device: str,
    receipt: Receipt,
    paying: dict[bytes, list[DealRecord]],
    failed: set[tuple[str, bytes]],
) -> tuple[str, str] | None:
    try:
        verify_receipt(ctx.domain, receipt)
    except ReceiptError as exc:
        return BAD_RECEIPT, str(exc)
    if receipt.network != ctx.network:
        return WRONG_RECEIPT_NETWORK, f"receipt is for network {receipt.network!r}"
    if receipt.payee != device:
        return WRONG_PAYEE, f"receipt pays {receipt.payee}"
    deals = [
        d
        for d in paying.get(receipt.channel, [])
        if d.terms.consumer == receipt.consumer and device in _holders(d)
    ]
    if not deals:
        return UNKNOWN_CHANNEL, "no deal of this consumer with this provider on that channel"
    refused = _provider_reject(out.state, device)
    if refused is not None:
        return refused
    if any((device, d.terms.deal_id) in failed for d in deals):
        return UNPROVEN_DEAL, "the provider missed a proof of this deal this epoch"
    return None


def _receipts(ctx: EpochContext, out: Outcome, items: list) -> None:
    """By (consumer, payee, channel, cumulative, timestamp, report id), so a channel's
    receipts apply in ascending order and each increase is spent exactly once."""
    failed = unproven_deals(out, ctx.epoch)
    paying = channel_deals(out.deals.values())
    channels = {"channels": [list(entry) for entry in out.state.receipts]}
    book = ReceiptBook.from_state(channels, ctx.credits)

    def order(t: tuple[ReceivedReport, ReceiptReport]) -> tuple:
        r = t[1].receipt
        return (r.consumer, r.payee, r.channel, r.cumulative, t[0].report.timestamp_ms, t[0].id)

    for item, body in sorted(items, key=order):
        receipt = body.receipt
        error = _receipt_error(ctx, out, item.report.device, receipt, paying, failed)
        if error is not None:
            out.verdicts[item.id] = reject(item, *error)
            continue
        try:
            spent = book.apply(receipt)
        except ReplayedReceipt as exc:
            out.verdicts[item.id] = reject(item, REPLAYED_RECEIPT, str(exc))
            continue
        except InsufficientCredits as exc:
            out.verdicts[item.id] = reject(item, INSUFFICIENT_CREDITS, str(exc))
            continue
        out.verdicts[item.id] = accept(
            item, **{FACT_CREDITS: spent, FACT_PAYER: int(receipt.consumer, 16)}
        )
    out.book = book


def _holders(deal: DealRecord) -> set[str]:
    return {x.provider for x in deal.terms.pieces}


def verify_reports(
    ctx: EpochContext, reports: Sequence[ReceivedReport], auditors: Iterable[str] = ()
) -> list[Verdict]:
    """One verdict per distinct report id, sorted by id, whatever the input order."""
    verdicts = evaluate(ctx, reports, auditors).verdicts
    return [verdicts[rid] for rid in sorted(verdicts)]
