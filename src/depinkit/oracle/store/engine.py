"""Engines for the two supported backends, configured for durability.

SQLite runs in WAL mode with ``synchronous=FULL``: a commit is on disk before
the ingest acknowledges a report. Writers take the lock up front
(``BEGIN IMMEDIATE``) so two concurrent batches queue on ``busy_timeout``
instead of failing with a deadlock on lock upgrade. PostgreSQL URLs are
routed to the psycopg 3 driver.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import make_url

from depinkit.oracle.errors import StoreError

SQLITE_BUSY_TIMEOUT_MS = 30_000  # a writer waits this long for the lock before failing
WRITE_OPTION = "depinkit_write"  # execution option: this transaction will write


def normalize_url(url: str) -> str:
    """Accept ``postgresql://`` and ``postgres://`` as psycopg 3 URLs."""
    try:
        parsed = make_url(url)
    except Exception as exc:
        raise StoreError(f"invalid database URL: {exc}") from exc
    backend = parsed.get_backend_name()
    if backend in ("postgresql", "postgres"):
        return parsed.set(drivername="postgresql+psycopg").render_as_string(hide_password=False)
    if backend == "sqlite":
        return url
    raise StoreError(f"unsupported database backend {backend!r}: use sqlite or postgresql")


def make_engine(url: str, **kwargs: Any) -> Engine:
    """Create an engine for ``url`` with the per-backend durability settings."""
    url = normalize_url(url)
    engine = create_engine(url, **kwargs)
    if engine.dialect.name == "sqlite":
        _configure_sqlite(engine)
    return engine


def _configure_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None  # transactions are begun explicitly below
        cursor = dbapi_conn.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        immediate = conn.get_execution_options().get(WRITE_OPTION, False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")
