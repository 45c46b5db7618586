"""How the devnet tests start a devnet: one command line, one process owner."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


def devnet_argv(
    data: Path,
    *,
    epoch_s: int,
    duration_s: int,
    devices: int = 1,
    oracles: int = 3,
    threshold: int = 2,
    storage_providers: int = 0,
    compute_providers: int = 0,
    hotspots: int = 0,
) -> list[str]:
    """`depinkit devnet` with every network's size given: a test runs only what it checks."""
    return [
        sys.executable, "-m", "depinkit", "devnet",
        "--data-dir", str(data),
        "--devices", str(devices), "--oracles", str(oracles), "--threshold", str(threshold),
        "--storage-providers", str(storage_providers),
        "--compute-providers", str(compute_providers),
        "--hotspots", str(hotspots),
        "--epoch-length", str(epoch_s), "--duration", str(duration_s), "--no-live",
    ]  # fmt: skip


@contextmanager
def running_devnet(argv: list[str], log: Path, cwd: Path) -> Iterator[subprocess.Popen[bytes]]:
    """The devnet process, its output in ``log``; stopped (SIGTERM, then SIGKILL) on exit."""
    with log.open("wb") as out:
        process = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, cwd=cwd)
    try:
        yield process
    finally:
        if process.poll() is None:
            process.terminate()  # the devnet stops its children on SIGTERM
            try:
                process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
