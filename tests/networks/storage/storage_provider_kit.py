"""Real storage provider processes on loopback for the client and provider tests.

Each provider runs ``python -m depinkit.networks.storage.provider`` in its own session on
a port below the ephemeral range (so it can be restarted on the same port), logs to a
file in the test's tmp directory, and is stopped by the fixture that started it.
"""

from __future__ import annotations

import os
import random
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import httpx

from depinkit.core.envelope import ReportDomain
from depinkit.core.keys import Account
from depinkit.networks.storage.client import ProviderInfo

START_TIMEOUT_S = 60.0  # a provider must serve within this, or the test fails (no hang)
DOMAIN = ReportDomain(chain_id=31337, registry="0x" + "11" * 20)
AUDITOR = Account.from_key("0x" + "a1" * 32)
REPAIRER = Account.from_key("0x" + "b2" * 32)
CONSUMER = Account.from_key("0x" + "c3" * 32)
STRANGER = Account.from_key("0x" + "d4" * 32)
CELLS = ("831fb4fffffffff", "832830fffffffff", "83194dfffffffff")  # three H3 res-3 regions


def stable_port() -> int:
    """A free port below the ephemeral range: nobody takes it while the provider is down."""
    try:
        low = int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        low = 32768
    low = min(low, 32768)
    for _ in range(200):
        port = random.randint(max(1024, low - 20000), low - 1)
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError("no free port below the ephemeral range")


class ProviderProcess:
    """One provider process; ``start``/``kill``/``stop`` as a test needs."""

    def __init__(self, root: Path, number: int, *, capacity: int, extra: Sequence[str] = ()):
        self.account = Account.from_key((number + 1).to_bytes(32, "big"))
        self.data = root / f"provider-{number}"
        self.log = root / f"provider-{number}.log"
        self.port = stable_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.number = number
        self.argv = [
            sys.executable,
            "-m",
            "depinkit.networks.storage.provider",
            "--data",
            str(self.data),
            "--port",
            str(self.port),
            "--key",
            self.account.private_key.hex(),
            "--capacity",
            str(capacity),
            "--auditor",
            AUDITOR.address,
            "--repairer",
            REPAIRER.address,
            "--chain-id",
            str(DOMAIN.chain_id),
            "--registry",
            DOMAIN.registry,
            *extra,
        ]
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def info(self) -> ProviderInfo:
        owner = f"0x{self.number % 4 + 1:040x}"  # four owners among the providers
        return ProviderInfo(
            address=self.account.address,
            url=self.url,
            owner=owner,
            cell=CELLS[self.number % len(CELLS)],
        )

    def start(self) -> None:
        self.launch()
        self.wait_ready()

    def launch(self) -> None:
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(
                self.argv, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
            )

    def wait_ready(self) -> None:
        assert self.proc is not None
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"provider exited: {self.log.read_text()[-2000:]}")
            try:
                if httpx.get(f"{self.url}/v1/info", timeout=1.0).status_code == 200:
                    return
            except httpx.HTTPError:
                time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"provider did not start: {self.log.read_text()[-2000:]}")

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def kill(self) -> None:
        """SIGKILL: as a power cut would stop it."""
        if self.alive():
            assert self.proc is not None
            os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait()

    def stop(self) -> None:
        if self.alive():
            assert self.proc is not None
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.kill()

    def piece_paths(self) -> list[Path]:
        return sorted(p for p in (self.data / "pieces").glob("*/*") if p.suffix != ".json")


def start_all(procs: Sequence[ProviderProcess]) -> None:
    """Start every provider that is not running, in parallel (imports take seconds)."""
    dead = [p for p in procs if not p.alive()]
    for proc in dead:
        proc.launch()
    for proc in dead:
        proc.wait_ready()


@contextmanager
def providers(
    root: Path, count: int, *, capacity: int = 1 << 34, extra: Sequence[str] = ()
) -> Iterator[list[ProviderProcess]]:
    """``count`` running providers, stopped on exit whatever happens."""
    procs = [ProviderProcess(root, i, capacity=capacity, extra=extra) for i in range(count)]
    try:
        start_all(procs)
        yield procs
    finally:
        for proc in procs:
            proc.stop()
