"""Real processes for the fault test: oracle ingest services and the agent CLI.

Every process gets its own session so a SIGKILL hits exactly it, and its
output goes to a log file in the test's tmp_path that failures print.
"""

from __future__ import annotations

import os
import random
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import httpx

START_TIMEOUT_S = 60.0  # a process must be serving within this, or the test fails (no hang)
DEPINKIT = [sys.executable, "-m", "depinkit"]


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _ephemeral_low() -> int:
    try:
        return int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768


def stable_port() -> int:
    """A free port below the ephemeral range, for a server restarted on the same port.

    A port from ``bind(0)`` comes from the ephemeral range, where the kernel may
    hand it to any other socket while our server is dead between a SIGKILL and
    its restart; below that range only an explicit bind can take it.
    """
    low = min(_ephemeral_low(), 32768)
    for _ in range(200):
        port = random.randint(max(1024, low - 20000), low - 1)
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError("no free port below the ephemeral range")


def _oracle_serve_exists() -> bool:
    from depinkit.cli import oracle

    return any(
        (command.name or getattr(command.callback, "__name__", "")) == "serve"
        for command in oracle.app.registered_commands
    )


# Used only while `depinkit oracle serve` does not exist: the same app, same settings.
_FALLBACK_SERVE = """
from depinkit.networks import default_registry
from depinkit.oracle.app import create_app
from depinkit.oracle.server import run_server
from depinkit.oracle.settings import load_settings
from depinkit.oracle.store import Store
settings = load_settings()
store = Store.open(settings.db_url)
app = create_app(settings=settings, store=store, networks=default_registry())
run_server(app, settings.host, settings.port)
"""


class ManagedProcess:
    """A child process in its own session, with a log file."""

    def __init__(self, name: str, argv: list[str], log: Path, env: dict[str, str]) -> None:
        self.name = name
        self.argv = argv
        self.log = log
        self.env = env
        self.proc: subprocess.Popen[bytes] | None = None
        self.starts = 0

    def start(self) -> None:
        self.starts += 1
        with self.log.open("ab") as out:
            out.write(f"\n--- start #{self.starts}: {' '.join(self.argv)}\n".encode())
            out.flush()
            self.proc = subprocess.Popen(
                self.argv,
                stdout=out,
                stderr=subprocess.STDOUT,
                env={**os.environ, **self.env},
                start_new_session=True,
            )

    def kill(self) -> None:
        """SIGKILL: no cleanup, no flush, as a power cut would do."""
        assert self.proc is not None
        os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait()

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stop(self) -> None:
        if self.alive():
            assert self.proc is not None
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.kill()

    def tail(self, lines: int = 40) -> str:
        if not self.log.exists():
            return ""
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])


class OracleProcess(ManagedProcess):
    """`depinkit oracle serve` on a fixed loopback port with a SQLite store."""

    def __init__(self, name: str, tmp: Path, db_url: str, *, chain_id: int, registry: str) -> None:
        self.port = stable_port()
        self.url = f"http://127.0.0.1:{self.port}"
        env = {
            "DEPINKIT_ORACLE_DB_URL": db_url,
            "DEPINKIT_ORACLE_HOST": "127.0.0.1",
            "DEPINKIT_ORACLE_PORT": str(self.port),
            "DEPINKIT_ORACLE_CHAIN_ID": str(chain_id),
            "DEPINKIT_ORACLE_REGISTRY": registry,
        }
        if _oracle_serve_exists():
            argv = [*DEPINKIT, "oracle", "serve"]
        else:
            argv = [sys.executable, "-c", _FALLBACK_SERVE]
        super().__init__(name, argv, tmp / f"oracle-{name}.log", env)

    def start(self, *, wait: bool = True) -> None:
        super().start()
        if wait:
            self.wait_serving()

    def wait_serving(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            if not self.alive():
                raise RuntimeError(f"oracle {self.name} exited:\n{self.tail()}")
            try:
                if httpx.get(self.url + "/v1/health", timeout=1.0).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"oracle {self.name} did not start:\n{self.tail()}")
            time.sleep(0.05)


class OutboxProbe:
    """Reads the agent's outbox from outside the agent process (WAL allows it)."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def _query(self, sql: str, params: tuple[object, ...] = ()) -> int:
        if not self.path.exists():
            return 0
        db = sqlite3.connect(self.path, timeout=10)
        try:
            return int(db.execute(sql, params).fetchone()[0])
        except sqlite3.OperationalError:  # tables not created yet
            return 0
        finally:
            db.close()

    def reports(self) -> int:
        return self._query("SELECT count(*) FROM reports")

    def acked(self, oracle: str) -> int:
        return self._query(
            "SELECT count(*) FROM deliveries WHERE oracle = ? AND state = 'acked'", (oracle,)
        )

    def attempts(self, oracle: str) -> int:
        return self._query(
            "SELECT coalesce(sum(attempts), 0) FROM deliveries WHERE oracle = ?", (oracle,)
        )
