"""The oracle store: reports, the device directory and indexer checkpoints.

SQLAlchemy Core over SQLite (embedded default) or PostgreSQL (production).
Every write is one transaction; a method returns only after its commit, so a
caller that acknowledges after a store call acknowledges durable data.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext

from sqlalchemy import Connection, Engine

from depinkit.oracle.errors import StoreError
from depinkit.oracle.store import checkpoints, devices, reports
from depinkit.oracle.store.engine import WRITE_OPTION, make_engine, normalize_url
from depinkit.oracle.store.migrate import current_revision, head_revision, upgrade
from depinkit.oracle.store.rows import DeviceRow, DeviceStatus, InsertOutcome, ReportRow

__all__ = [
    "DeviceRow",
    "DeviceStatus",
    "InsertOutcome",
    "ReportRow",
    "Store",
    "normalize_url",
]


class Store:
    """Typed access to the oracle's tables over one engine."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        # SQLite has one writer at a time. Writers of this process queue on a
        # lock (woken at once on release) rather than on SQLite's busy handler,
        # which sleeps in steps of up to 100 ms; busy_timeout still covers
        # writers in other processes.
        self._write_lock: AbstractContextManager[object] = (
            threading.Lock() if engine.dialect.name == "sqlite" else nullcontext()
        )

    @classmethod
    def open(cls, url: str, *, migrate: bool = False) -> Store:
        """Connect to ``url``; migrate to the newest schema, or insist it is there."""
        store = cls(make_engine(url))
        if migrate:
            store.migrate()
        else:
            store.check_schema()
        return store

    def migrate(self) -> None:
        upgrade(self.engine)

    def check_schema(self) -> None:
        current, head = current_revision(self.engine), head_revision()
        if current != head:
            raise StoreError(
                f"database schema is at {current or 'nothing'}, this oracle needs {head}: "
                "run `depinkit oracle migrate --db URL`"
            )

    def close(self) -> None:
        self.engine.dispose()

    @contextmanager
    def write(self) -> Iterator[Connection]:
        """One write transaction, committed (durably) when the block exits cleanly."""
        with (
            self._write_lock,
            self.engine.connect().execution_options(**{WRITE_OPTION: True}) as conn,
            conn.begin(),
        ):
            yield conn

    @contextmanager
    def read(self) -> Iterator[Connection]:
        with self.engine.connect() as conn, conn.begin():
            yield conn

    # reports
    def insert_reports(self, rows: Sequence[ReportRow]) -> InsertOutcome:
        """Store a batch in one transaction; say which rows were new, duplicate, conflicting."""
        with self.write() as conn:
            return reports.insert_rows(conn, rows)

    def existing_report_ids(self, ids: Iterable[bytes]) -> frozenset[bytes]:
        with self.read() as conn:
            return reports.existing_ids(conn, ids)

    def get_report(self, report_id: bytes) -> ReportRow | None:
        with self.read() as conn:
            return reports.get_row(conn, report_id)

    def list_reports(
        self,
        *,
        device: str | None = None,
        epoch: int | None = None,
        after: bytes | None = None,
        limit: int = 100,
    ) -> list[ReportRow]:
        with self.read() as conn:
            return reports.list_rows(conn, device=device, epoch=epoch, after=after, limit=limit)

    def count_reports(self) -> int:
        with self.read() as conn:
            return reports.count_rows(conn)

    # devices
    def get_devices(self, addresses: Iterable[str]) -> dict[str, DeviceRow]:
        with self.read() as conn:
            return devices.get_rows(conn, addresses)

    def all_devices(self) -> list[DeviceRow]:
        with self.read() as conn:
            return devices.all_rows(conn)

    def upsert_devices(self, rows: Sequence[DeviceRow]) -> None:
        with self.write() as conn:
            devices.upsert_rows(conn, rows)

    # indexer checkpoints
    def checkpoint(self, name: str) -> int | None:
        with self.read() as conn:
            return checkpoints.get_block(conn, name)

    def commit_blocks(self, name: str, rows: Sequence[DeviceRow], block: int) -> None:
        """Write device rows and advance checkpoint ``name`` to ``block``, atomically."""
        with self.write() as conn:
            devices.upsert_rows(conn, rows)
            checkpoints.set_block(conn, name, block)
