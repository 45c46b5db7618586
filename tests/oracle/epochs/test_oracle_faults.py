"""Fault tests with real processes: an oracle killed mid-epoch, the quorum settles, it catches up.

Three oracles (M = 2), each a `depinkit oracle serve` and a `depinkit oracle settle` process
on its own SQLite store, against a real anvil. During epoch 1 oracle 2 holds only one of the
epoch's three reports when both its processes are killed with SIGKILL; oracles 0 and 1
settle epochs 1 and 2 without it. Restarted on the same store and port, oracle 2
reconciles the reports it missed from its peers, computes the very roots the chain holds
(as the RootSubmitted events record them) and marks the epochs submitted without sending a
transaction of its own.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any, Final

import httpx
import msgspec
import pytest

from depinkit.chain.anvil import free_port
from depinkit.core.envelope import Report, encode_report
from depinkit.core.keystore import save_keystore
from depinkit.oracle.epochs import COLLECTED, SUBMITTED

from .network import Net, Oracle, local_network

pytestmark = [pytest.mark.anvil, pytest.mark.slow]

PASSPHRASE: Final[str] = "correct horse"
FAST_SCRYPT_N: Final[int] = 2**4  # tests only: a keystore that opens instantly
SETTLE_TIMEOUT_S: Final[float] = 120.0  # generous bound on a busy machine (not asserted)
POLL_S: Final[float] = 0.1  # seconds between two looks at a process's state
SETTLE_POLL_S: Final[str] = "0.2"  # the settle loop's pass interval (seconds, env override)
# The chain clock runs minutes ahead of the wall clock once the test moves it over epochs;
# serve judges report timestamps by the wall clock, so widen its "future" window (1 h).
MAX_FUTURE_MS: Final[str] = str(3_600_000)


@dataclass
class Member:
    """One oracle's processes: its serve (fixed port, so peers find it again) and settle."""

    oracle: Oracle
    port: int
    key_file: Path
    serve: subprocess.Popen[bytes] | None = None
    settle: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


def _env() -> dict[str, str]:
    return {
        **os.environ,
        "DEPINKIT_PASSPHRASE": PASSPHRASE,
        "DEPINKIT_ORACLE_MAX_FUTURE_MS": MAX_FUTURE_MS,
        "DEPINKIT_ORACLE_POLL_INTERVAL_S": SETTLE_POLL_S,
    }


def _wait(what: str, ready: Callable[[], bool], logs: Sequence[Path] = ()) -> None:
    deadline = time.monotonic() + SETTLE_TIMEOUT_S
    while not ready():
        if time.monotonic() > deadline:
            tails = "\n".join(f"--- {p.name}\n{p.read_text()[-3000:]}" for p in logs)
            raise AssertionError(f"timed out waiting for {what}\n{tails}")
        time.sleep(POLL_S)


def _epoch_info(url: str, epoch: int) -> dict[str, Any] | None:
    try:
        response = httpx.get(f"{url}/v1/epochs/{epoch}", timeout=5)
    except httpx.TransportError:
        return None
    if response.status_code != 200:
        return None
    info: dict[str, Any] = response.json()
    return info


def _state(url: str, epoch: int) -> str | None:
    info = _epoch_info(url, epoch)
    return None if info is None else str(info["state"])


class Cluster:
    """Starts and kills the members' processes; every process is reaped on exit."""

    def __init__(self, net: Net, tmp_path: Path, stack: ExitStack) -> None:
        self.net = net
        self.tmp_path = tmp_path
        self.manifest = net.depin.deployment.save(tmp_path / "deployment.json")
        self.rpc: str = net.chain.w3.provider.endpoint_uri  # type: ignore[attr-defined]
        self.members = [
            Member(
                oracle,
                free_port(),
                save_keystore(
                    oracle.key, tmp_path / f"key-{i}.json", PASSPHRASE, iterations=FAST_SCRYPT_N
                ),
            )
            for i, oracle in enumerate(net.oracles)
        ]
        self._runs = 0
        stack.callback(self._stop_all)

    def log(self, name: str) -> Path:
        self._runs += 1
        return self.tmp_path / f"{name}-{self._runs}.log"

    def logs(self) -> list[Path]:
        return sorted(self.tmp_path.glob("*.log"))

    def _spawn(self, command: list[str], log: Path) -> subprocess.Popen[bytes]:
        with log.open("wb") as sink:
            return subprocess.Popen(command, stdout=sink, stderr=subprocess.STDOUT, env=_env())

    def start(self, *indices: int) -> None:
        """Start the members' serve processes together, then (once healthy) their settles."""
        deployment = self.net.depin.deployment
        for i in indices:
            member = self.members[i]
            member.serve = self._spawn(
                [
                    sys.executable, "-m", "depinkit", "oracle", "serve",
                    "--db", member.oracle.db_url, "--port", str(member.port),
                    "--chain-id", str(deployment.chain_id), "--registry", deployment.registry,
                ],
                self.log(f"serve-{i}"),
            )  # fmt: skip
        for i in indices:
            member = self.members[i]
            _wait(f"serve {i}", partial(self._healthy, member), self.logs())
            peers = [a for m in self.members if m is not member for a in ("--peer", m.url)]
            member.settle = self._spawn(
                [
                    sys.executable, "-m", "depinkit", "oracle", "settle",
                    "--rpc", self.rpc, "--manifest", str(self.manifest),
                    "--db", member.oracle.db_url, "--key-file", str(member.key_file),
                    "--grace", "1", *peers,
                ],
                self.log(f"settle-{i}"),
            )  # fmt: skip

    def _healthy(self, member: Member) -> bool:
        assert member.serve is not None and member.serve.poll() is None, "serve exited"
        try:
            return httpx.get(f"{member.url}/v1/health", timeout=1).status_code == 200
        except httpx.TransportError:
            return False

    def kill(self, i: int) -> None:
        """SIGKILL both processes: no handler runs, nothing is flushed or closed."""
        member = self.members[i]
        for process in (member.settle, member.serve):
            assert process is not None and process.poll() is None, "already gone"
            process.send_signal(signal.SIGKILL)
            assert process.wait(timeout=20) == -signal.SIGKILL
        member.serve = member.settle = None

    def _stop_all(self) -> None:
        for member in self.members:
            for process in (member.settle, member.serve):
                if process is not None and process.poll() is None:
                    process.terminate()
                    try:
                        process.wait(timeout=20)
                    except subprocess.TimeoutExpired:
                        process.kill()
                        process.wait(timeout=20)

    def post(self, i: int, reports: Sequence[Report]) -> None:
        body = msgspec.msgpack.encode({"reports": [encode_report(r) for r in reports]})
        answer = httpx.post(
            f"{self.members[i].url}/v1/reports",
            content=body,
            headers={"content-type": "application/msgpack"},
            timeout=30,
        )
        assert answer.status_code == 200, answer.text
        assert answer.json()["accepted"] == len(reports), answer.text


def _rpc(net: Net, method: str, params: list[Any]) -> None:
    response = net.chain.w3.provider.make_request(method, params)  # type: ignore[arg-type]
    assert "error" not in response, response


def _advance_to(net: Net, timestamp_s: int) -> None:
    """Mine the next block at ``timestamp_s`` (the chain clock is frozen, see ``cluster``)."""
    _rpc(net, "evm_setNextBlockTimestamp", [max(timestamp_s, net.chain.now() + 1)])
    _rpc(net, "evm_mine", [])


@contextmanager
def cluster(tmp_path: Path) -> Iterator[tuple[Net, Cluster]]:
    """The network with its chain clock decoupled from the wall clock.

    Every block is one second after its parent, so only the test moves the chain from one
    epoch to the next: however slowly the processes start on a busy machine, an epoch
    cannot end behind the test's back.
    """
    with local_network(tmp_path) as net, ExitStack() as stack:
        _rpc(net, "anvil_setBlockTimestampInterval", [1])
        yield net, Cluster(net, tmp_path, stack)


def _roots_on_chain(net: Net) -> list[tuple[int, str]]:
    """(epoch, 0x root) of every RootSubmitted event, in order."""
    event = net.depin.rewards.contract.events.RootSubmitted()
    logs = event.get_logs(from_block=net.depin.deployment.deployment_block)
    return [(int(log["args"]["epoch"]), "0x" + bytes(log["args"]["root"]).hex()) for log in logs]


def test_killed_oracle_misses_epochs_then_catches_up(tmp_path: Path) -> None:
    with cluster(tmp_path) as (net, procs):
        urls = [m.url for m in procs.members]
        _advance_to(net, net.epoch_start_s(1) + 2)  # epoch 0 is over (grace 1 s)
        procs.start(0, 1, 2)
        # Every settle loop settles the empty epoch 0 and opens epoch 1 (its beacon is served).
        _wait(
            "epoch 0 settled and epoch 1 opened everywhere",
            lambda: all(_state(u, 0) == SUBMITTED and _state(u, 1) == COLLECTED for u in urls),
            procs.logs(),
        )

        d0, d1, d2 = net.devices
        first = [net.heartbeat(d, 1, seq=1) for d in (d0, d1, d2)]
        procs.post(0, first)
        procs.post(1, first[1:])
        procs.post(2, first[:1])  # oracle 2 holds one report of three ...
        procs.kill(2)  # ... when it dies in the middle of epoch 1

        _advance_to(net, net.epoch_start_s(2) + 2)  # epoch 1 ends while oracle 2 is down
        live = urls[:2]
        _wait(
            "epoch 1 settled by oracles 0 and 1",
            lambda: (
                all(_state(u, 1) == SUBMITTED for u in live) and net.depin.rewards.last_epoch() == 1
            ),
            procs.logs(),
        )
        _wait("epoch 2 opened", lambda: all(_state(u, 2) == COLLECTED for u in live))
        second = [net.heartbeat(d, 2, seq=2) for d in (d0, d1, d2)]
        procs.post(0, second[:2])  # oracles 0 and 1 see different sets: they reconcile
        procs.post(1, second[2:])
        _advance_to(net, net.epoch_start_s(3) + 2)
        _wait(
            "epoch 2 settled by oracles 0 and 1",
            lambda: (
                all(_state(u, 2) == SUBMITTED for u in live) and net.depin.rewards.last_epoch() == 2
            ),
            procs.logs(),
        )
        before = _roots_on_chain(net)
        assert [e for e, _ in before] == [0, 1, 2]
        assert _state(urls[0], 1) == SUBMITTED

        procs.start(2)  # same store, key and port
        _wait(
            "oracle 2 caught up on epochs 1 and 2",
            lambda: all(_state(urls[2], e) == SUBMITTED for e in (1, 2)),
            procs.logs(),
        )
        infos = {e: [_epoch_info(u, e) for u in urls] for e in (1, 2)}
        ids = {
            e: [httpx.get(f"{u}/v1/epochs/{e}/report-ids", timeout=10).json()["ids"] for u in urls]
            for e in (1, 2)
        }

        chain_roots = dict(before)
        assert _roots_on_chain(net) == before  # the restarted oracle sent no second root
        for epoch in (1, 2):
            assert len(ids[epoch][0]) == 3
            assert ids[epoch][0] == ids[epoch][1] == ids[epoch][2]  # reconciled: the same reports
            rows = [i for i in infos[epoch] if i is not None]
            assert len(rows) == 3
            assert {r["root"] for r in rows} == {chain_roots[epoch]}
            assert len({r["manifest_hash"] for r in rows}) == 1
            assert rows[2].get("tx_hash") is None  # recorded as already on chain
        assert "0x" + net.depin.rewards.root().hex() == chain_roots[2]
        caught_up = net.oracles[2].epochs
        row1 = caught_up.get(1)
        assert row1 is not None and row1.root is not None
        assert "0x" + row1.root.hex() == chain_roots[1]
        assert row1.tx_hash is None
