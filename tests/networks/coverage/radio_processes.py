"""The simulated radio medium as a real process on a free loopback port, for tests."""

from __future__ import annotations

import selectors
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from depinkit.networks.coverage.radio.backend import RadioError
from depinkit.networks.coverage.radio.server import MediumOperator

START_TIMEOUT_S = 60.0  # the medium must serve within this, or the test fails (no hang)
MEDIUM = [sys.executable, "-m", "depinkit.networks.coverage.radio.server"]


@contextmanager
def medium_process(log_dir: Path, *, seed: int = 7, extra: tuple[str, ...] = ()) -> Iterator[str]:
    """Start ``python -m ...radio.server --port 0``, yield its URL, stop it afterwards."""
    log = log_dir / f"medium-{seed}.log"
    with log.open("wb") as err:
        proc = subprocess.Popen(
            [*MEDIUM, "--port", "0", "--seed", str(seed), *extra],
            stdout=subprocess.PIPE,
            stderr=err,
            start_new_session=True,
        )
    try:
        url = _wait_serving(proc, log)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        assert proc.stdout is not None
        proc.stdout.close()


def _wait_serving(proc: subprocess.Popen[bytes], log: Path) -> str:
    assert proc.stdout is not None
    deadline = time.monotonic() + START_TIMEOUT_S
    selector = selectors.DefaultSelector()
    selector.register(proc.stdout, selectors.EVENT_READ)
    try:
        if not selector.select(timeout=START_TIMEOUT_S):
            raise RuntimeError(f"medium printed no address:\n{log.read_text()}")
    finally:
        selector.close()
    line = proc.stdout.readline().decode().strip()
    prefix = "medium listening on "
    if not line.startswith(prefix):
        raise RuntimeError(f"unexpected first line {line!r}:\n{log.read_text()}")
    url = line.removeprefix(prefix)
    while True:
        if proc.poll() is not None:
            raise RuntimeError(f"medium exited:\n{log.read_text()}")
        try:
            MediumOperator(url, timeout_s=1.0).health()
            return url
        except RadioError:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"medium did not start:\n{log.read_text()}")
        time.sleep(0.05)
