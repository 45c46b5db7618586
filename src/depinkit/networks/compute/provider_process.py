"""Start provider processes on this machine: for tests, benchmarks and the devnet.

Each :func:`start_provider` runs ``python -m depinkit.networks.compute.provider`` on a free
loopback port with a fresh device key (passed in the environment, never on the command
line) and returns once the provider answers ``GET /v1/info``.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from typing import Final

import httpx

from depinkit.core.keys import Account
from depinkit.networks.compute.provider import KEY_ENV

READY_TIMEOUT_S: Final[float] = 120.0  # seconds to import, start workers and listen (loaded CI)
READY_POLL_S: Final[float] = 0.05  # seconds between readiness probes
STOP_TIMEOUT_S: Final[float] = 10.0  # seconds a provider gets to close its workers on SIGTERM


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class ProviderProcess:
    account: Account
    url: str
    process: subprocess.Popen[bytes]

    def stop(self) -> None:
        """SIGTERM (the provider closes its sandbox workers), SIGKILL if it lingers."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def launch_provider(
    *extra: str, workers: int = 1, account: Account | None = None
) -> ProviderProcess:
    """Start a provider process without waiting for it (see :func:`wait_ready`)."""
    account = account or Account.generate()
    port = free_port()
    env = {**os.environ, KEY_ENV: account.private_key.hex()}
    argv = [sys.executable, "-m", "depinkit.networks.compute.provider"]
    argv += ["--port", str(port), "--workers", str(workers), *extra]
    process = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return ProviderProcess(account, f"http://127.0.0.1:{port}", process)


def wait_ready(provider: ProviderProcess, timeout_s: float = READY_TIMEOUT_S) -> None:
    """Return once ``provider`` answers; RuntimeError (and the process killed) otherwise."""
    deadline = time.monotonic() + timeout_s
    while True:
        if provider.process.poll() is not None:
            raise RuntimeError(f"provider exited with {provider.process.returncode}")
        try:
            if httpx.get(provider.url + "/v1/info", timeout=1.0).status_code == 200:
                return
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline:
            provider.stop()
            raise RuntimeError(f"provider at {provider.url} did not start in {timeout_s} s")
        time.sleep(READY_POLL_S)


def start_provider(
    *extra: str, workers: int = 1, account: Account | None = None
) -> ProviderProcess:
    """A running provider process (extra command-line options in ``extra``)."""
    provider = launch_provider(*extra, workers=workers, account=account)
    wait_ready(provider)
    return provider


def start_providers(count: int, *extra: str, workers: int = 1) -> list[ProviderProcess]:
    """``count`` providers started in parallel; all stopped again if one fails."""
    providers = [launch_provider(*extra, workers=workers) for _ in range(count)]
    try:
        for provider in providers:
            wait_ready(provider)
    except BaseException:
        for provider in providers:
            provider.stop()
        raise
    return providers
