"""Report rows: batch insert with per-row outcome, lookup and keyset listing."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import msgspec
from sqlalchemy import Connection, LargeBinary, any_, bindparam, func, select, text
from sqlalchemy.dialects import postgresql

from depinkit.oracle.store.rows import InsertOutcome, ReportRow
from depinkit.oracle.store.schema import reports

_COLUMNS = tuple(reports.c)


# PostgreSQL: one statement with one array parameter per column. A multi-row
# VALUES list has 9 placeholders per row, which psycopg re-parses for every
# batch (statements that long are not cached): it cost more than the insert.
_PG_INSERT = text(
    "INSERT INTO reports (id, device, network, kind, seq, epoch, timestamp_ms, received_ms, raw) "
    "SELECT * FROM unnest(CAST(:id AS bytea[]), CAST(:device AS varchar[]), "
    "CAST(:network AS varchar[]), CAST(:kind AS varchar[]), CAST(:seq AS bigint[]), "
    "CAST(:epoch AS bigint[]), CAST(:timestamp_ms AS bigint[]), "
    "CAST(:received_ms AS bigint[]), CAST(:raw AS bytea[])) "
    "ON CONFLICT DO NOTHING RETURNING id"
)


def _insert_postgresql(conn: Connection, rows: Sequence[ReportRow]) -> frozenset[bytes]:
    columns: dict[str, list[Any]] = {name: [] for name in ReportRow.__struct_fields__}
    for r in rows:
        for name, values in columns.items():
            values.append(getattr(r, name))
    return frozenset(bytes(row[0]) for row in conn.execute(_PG_INSERT, columns))


def insert_rows(conn: Connection, rows: Sequence[ReportRow]) -> InsertOutcome:
    """Insert ``rows`` (distinct ids, distinct (device, seq)) in the caller's transaction.

    Conflicts are resolved by the database (``ON CONFLICT DO NOTHING``), not by
    a read before the write, so two oracles' ingest processes racing on the same
    report still store it once; the rows not written are then classified.
    """
    if not rows:
        return InsertOutcome(frozenset(), frozenset(), frozenset())
    # One global order (by id) for every writer: concurrent batches sharing
    # reports then wait on each other instead of deadlocking in PostgreSQL.
    rows = sorted(rows, key=lambda r: r.id)
    if conn.dialect.name == "postgresql":
        inserted = _insert_postgresql(conn, rows)
    else:
        inserted = _insert_sqlite(conn, rows)
    missing = [r.id for r in rows if r.id not in inserted]
    duplicates = existing_ids(conn, missing) if missing else frozenset()
    conflicts = frozenset(i for i in missing if i not in duplicates)
    return InsertOutcome(inserted, duplicates, conflicts)


_SQLITE_COLUMNS = ReportRow.__struct_fields__
_SQLITE_ROW = "(" + ", ".join("?" * len(_SQLITE_COLUMNS)) + ")"
SQLITE_ROWS_PER_STATEMENT = 1000  # 9 parameters a row: under SQLite's 32766-variable limit


def _insert_sqlite(conn: Connection, rows: Sequence[ReportRow]) -> frozenset[bytes]:
    """One multi-row INSERT ... RETURNING through the driver.

    Bypasses SQLAlchemy's per-value bind processing, which cost as much as
    SQLite's own work; at most max_batch x 9 parameters, far under SQLite's
    32766-variable limit per statement.
    """
    inserted: set[bytes] = set()
    for k in range(0, len(rows), SQLITE_ROWS_PER_STATEMENT):
        chunk = rows[k : k + SQLITE_ROWS_PER_STATEMENT]
        statement = (
            f"INSERT INTO reports ({', '.join(_SQLITE_COLUMNS)}) VALUES "
            + ", ".join([_SQLITE_ROW] * len(chunk))
            + " ON CONFLICT DO NOTHING RETURNING id"
        )
        params = tuple(value for r in chunk for value in msgspec.structs.astuple(r))
        inserted.update(bytes(row[0]) for row in conn.exec_driver_sql(statement, params))
    return frozenset(inserted)


def existing_ids(conn: Connection, ids: Iterable[bytes]) -> frozenset[bytes]:
    wanted = list(ids)
    if not wanted:
        return frozenset()
    if conn.dialect.name == "postgresql":  # one array parameter, not one per id
        ids = bindparam("ids", wanted, type_=postgresql.ARRAY(LargeBinary))
        query = select(reports.c.id).where(reports.c.id == any_(ids))
    else:
        query = select(reports.c.id).where(reports.c.id.in_(wanted))
    return frozenset(bytes(i) for i in conn.execute(query).scalars())


def _row(values: Sequence[object]) -> ReportRow:
    rid, device, network, kind, seq, epoch, timestamp_ms, received_ms, raw = values
    return ReportRow(
        id=bytes(rid),  # type: ignore[call-overload]
        device=str(device),
        network=str(network),
        kind=str(kind),
        seq=int(seq),  # type: ignore[call-overload]
        epoch=int(epoch),  # type: ignore[call-overload]
        timestamp_ms=int(timestamp_ms),  # type: ignore[call-overload]
        received_ms=int(received_ms),  # type: ignore[call-overload]
        raw=bytes(raw),  # type: ignore[call-overload]
    )


def get_row(conn: Connection, report_id: bytes) -> ReportRow | None:
    found = conn.execute(select(*_COLUMNS).where(reports.c.id == report_id)).first()
    return None if found is None else _row(found)


def list_rows(
    conn: Connection,
    *,
    device: str | None,
    epoch: int | None,
    after: bytes | None,
    limit: int,
) -> list[ReportRow]:
    """Reports matching the filters, ordered by id, starting after ``after``."""
    query = select(*_COLUMNS)
    if device is not None:
        query = query.where(reports.c.device == device)
    if epoch is not None:
        query = query.where(reports.c.epoch == epoch)
    if after is not None:
        query = query.where(reports.c.id > after)
    query = query.order_by(reports.c.id).limit(limit)
    return [_row(r) for r in conn.execute(query)]


def count_rows(conn: Connection) -> int:
    return int(conn.execute(select(func.count()).select_from(reports)).scalar_one())
