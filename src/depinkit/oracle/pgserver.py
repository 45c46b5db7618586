"""A throwaway PostgreSQL cluster for tests and benchmarks.

Starts ``initdb`` + ``pg_ctl`` from PATH or ``/usr/lib/postgresql/*/bin`` on a
free loopback port under a fresh temporary directory, and removes it all on
stop. PostgreSQL refuses to run as root, so when we are root the server runs
as the ``postgres`` OS user (``runuser``) and its directory belongs to it.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import uuid
from pathlib import Path

from depinkit.oracle.errors import OracleError

START_TIMEOUT_S = 60  # pg_ctl -w waits at most this long for the server to accept connections
SUPERUSER = "postgres"  # database superuser created by initdb (trust auth on loopback)


class PostgresUnavailable(OracleError):
    """No PostgreSQL server binaries, or no way to run them here."""


def find_bindir() -> Path | None:
    """Directory holding ``initdb`` and ``pg_ctl``, newest installed version first."""
    on_path = shutil.which("initdb")
    if on_path and shutil.which("pg_ctl"):
        return Path(os.path.realpath(on_path)).parent
    candidates = sorted(
        glob.glob("/usr/lib/postgresql/*/bin"), key=lambda p: _version_key(p), reverse=True
    )
    for candidate in candidates:
        if (Path(candidate) / "initdb").exists() and (Path(candidate) / "pg_ctl").exists():
            return Path(candidate)
    return None


def _version_key(path: str) -> tuple[int, ...]:
    version = Path(path).parent.name
    return tuple(int(p) for p in version.split(".") if p.isdigit())


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class PostgresServer:
    """One cluster; ``url(dbname)`` gives a psycopg 3 SQLAlchemy URL."""

    def __init__(self, *, durable: bool = False) -> None:
        bindir = find_bindir()
        if bindir is None:
            raise PostgresUnavailable("PostgreSQL server binaries (initdb, pg_ctl) not found")
        self.bindir = bindir
        self.durable = durable  # False: fsync off, fine for throwaway test data
        self.port = 0
        self._as_user: list[str] = []
        self._uid: int | None = None
        if os.geteuid() == 0:
            try:
                entry = pwd.getpwnam("postgres")
            except KeyError as exc:
                raise PostgresUnavailable("running as root and no `postgres` OS user") from exc
            self._uid, self._gid = entry.pw_uid, entry.pw_gid
            self._as_user = ["runuser", "-u", "postgres", "--"]
        self.root = Path(tempfile.mkdtemp(prefix="depinkit-pg-"))
        self.datadir = self.root / "data"
        self.logfile = self.root / "server.log"

    def _run(self, *args: str) -> None:
        try:
            subprocess.run(
                [*self._as_user, *args], check=True, capture_output=True, timeout=START_TIMEOUT_S
            )
        except subprocess.CalledProcessError as exc:
            log = self.logfile.read_text() if self.logfile.exists() else ""
            raise PostgresUnavailable(
                f"{args[0]} failed: {exc.stderr.decode(errors='replace')}\n{log}"
            ) from exc

    def start(self) -> PostgresServer:
        if self._uid is not None:
            os.chown(self.root, self._uid, self._gid)
        self._run(
            str(self.bindir / "initdb"),
            "-D", str(self.datadir),
            "-U", SUPERUSER,
            "-A", "trust",
            "-E", "UTF8",
            "--no-sync",
        )  # fmt: skip
        options = [
            "-c listen_addresses=127.0.0.1",
            f"-k {self.root}",
            "-c max_connections=200",
        ]
        if not self.durable:
            options += ["-c fsync=off", "-c synchronous_commit=off", "-c full_page_writes=off"]
        for _attempt in range(3):  # a free port can be taken between probe and bind
            self.port = _free_port()
            try:
                self._run(
                    str(self.bindir / "pg_ctl"),
                    "-D", str(self.datadir),
                    "-l", str(self.logfile),
                    "-w", "-t", str(START_TIMEOUT_S),
                    "-o", " ".join([f"-p {self.port}", *options]),
                    "start",
                )  # fmt: skip
                return self
            except PostgresUnavailable:
                continue
        raise PostgresUnavailable(f"PostgreSQL did not start; see {self.logfile}")

    def stop(self) -> None:
        try:
            if self.datadir.exists():
                self._run(
                    str(self.bindir / "pg_ctl"), "-D", str(self.datadir), "-m", "immediate", "stop"
                )
        except PostgresUnavailable:
            pass
        finally:
            shutil.rmtree(self.root, ignore_errors=True)

    def url(self, dbname: str = "postgres") -> str:
        return f"postgresql+psycopg://{SUPERUSER}@127.0.0.1:{self.port}/{dbname}"

    def create_database(self, prefix: str = "t") -> str:
        """Create a fresh database and return its URL."""
        import psycopg

        name = f"{prefix}_{uuid.uuid4().hex[:16]}"
        with psycopg.connect(self._admin_dsn(), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def drop_database(self, url: str) -> None:
        import psycopg

        name = url.rsplit("/", 1)[1]
        with psycopg.connect(self._admin_dsn(), autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def create_schema(self, prefix: str = "t") -> str:
        """A URL whose connections see only a fresh, empty schema.

        Much cheaper than CREATE DATABASE (which copies a template and
        checkpoints): the way to isolate many short tests.
        """
        import psycopg

        name = f"{prefix}_{uuid.uuid4().hex[:16]}"
        with psycopg.connect(self._admin_dsn(), autocommit=True) as conn:
            conn.execute(f'CREATE SCHEMA "{name}"')
        return f"{self.url()}?options=-csearch_path%3D{name}"

    def drop_schema(self, url: str) -> None:
        import psycopg

        name = url.rsplit("%3D", 1)[1]
        with psycopg.connect(self._admin_dsn(), autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA IF EXISTS "{name}" CASCADE')

    def _admin_dsn(self) -> str:
        return f"host=127.0.0.1 port={self.port} user={SUPERUSER} dbname=postgres"

    def __enter__(self) -> PostgresServer:
        return self.start()

    def __exit__(self, *_exc: object) -> None:
        self.stop()
