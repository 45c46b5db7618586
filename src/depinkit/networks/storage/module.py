"""The storage network as a :class:`~depinkit.networks.module.NetworkModule`.

``verify`` and ``score`` judge one epoch; ``next_prior`` carries the network's state to the
next one: deals and their placement after repairs, providers' declarations, reputation,
standing and failure streaks, the receipt book, the repair queue, pending repair rewards
and the slashing verdicts this epoch produced (docs/networks/storage.md, "State").
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from types import MappingProxyType
from typing import Any, Final

import msgspec

from depinkit.core.canonical import canonical_encode
from depinkit.core.keys import keccak256
from depinkit.networks.context import EpochContext
from depinkit.networks.module import NetworkModule, ReceivedReport, Scores, Verdict
from depinkit.networks.storage import parameters as p
from depinkit.networks.storage.audit import AuditTarget, audit_targets
from depinkit.networks.storage.repair_policy import repair_queue, segment_health, unhealthy_pieces
from depinkit.networks.storage.reputation import DISQUALIFIED, initial, standing, update
from depinkit.networks.storage.schemas import KINDS
from depinkit.networks.storage.score import BUCKETS, score_storage
from depinkit.networks.storage.slashing import PERSISTENT_FAILURE, SlashingVerdict
from depinkit.networks.storage.state import (
    DealRecord,
    PendingRepair,
    PieceKey,
    ProviderRecord,
    StorageState,
    decode_state,
    encode_state,
)
from depinkit.networks.storage.verify import Outcome, evaluate

NAME: Final[str] = "storage"

replace = msgspec.structs.replace


class StorageModule(NetworkModule):
    """Providers prove the pieces of consumers' deals every epoch and are paid for it.

    ``auditors`` are the oracles whose signed retrieval-audit results count (the oracle
    set at the epoch's start block). The pipeline passes them here until the context
    carries them; a context attribute ``oracles``, when present, takes precedence.
    """

    name = NAME
    kinds = MappingProxyType(dict(KINDS))
    buckets = BUCKETS
    parameters = p.PARAMETERS

    def __init__(self, auditors: Iterable[str] = ()) -> None:
        self.auditors: tuple[str, ...] = tuple(sorted(set(auditors)))
        # The pipeline calls verify and then next_prior with the same context and reports;
        # the last evaluation is kept (one slot, checked by identity and equality) so the
        # epoch is judged once. A cache of a pure function: results never depend on it.
        self._last: tuple[EpochContext, tuple[ReceivedReport, ...], Outcome] | None = None

    def _auditors(self, ctx: EpochContext) -> tuple[str, ...]:
        oracles = getattr(ctx, "oracles", None)
        return tuple(sorted(set(oracles))) if oracles else self.auditors

    def evaluate(self, ctx: EpochContext, reports: Sequence[ReceivedReport]) -> Outcome:
        """Everything verify established about the epoch (see ``verify.evaluate``)."""
        key = tuple(reports)
        last = self._last
        if last is not None and last[0] is ctx and last[1] == key:
            return last[2]
        outcome = evaluate(ctx, key, self._auditors(ctx))
        self._last = (ctx, key, outcome)
        return outcome

    def verify(self, ctx: EpochContext, reports: Sequence[ReceivedReport]) -> list[Verdict]:
        verdicts = self.evaluate(ctx, reports).verdicts
        return [verdicts[rid] for rid in sorted(verdicts)]

    def score(self, ctx: EpochContext, verdicts: Sequence[Verdict]) -> Scores:
        return score_storage(ctx, verdicts)

    def next_prior(
        self, ctx: EpochContext, reports: Sequence[ReceivedReport], verdicts: Sequence[Verdict]
    ) -> dict[str, Any]:
        """The state after this epoch (``verdicts`` are recomputed from ``reports``)."""
        return encode_state(advance(ctx, self.evaluate(ctx, reports)))


def _evidence(provider: str, epoch: int, streak: int, missed: list[PieceKey]) -> bytes:
    """keccak256(canonical([provider, epoch, streak, [[deal id, segment, share], ...]]))."""
    return keccak256(canonical_encode([provider, epoch, streak, [list(k) for k in missed]]))


def advance(ctx: EpochContext, out: Outcome) -> StorageState:
    """The state the next epoch starts from (docs/networks/storage.md, "State")."""
    epoch = ctx.epoch
    lam, weight = ctx.param(p.LAMBDA_PPM), ctx.param(p.WEIGHT)
    fresh = ProviderRecord(reputation=initial(lam, weight))
    providers = dict(out.state.providers)
    for device, declared in sorted(out.declarations.items()):
        record = providers.get(device, fresh)
        providers[device] = replace(
            record, capacity_bytes=declared.capacity_bytes, url=declared.url
        )
    for deal in out.deals.values():
        for piece in deal.terms.pieces:
            providers.setdefault(piece.provider, fresh)
    for device in out.claims.values():
        providers.setdefault(device, fresh)

    # Reputation events: one per provider for its proofs, one per audit result.
    expected = out.expected(epoch)
    owed: dict[str, list[PieceKey]] = {}
    for key, provider in sorted(expected.items()):
        owed.setdefault(provider, []).append(key)
    events: dict[str, list[bool]] = {}
    missed: dict[str, list[PieceKey]] = {}
    for provider, keys in sorted(owed.items()):
        missed[provider] = [k for k in keys if out.proven.get(k) != provider]
        events.setdefault(provider, []).append(not missed[provider])
    for provider, _key, passed in out.audit_events:
        events.setdefault(provider, []).append(passed)
        providers.setdefault(provider, fresh)
    slashings = []
    for provider, outcomes in sorted(events.items()):
        record = providers[provider]
        rep = record.reputation
        if record.standing != DISQUALIFIED:  # final: its reputation no longer matters
            for passed in outcomes:
                rep = update(rep, passed, lam, weight)
        failed = not all(outcomes)
        streak = record.streak + 1 if failed else 0
        slashed = record.slashed and failed
        if failed and streak >= ctx.param(p.SLASH_AFTER) and not slashed:
            evidence = _evidence(provider, epoch, streak, missed.get(provider, []))
            slashings.append(
                SlashingVerdict(ctx.network, epoch, provider, streak, PERSISTENT_FAILURE, evidence)
            )
            slashed = True
        providers[provider] = replace(
            record,
            reputation=rep,
            streak=streak,
            slashed=slashed,
            standing=standing(
                rep, record.standing, ctx.param(p.SUSPEND_PPM), ctx.param(p.DISQUALIFY_PPM)
            ),
        )
    disqualified = {d for d, r in providers.items() if r.standing == DISQUALIFIED}

    # Deals: repairs move pieces; deals that end before the next epoch are dropped.
    deals: dict[bytes, DealRecord] = {}
    for deal_id, deal in sorted(out.deals.items()):
        if deal.terms.end_epoch <= epoch + 1:
            continue
        pieces = [
            replace(x, provider=out.claims.get((deal_id, x.segment, x.index), x.provider))
            for x in deal.terms.pieces
        ]
        deals[deal_id] = replace(deal, terms=replace(deal.terms, pieces=pieces))

    # Repairs pending their first proof: paid ones and superseded ones leave the list.
    pending = {
        (r.deal_id, r.segment, r.index): r
        for r in out.state.repairs
        if r.deal_id in deals and out.proven.get((r.deal_id, r.segment, r.index)) != r.provider
    }
    for key, device in sorted(out.claims.items()):
        if key[0] in deals:
            pending[key] = PendingRepair(key[0], key[1], key[2], device, epoch)

    # Health after this epoch, and the segments that now need repair.
    proven_by_holder = {k for k, prov in out.proven.items() if expected.get(k) == prov}
    audit_failed = {key for _, key, passed in out.audit_events if not passed}
    unhealthy = unhealthy_pieces(set(expected), proven_by_holder, audit_failed) - set(out.claims)
    health = segment_health(deals.values(), epoch + 1, unhealthy, disqualified)

    book = out.book.state()["channels"]
    live = set(deals) | {d.terms.file_id for d in deals.values()}
    return StorageState(
        epoch=epoch,
        deals=list(deals.values()),
        providers={d: providers[d] for d in sorted(providers)},
        receipts=[(c, pay, ch, cum) for c, pay, ch, cum in book if ch in live],
        repair_queue=repair_queue(deals, health),
        repairs=[pending[k] for k in sorted(pending)],
        slashings=slashings,
    )


def audit_plan(ctx: EpochContext, auditor: str) -> list[AuditTarget]:
    """The chunks ``auditor`` must download this epoch (what the oracle's audit job runs)."""
    placements = decode_state(ctx.prior).placements(ctx.epoch)
    return audit_targets(ctx.entropy, auditor, placements, ctx.param(p.AUDITS_PER_AUDITOR))


def provider_directory(prior: Mapping[str, Any]) -> dict[str, ProviderRecord]:
    """Every known provider with its URL, capacity, reputation and standing (for clients,
    repairers and the explorer), by address."""
    return dict(decode_state(prior).providers)
