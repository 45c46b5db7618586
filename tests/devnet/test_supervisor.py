"""The devnet's process supervisor, on real child processes."""

from __future__ import annotations

import socket
import sys
from pathlib import Path

import pytest

from depinkit.devnet.supervisor import ProcessError, Supervisor


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_waits_for_http_and_stops_cleanly(tmp_path: Path) -> None:
    port = free_port()
    with Supervisor(log_dir=tmp_path) as sup:
        child = sup.start(
            "web", [sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1"]
        )
        sup.wait_http(child, f"http://127.0.0.1:{port}/", timeout_s=30)
        assert child.alive()
        code = sup.stop(child)
    assert code is not None and not child.alive()
    assert sup.children == []


def test_child_ignoring_sigterm_is_killed(tmp_path: Path) -> None:
    script = (
        "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
        "print('up', flush=True); time.sleep(60)"
    )
    sup = Supervisor(log_dir=tmp_path)
    child = sup.start("stubborn", [sys.executable, "-c", script])
    sup.wait_until(child, lambda: "up" in child.tail(), timeout_s=30)
    code = sup.stop(child, grace_s=0.5)
    assert code == -9


def test_child_that_dies_fails_fast_with_its_log(tmp_path: Path) -> None:
    sup = Supervisor(log_dir=tmp_path)
    child = sup.start("crash", [sys.executable, "-c", "import sys; print('boom'); sys.exit(3)"])
    with pytest.raises(ProcessError, match="boom"):
        sup.wait_until(child, lambda: False, timeout_s=30)
    assert sup.dead() == [child]
    sup.stop_all()
