"""The durable outbox: every report is committed here before any send.

Why a local database and not a queue in memory: a device loses power, gets
``kill -9``'d and reboots, and a report it signed must still reach every
oracle exactly as signed. The outbox is one SQLite file (WAL,
``synchronous=FULL``, so a commit survives power loss) holding:

* ``device_seq``: the next sequence number of the device. It is read and
  advanced in the *same* transaction that inserts the signed reports, so a
  sequence number is used by exactly one committed report and never reused,
  whatever crash happens (a rolled-back transaction takes its numbers with it).
* ``reports``: the encoded signed reports, in creation order.
* ``deliveries``: one row per (report, oracle) with its state (``pending``,
  ``acked``, ``failed``), attempts, the error code of a permanent rejection and
  the earliest time of the next attempt. A report counts as delivered only when
  every configured oracle has acknowledged it.

The outbox is device-side, single-writer and always SQLite, so it uses the
standard library's ``sqlite3`` rather than the oracle's SQLAlchemy store. Its
schema version is kept in ``PRAGMA user_version``.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterable, Sequence
from enum import StrEnum
from pathlib import Path
from typing import NamedTuple

from depinkit.agent.errors import OutboxError

SCHEMA_VERSION = 1  # PRAGMA user_version of the layout below
BUSY_TIMEOUT_MS = 10_000  # a reader such as `agent status` may briefly hold the file

_SCHEMA = """
CREATE TABLE IF NOT EXISTS device_seq (
    device TEXT PRIMARY KEY,
    next_seq INTEGER NOT NULL CHECK (next_seq >= 0)
);
CREATE TABLE IF NOT EXISTS reports (
    pk INTEGER PRIMARY KEY AUTOINCREMENT,
    report_id BLOB NOT NULL UNIQUE,
    device TEXT NOT NULL,
    seq INTEGER NOT NULL,
    network TEXT NOT NULL,
    kind TEXT NOT NULL,
    epoch INTEGER NOT NULL,
    created_ms INTEGER NOT NULL,
    encoded BLOB NOT NULL,
    UNIQUE (device, seq)
);
CREATE TABLE IF NOT EXISTS deliveries (
    report_pk INTEGER NOT NULL REFERENCES reports(pk),
    oracle TEXT NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('pending', 'acked', 'failed')),
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_ms INTEGER NOT NULL DEFAULT 0,
    error_code TEXT,
    done_ms INTEGER,
    PRIMARY KEY (oracle, report_pk)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS deliveries_due ON deliveries (oracle, state, next_attempt_ms, report_pk);
"""


class DeliveryState(StrEnum):
    """Where one report stands with one oracle."""

    PENDING = "pending"
    ACKED = "acked"  # the oracle stored it durably (or already had it)
    FAILED = "failed"  # the oracle rejected it for good; error_code says why


class SealedReport(NamedTuple):
    """A signed report ready to store: its id, wire bytes and index fields."""

    report_id: bytes
    encoded: bytes
    network: str
    kind: str
    epoch: int


class Outgoing(NamedTuple):
    """A report due for delivery to one oracle."""

    pk: int
    report_id: bytes
    encoded: bytes
    attempts: int


class OracleCounts(NamedTuple):
    """Delivery totals of one oracle."""

    oracle: str
    pending: int
    acked: int
    failed: int


class Rejection(NamedTuple):
    """A permanent rejection of one report by one oracle."""

    report_id: bytes
    oracle: str
    error_code: str
    seq: int


SealFn = Callable[[int], SealedReport]  # builds and signs the report for a given seq


class Outbox:
    """The SQLite outbox of one device; see the module docstring.

    Delivery rows are created at append time for the oracles configured then:
    an oracle added to the config later receives the reports appended from
    that point on, and a removed oracle's rows stay (shown by ``status``) but
    are no longer sent.
    """

    def __init__(self, path: Path, *, device: str, oracles: Sequence[str]) -> None:
        if not oracles:
            raise OutboxError("an outbox needs at least one oracle to deliver to")
        self.path = path
        self.device = device
        self.oracles = tuple(oracles)
        path.parent.mkdir(parents=True, exist_ok=True)
        # isolation_level=None: we issue BEGIN/COMMIT ourselves, so the seq allocation
        # and the inserts are provably one transaction.
        self._db = sqlite3.connect(path, isolation_level=None, timeout=BUSY_TIMEOUT_MS / 1000)
        try:
            self._setup()
        except BaseException:
            self._db.close()
            raise

    def _setup(self) -> None:
        db = self._db
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=FULL")
        db.execute("PRAGMA foreign_keys=ON")
        version = db.execute("PRAGMA user_version").fetchone()[0]
        if version not in (0, SCHEMA_VERSION):
            raise OutboxError(f"outbox {self.path} has schema {version}, expected {SCHEMA_VERSION}")
        with self._transaction():
            for statement in filter(None, (part.strip() for part in _SCHEMA.split(";"))):
                db.execute(statement)
            db.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
            devices = [row[0] for row in db.execute("SELECT device FROM device_seq")]
            if devices and devices != [self.device]:
                raise OutboxError(
                    f"outbox {self.path} belongs to device {devices[0]}, not {self.device}"
                )
            db.execute(
                "INSERT OR IGNORE INTO device_seq (device, next_seq) VALUES (?, 0)", (self.device,)
            )

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> Outbox:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _transaction(self) -> _Transaction:
        return _Transaction(self._db)

    # -- writing reports -------------------------------------------------

    def append(self, seal_fns: Iterable[Callable[[int], SealedReport]], now_ms: int) -> list[int]:
        """Seal and store reports in one durable transaction; returns their seqs.

        Each callable receives the sequence number allocated to it and returns
        the signed report. Nothing is stored (and no seq consumed) unless the
        whole batch commits.
        """
        seqs: list[int] = []
        with self._transaction():
            (next_seq,) = self._db.execute(
                "SELECT next_seq FROM device_seq WHERE device = ?", (self.device,)
            ).fetchone()
            for seal in seal_fns:
                sealed = seal(next_seq)
                cursor = self._db.execute(
                    "INSERT INTO reports (report_id, device, seq, network, kind, epoch,"
                    " created_ms, encoded) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        sealed.report_id,
                        self.device,
                        next_seq,
                        sealed.network,
                        sealed.kind,
                        sealed.epoch,
                        now_ms,
                        sealed.encoded,
                    ),
                )
                self._db.executemany(
                    "INSERT INTO deliveries (report_pk, oracle, state) VALUES (?, ?, 'pending')",
                    [(cursor.lastrowid, oracle) for oracle in self.oracles],
                )
                seqs.append(next_seq)
                next_seq += 1
            self._db.execute(
                "UPDATE device_seq SET next_seq = ? WHERE device = ?", (next_seq, self.device)
            )
        return seqs

    def next_seq(self) -> int:
        """The sequence number the next report will get."""
        (value,) = self._db.execute(
            "SELECT next_seq FROM device_seq WHERE device = ?", (self.device,)
        ).fetchone()
        return int(value)

    def report_count(self) -> int:
        return int(self._db.execute("SELECT count(*) FROM reports").fetchone()[0])

    def report_ids(self) -> list[bytes]:
        """Every stored report id, in creation order."""
        return [
            bytes(row[0]) for row in self._db.execute("SELECT report_id FROM reports ORDER BY pk")
        ]

    # -- delivery state --------------------------------------------------

    def due(self, oracle: str, now_ms: int, limit: int) -> list[Outgoing]:
        """Pending reports for ``oracle`` whose next attempt time has come, oldest first."""
        rows = self._db.execute(
            "SELECT r.pk, r.report_id, r.encoded, d.attempts FROM deliveries d"
            " JOIN reports r ON r.pk = d.report_pk"
            " WHERE d.oracle = ? AND d.state = 'pending' AND d.next_attempt_ms <= ?"
            " ORDER BY d.report_pk LIMIT ?",
            (oracle, now_ms, limit),
        ).fetchall()
        return [Outgoing(int(pk), bytes(rid), bytes(enc), int(att)) for pk, rid, enc, att in rows]

    def next_due_ms(self, oracle: str) -> int | None:
        """The earliest next-attempt time of a pending report for ``oracle``, if any."""
        row = self._db.execute(
            "SELECT min(next_attempt_ms) FROM deliveries WHERE oracle = ? AND state = 'pending'",
            (oracle,),
        ).fetchone()
        return None if row[0] is None else int(row[0])

    def record_outcome(
        self,
        oracle: str,
        now_ms: int,
        *,
        acked: Sequence[int] = (),
        failed: Sequence[tuple[int, str]] = (),
        retry: Sequence[tuple[int, int]] = (),
    ) -> None:
        """Record one response: acknowledged pks, permanent failures, retry times.

        Every report in a sent batch counts one attempt. ``failed`` holds
        (pk, error code); ``retry`` holds (pk, earliest next attempt in ms).
        """
        with self._transaction():
            self._db.executemany(
                "UPDATE deliveries SET state = 'acked', attempts = attempts + 1, done_ms = ?,"
                " error_code = NULL WHERE oracle = ? AND report_pk = ? AND state = 'pending'",
                [(now_ms, oracle, pk) for pk in acked],
            )
            self._db.executemany(
                "UPDATE deliveries SET state = 'failed', attempts = attempts + 1, done_ms = ?,"
                " error_code = ? WHERE oracle = ? AND report_pk = ? AND state = 'pending'",
                [(now_ms, code, oracle, pk) for pk, code in failed],
            )
            self._db.executemany(
                "UPDATE deliveries SET attempts = attempts + 1, next_attempt_ms = ?"
                " WHERE oracle = ? AND report_pk = ? AND state = 'pending'",
                [(at_ms, oracle, pk) for pk, at_ms in retry],
            )

    def record_attempts(self, oracle: str, pks: Sequence[int]) -> None:
        """Count one failed attempt on each report (the whole request failed)."""
        with self._transaction():
            self._db.executemany(
                "UPDATE deliveries SET attempts = attempts + 1"
                " WHERE oracle = ? AND report_pk = ? AND state = 'pending'",
                [(oracle, pk) for pk in pks],
            )

    def counts(self) -> list[OracleCounts]:
        """Pending, acknowledged and failed totals per oracle (configured ones first)."""
        totals: dict[str, dict[str, int]] = {name: {} for name in self.oracles}
        for oracle, state, count in self._db.execute(
            "SELECT oracle, state, count(*) FROM deliveries GROUP BY oracle, state"
        ):
            totals.setdefault(oracle, {})[state] = int(count)
        return [
            OracleCounts(name, by.get("pending", 0), by.get("acked", 0), by.get("failed", 0))
            for name, by in totals.items()
        ]

    def pending_total(self) -> int:
        """Pending deliveries to the configured oracles."""
        marks = ",".join("?" * len(self.oracles))
        return int(
            self._db.execute(
                f"SELECT count(*) FROM deliveries WHERE state = 'pending' AND oracle IN ({marks})",
                self.oracles,
            ).fetchone()[0]
        )

    def prune(self, before_ms: int) -> int:
        """Delete reports created before ``before_ms`` that no oracle still waits for.

        The sequence counter lives in its own table, so pruning never lets a
        seq be reused. Returns how many reports were deleted.
        """
        with self._transaction():
            doomed = (
                "SELECT pk FROM reports r WHERE r.created_ms < ? AND NOT EXISTS"
                " (SELECT 1 FROM deliveries d WHERE d.report_pk = r.pk AND d.state = 'pending')"
            )
            self._db.execute(f"DELETE FROM deliveries WHERE report_pk IN ({doomed})", (before_ms,))
            cursor = self._db.execute(f"DELETE FROM reports WHERE pk IN ({doomed})", (before_ms,))
            return int(cursor.rowcount)

    def rejections(self, limit: int = 100) -> list[Rejection]:
        """The most recent permanent rejections, newest first."""
        rows = self._db.execute(
            "SELECT r.report_id, d.oracle, d.error_code, r.seq FROM deliveries d"
            " JOIN reports r ON r.pk = d.report_pk WHERE d.state = 'failed'"
            " ORDER BY d.done_ms DESC, d.report_pk DESC LIMIT ?",
            (limit,),
        ).fetchall()
        return [
            Rejection(bytes(rid), oracle, code or "", int(seq)) for rid, oracle, code, seq in rows
        ]


class _Transaction:
    """``BEGIN IMMEDIATE`` ... ``COMMIT``, rolled back on any exception.

    IMMEDIATE takes the write lock up front, so two agents started on the same
    data directory by mistake serialise instead of both reading the same seq.
    """

    def __init__(self, db: sqlite3.Connection) -> None:
        self._db = db

    def __enter__(self) -> None:
        self._db.execute("BEGIN IMMEDIATE")

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        if exc_type is None:
            self._db.execute("COMMIT")
        else:
            self._db.execute("ROLLBACK")
