"""Shared fixtures: a throwaway PostgreSQL server and a database URL per test.

``db_url`` is parametrized over SQLite and PostgreSQL so every store-backed
test runs on both backends. The PostgreSQL server starts once per session
(per xdist worker) and each test gets its own schema, so tests are isolated.
PostgreSQL tests are skipped only when no server binaries exist AND
``DEPINKIT_REQUIRE_POSTGRES`` is unset; CI sets it, turning a missing server
into a failure.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

from depinkit.oracle.pgserver import PostgresServer, PostgresUnavailable, find_bindir

REQUIRE_POSTGRES_ENV = "DEPINKIT_REQUIRE_POSTGRES"

# Two noisy cores run the suite: hypothesis judges examples by what they find, never by time.
settings.register_profile("depinkit", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("depinkit")


def _postgres_required() -> bool:
    return os.environ.get(REQUIRE_POSTGRES_ENV, "").strip() not in ("", "0", "false", "no")


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """A PostgreSQL cluster on a free loopback port, for the whole session."""
    if find_bindir() is None:
        message = (
            "PostgreSQL server binaries (initdb, pg_ctl) not found on PATH or under "
            "/usr/lib/postgresql/*/bin; install the `postgresql` package"
        )
        if _postgres_required():
            pytest.fail(f"{REQUIRE_POSTGRES_ENV} is set but {message}")
        pytest.skip(message)
    try:
        server = PostgresServer().start()
    except PostgresUnavailable as exc:
        pytest.fail(f"PostgreSQL binaries exist but the server could not start: {exc}")
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def pg_url(postgres_server: PostgresServer) -> Iterator[str]:
    """A URL seeing a fresh, empty PostgreSQL schema, for one test.

    A schema per test (``search_path`` set in the URL) isolates tests like a
    database per test would, without CREATE DATABASE's template copy and
    checkpoint (a second or more each).
    """
    url = postgres_server.create_schema()
    try:
        yield url
    finally:
        postgres_server.drop_schema(url)


@pytest.fixture(
    params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)],
)
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """An empty database URL, once per backend."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'store.sqlite3'}"
    return str(request.getfixturevalue("pg_url"))
