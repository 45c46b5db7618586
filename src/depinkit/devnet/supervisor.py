"""Start, watch and stop the processes of a local network.

The devnet runs every component as its own OS process, as in production, so a
crash or a hang in one of them shows up the way an operator would see it. This
module owns nothing but process lifetimes: each child gets its own process
group and log file, and stopping is SIGTERM, a grace period, then SIGKILL.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from depinkit.core.errors import DepinkitError

STOP_GRACE_S: float = 10.0  # long enough for uvicorn to finish in-flight requests
READY_POLL_S: float = 0.1


class ProcessError(DepinkitError):
    """A child process failed to start, or died while it was needed."""


@dataclass
class Child:
    name: str
    argv: list[str]
    log_path: Path
    process: subprocess.Popen[bytes]

    @property
    def pid(self) -> int:
        return self.process.pid

    def alive(self) -> bool:
        return self.process.poll() is None

    def tail(self, lines: int = 20) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])


@dataclass
class Supervisor:
    """A group of child processes stopped together, newest first."""

    log_dir: Path
    env: Mapping[str, str] = field(default_factory=lambda: dict(os.environ))
    children: list[Child] = field(default_factory=list)

    def start(
        self, name: str, argv: Sequence[str], *, env: Mapping[str, str] | None = None
    ) -> Child:
        self.log_dir.mkdir(parents=True, exist_ok=True)
        log_path = self.log_dir / f"{name}.log"
        merged = {**self.env, **(env or {})}
        with log_path.open("ab") as log:
            process = subprocess.Popen(
                list(argv),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=merged,
                start_new_session=True,  # Ctrl-C in the terminal reaches only the supervisor
            )
        child = Child(name=name, argv=list(argv), log_path=log_path, process=process)
        self.children.append(child)
        return child

    def wait_until(
        self, child: Child, ready: Callable[[], bool], *, timeout_s: float = 60.0
    ) -> None:
        """Poll `ready` until it holds; fail early, with the log tail, if the child dies."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if not child.alive():
                raise ProcessError(
                    f"{child.name} exited with code {child.process.returncode}:\n{child.tail()}"
                )
            try:
                if ready():
                    return
            except (httpx.HTTPError, OSError):
                pass
            time.sleep(READY_POLL_S)
        raise ProcessError(f"{child.name} not ready after {timeout_s:.0f}s:\n{child.tail()}")

    def wait_http(self, child: Child, url: str, *, timeout_s: float = 60.0) -> None:
        def ready() -> bool:
            return httpx.get(url, timeout=2.0).status_code < 500

        self.wait_until(child, ready, timeout_s=timeout_s)

    def dead(self) -> list[Child]:
        return [c for c in self.children if not c.alive()]

    def stop(self, child: Child, *, grace_s: float = STOP_GRACE_S) -> int:
        """SIGTERM the child's process group, then SIGKILL after the grace period."""
        if child.alive():
            _signal_group(child.process, signal.SIGTERM)
            try:
                child.process.wait(timeout=grace_s)
            except subprocess.TimeoutExpired:
                _signal_group(child.process, signal.SIGKILL)
                child.process.wait()
        if child in self.children:
            self.children.remove(child)
        return child.process.returncode

    def stop_all(self, *, grace_s: float = STOP_GRACE_S) -> None:
        for child in reversed(list(self.children)):
            self.stop(child, grace_s=grace_s)

    def __enter__(self) -> Supervisor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop_all()


def _signal_group(process: subprocess.Popen[bytes], sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, sig)
