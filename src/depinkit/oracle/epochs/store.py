"""Typed reads and writes of the epoch tables, over the oracle's :class:`Store`.

Each step's results and its new state are written in one transaction, with the state
checked inside it (:func:`states.check_move`): two pipelines on one store, or a restart in
the middle of a step, can never move an epoch twice or leave half a step behind.
"""

from __future__ import annotations

import json
from collections.abc import Iterable

import msgspec
from sqlalchemy import Connection, RowMapping, and_, delete, func, insert, select, update

from depinkit.oracle.epochs import states
from depinkit.oracle.epochs.errors import EpochError
from depinkit.oracle.epochs.schema import (
    epoch_credits_spent,
    epoch_manifests,
    epoch_network_state,
    epoch_signatures,
    epoch_totals,
    epochs,
)
from depinkit.oracle.store import ReportRow, Store
from depinkit.oracle.store.reports import _row as report_row
from depinkit.oracle.store.schema import reports

TOTALS_PER_STATEMENT = 5_000  # rows per executemany chunk: bounds one statement's parameters


class EpochRow(msgspec.Struct, frozen=True, kw_only=True):
    """One epoch as the pipeline left it; step outputs are None until that step ran."""

    epoch: int
    state: str
    start_block: int
    entropy: bytes
    start_ms: int
    end_ms: int
    parameters: dict[str, dict[str, int]]
    reconciled_ms: int | None = None
    root: bytes | None = None
    total: int | None = None
    carry_out: int | None = None
    digest: bytes | None = None
    oracles: list[str] | None = None
    threshold: int | None = None
    tx_hash: bytes | None = None
    updated_ms: int = 0


class Opened(msgspec.Struct, frozen=True, kw_only=True):
    """What is known once an epoch's start block exists (also the epoch's beacon)."""

    epoch: int
    start_block: int
    entropy: bytes
    start_ms: int
    end_ms: int
    parameters: dict[str, dict[str, int]]  # network -> module parameters in force


class Scored(msgspec.Struct, frozen=True, kw_only=True):
    """What the scoring step stores, all at once."""

    root: bytes
    total: int
    carry_out: int
    digest: bytes
    oracles: list[str]
    threshold: int
    totals: dict[str, int]  # lowercase account -> cumulative
    manifest_hash: bytes
    manifest: bytes  # canonical msgpack
    states: dict[str, bytes] = {}  # network -> canonical msgpack of its next_prior
    spent: dict[tuple[str, str], int] = {}  # (consumer, network) -> nanocredits


def _epoch_row(values: RowMapping) -> EpochRow:
    fields = {str(k): v for k, v in values.items()}
    for name in ("entropy", "root", "digest", "tx_hash"):
        if fields[name] is not None:
            fields[name] = bytes(fields[name])
    oracles = fields["oracles"]
    fields["oracles"] = None if oracles is None else list(json.loads(str(oracles)))
    fields["parameters"] = json.loads(str(fields["parameters"]))
    return msgspec.convert(fields, EpochRow)


def _current_state(conn: Connection, epoch: int) -> str | None:
    found = conn.execute(select(epochs.c.state).where(epochs.c.epoch == epoch)).first()
    return None if found is None else str(found[0])


def _move(conn: Connection, epoch: int, target: str, now_ms: int, **values: object) -> None:
    states.check_move(_current_state(conn, epoch), target)
    conn.execute(
        update(epochs)
        .where(epochs.c.epoch == epoch)
        .values(state=target, updated_ms=now_ms, **values)
    )


class EpochStore:
    """The epoch pipeline's persistence; shares the engine (and SQLite lock) of ``store``."""

    def __init__(self, store: Store) -> None:
        self.store = store

    # --- reads ------------------------------------------------------------------------
    def get(self, epoch: int) -> EpochRow | None:
        with self.store.read() as conn:
            found = conn.execute(select(epochs).where(epochs.c.epoch == epoch)).mappings().first()
        return None if found is None else _epoch_row(found)

    def latest(self, state: str) -> EpochRow | None:
        """The highest epoch that reached ``state`` (or a later one)."""
        wanted = list(states.STATES[states.rank(state) :])
        with self.store.read() as conn:
            found = (
                conn.execute(
                    select(epochs)
                    .where(epochs.c.state.in_(wanted))
                    .order_by(epochs.c.epoch.desc())
                    .limit(1)
                )
                .mappings()
                .first()
            )
        return None if found is None else _epoch_row(found)

    def open_from(self, first: int) -> int:
        """The lowest epoch >= ``first`` that is not yet submitted (possibly not collected)."""
        with self.store.read() as conn:
            rows = conn.execute(
                select(epochs.c.epoch, epochs.c.state)
                .where(epochs.c.epoch >= first)
                .order_by(epochs.c.epoch)
            ).all()
        expected = first
        for epoch, state in rows:
            if int(epoch) != expected or state != states.SUBMITTED:
                return expected
            expected += 1
        return expected

    def totals(self, epoch: int) -> dict[str, int]:
        """Cumulative totals after ``epoch`` (lowercase account -> amount), in address order."""
        with self.store.read() as conn:
            rows = conn.execute(
                select(epoch_totals.c.account, epoch_totals.c.amount)
                .where(epoch_totals.c.epoch == epoch)
                .order_by(epoch_totals.c.account)
            )
            return {str(account): int(amount) for account, amount in rows}

    def network_states(self, epoch: int) -> dict[str, bytes]:
        """What each network carried out of ``epoch`` (network -> canonical msgpack)."""
        with self.store.read() as conn:
            rows = conn.execute(
                select(epoch_network_state.c.network, epoch_network_state.c.state).where(
                    epoch_network_state.c.epoch == epoch
                )
            )
            return {str(network): bytes(state) for network, state in rows}

    def spent_before(self, epoch: int, consumers: Iterable[str] | None = None) -> dict[str, int]:
        """Nanocredits each consumer spent in scored epochs before ``epoch`` (all networks)."""
        query = (
            select(epoch_credits_spent.c.consumer, func.sum(epoch_credits_spent.c.amount))
            .where(epoch_credits_spent.c.epoch < epoch)
            .group_by(epoch_credits_spent.c.consumer)
        )
        if consumers is not None:
            query = query.where(epoch_credits_spent.c.consumer.in_(sorted(set(consumers))))
        with self.store.read() as conn:
            return {str(c): int(total) for c, total in conn.execute(query)}

    def manifest(self, epoch: int) -> tuple[bytes, bytes] | None:
        """(hash, canonical bytes) of the epoch's manifest, once scored."""
        with self.store.read() as conn:
            found = conn.execute(
                select(epoch_manifests.c.hash, epoch_manifests.c.body).where(
                    epoch_manifests.c.epoch == epoch
                )
            ).first()
        return None if found is None else (bytes(found[0]), bytes(found[1]))

    def signatures(self, epoch: int) -> dict[str, bytes]:
        """Signer -> signature for ``epoch``, in signer address order."""
        with self.store.read() as conn:
            rows = conn.execute(
                select(epoch_signatures.c.signer, epoch_signatures.c.signature).where(
                    epoch_signatures.c.epoch == epoch
                )
            ).all()
        return {str(s): bytes(sig) for s, sig in sorted(rows, key=lambda r: int(str(r[0]), 16))}

    def report_ids(self, epoch: int, *, received_by_ms: int | None = None) -> list[bytes]:
        """Ids of stored reports labelled ``epoch``, sorted; optionally only those received by."""
        query = select(reports.c.id).where(reports.c.epoch == epoch)
        if received_by_ms is not None:
            query = query.where(reports.c.received_ms <= received_by_ms)
        with self.store.read() as conn:
            return sorted(bytes(i) for i in conn.execute(query).scalars())

    def reports(self, epoch: int, *, received_by_ms: int) -> list[ReportRow]:
        """Stored reports labelled ``epoch`` received by ``received_by_ms``, in id order."""
        query = (
            select(*reports.c)
            .where(and_(reports.c.epoch == epoch, reports.c.received_ms <= received_by_ms))
            .order_by(reports.c.id)
        )
        with self.store.read() as conn:
            return [report_row(r) for r in conn.execute(query)]

    def count(self) -> int:
        with self.store.read() as conn:
            return int(conn.execute(select(func.count()).select_from(epochs)).scalar_one())

    # --- step writes ------------------------------------------------------------------
    def collect(self, opened: Opened, now_ms: int) -> EpochRow:
        """Create the epoch's row in ``collected``; an existing row is returned untouched."""
        with self.store.write() as conn:
            if _current_state(conn, opened.epoch) is None:
                conn.execute(
                    insert(epochs).values(
                        epoch=opened.epoch,
                        state=states.COLLECTED,
                        start_block=opened.start_block,
                        entropy=opened.entropy,
                        start_ms=opened.start_ms,
                        end_ms=opened.end_ms,
                        parameters=json.dumps(opened.parameters, sort_keys=True),
                        updated_ms=now_ms,
                    )
                )
        row = self.get(opened.epoch)
        if row is None:  # pragma: no cover - written just above
            raise EpochError(f"epoch {opened.epoch} vanished")
        return row

    def reconciled(self, epoch: int, reconciled_ms: int, now_ms: int) -> None:
        with self.store.write() as conn:
            _move(conn, epoch, states.RECONCILED, now_ms, reconciled_ms=reconciled_ms)

    def scored(self, epoch: int, result: Scored, now_ms: int) -> None:
        """Totals, manifest and root of ``epoch`` and the move to ``scored``, atomically."""
        with self.store.write() as conn:
            _move(
                conn,
                epoch,
                states.SCORED,
                now_ms,
                root=result.root,
                total=result.total,
                carry_out=result.carry_out,
                digest=result.digest,
                oracles=json.dumps(result.oracles),
                threshold=result.threshold,
            )
            conn.execute(delete(epoch_totals).where(epoch_totals.c.epoch == epoch))
            rows = [{"epoch": epoch, "account": a, "amount": v} for a, v in result.totals.items()]
            for k in range(0, len(rows), TOTALS_PER_STATEMENT):
                conn.execute(insert(epoch_totals), rows[k : k + TOTALS_PER_STATEMENT])
            conn.execute(delete(epoch_manifests).where(epoch_manifests.c.epoch == epoch))
            conn.execute(
                insert(epoch_manifests).values(
                    epoch=epoch, hash=result.manifest_hash, body=result.manifest
                )
            )
            conn.execute(delete(epoch_network_state).where(epoch_network_state.c.epoch == epoch))
            if result.states:
                conn.execute(
                    insert(epoch_network_state),
                    [
                        {"epoch": epoch, "network": n, "state": state}
                        for n, state in sorted(result.states.items())
                    ],
                )
            conn.execute(delete(epoch_credits_spent).where(epoch_credits_spent.c.epoch == epoch))
            if result.spent:
                conn.execute(
                    insert(epoch_credits_spent),
                    [
                        {"epoch": epoch, "consumer": c, "network": n, "amount": amount}
                        for (c, n), amount in sorted(result.spent.items())
                    ],
                )

    def signed(self, epoch: int, signer: str, signature: bytes, now_ms: int) -> None:
        with self.store.write() as conn:
            _move(conn, epoch, states.SIGNED, now_ms)
            _put_signature(conn, epoch, signer, signature)

    def submitted(self, epoch: int, tx_hash: bytes | None, now_ms: int) -> None:
        with self.store.write() as conn:
            _move(conn, epoch, states.SUBMITTED, now_ms, tx_hash=tx_hash)

    def add_signatures(self, epoch: int, signed: Iterable[tuple[str, bytes]]) -> int:
        """Store verified signatures (a signer already stored keeps its first); count new."""
        added = 0
        with self.store.write() as conn:
            for signer, signature in signed:
                added += _put_signature(conn, epoch, signer, signature)
        return added


def _put_signature(conn: Connection, epoch: int, signer: str, signature: bytes) -> int:
    exists = conn.execute(
        select(epoch_signatures.c.signer).where(
            and_(epoch_signatures.c.epoch == epoch, epoch_signatures.c.signer == signer)
        )
    ).first()
    if exists is not None:
        return 0
    conn.execute(insert(epoch_signatures).values(epoch=epoch, signer=signer, signature=signature))
    return 1
