"""THE fault test: 10,000 reports through SIGKILLs of the ingest and of the agent.

Real processes only: two `depinkit oracle serve` processes (SQLite stores) and
one `depinkit agent emit --deliver` process. While the agent signs and
delivers 10,000 heartbeats, the agent itself is SIGKILLed and restarted once
and oracle ``a`` three times; oracle ``b`` runs throughout. At the end each oracle's
store holds exactly the agent's 10,000 reports: none lost, none twice, and
the agent's sequence numbers run 0..9,999 without a gap or a reuse.

Kills are placed by progress (acknowledged or committed counts read from the
outbox), never by wall-clock time.
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from depinkit.agent.config import load_config
from depinkit.core.envelope import decode_report
from depinkit.core.keystore import read_keystore_address
from depinkit.oracle.store import Store

from .conftest import CHAIN_ID, REGISTRY
from .oracles import seed_device, sqlite_url, stored_ids
from .processes import DEPINKIT, ManagedProcess, OracleProcess, OutboxProbe

TOTAL = 10_000
PHASE_TIMEOUT_S = 90.0  # any one phase stuck this long is a hang, reported as a failure


def wait_for(what: str, condition: Callable[[], bool], procs: list[ManagedProcess]) -> None:
    started = time.monotonic()
    deadline = time.monotonic() + PHASE_TIMEOUT_S
    while not condition():
        if time.monotonic() > deadline:
            logs = "\n".join(f"== {p.name}\n{p.tail()}" for p in procs)
            raise AssertionError(f"timed out waiting for {what}\n{logs}")
        time.sleep(0.02)
    print(f"{what}: {time.monotonic() - started:.1f}s")  # shown with -s; phases, not asserted


@pytest.fixture
def cleanup() -> Iterator[list[ManagedProcess]]:
    procs: list[ManagedProcess] = []
    yield procs
    for proc in procs:
        proc.stop()


@pytest.mark.slow
def test_ten_thousand_reports_survive_sigkills(
    tmp_path: Path, cleanup: list[ManagedProcess]
) -> None:
    # Two oracles, each with its own store, the same report domain as the agent.
    dbs = {name: sqlite_url(tmp_path / f"oracle-{name}.sqlite3") for name in ("a", "b")}
    oracles = {
        name: OracleProcess(name, tmp_path, url, chain_id=CHAIN_ID, registry=REGISTRY)
        for name, url in dbs.items()
    }
    cleanup.extend(oracles.values())

    # The device, made by the real CLI.
    data_dir = tmp_path / "device"
    init = subprocess.run(
        [
            *DEPINKIT, "agent", "init",
            "--data-dir", str(data_dir),
            "--chain-id", str(CHAIN_ID),
            "--registry", REGISTRY,
            "--oracle", f"a={oracles['a'].url}",
            "--oracle", f"b={oracles['b'].url}",
            "--owner", "0x70997970C51812dc3A010C7d01b50e0d17dc79C8",
            "--h3-cell", "8928308280fffff",
            "--scrypt-n", "1024",
        ],
        capture_output=True,
        text=True,
        env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)},
    )  # fmt: skip
    assert init.returncode == 0, init.stderr + init.stdout
    config = load_config(data_dir / "agent.toml", env={})
    device = "0x" + (read_keystore_address(data_dir / "device.json") or "").removeprefix("0x")
    from depinkit.core.keys import to_checksum

    device = to_checksum(device)
    for url in dbs.values():
        seed_device(url, device)  # the oracle knows the device as active
    for oracle in oracles.values():
        oracle.start(wait=False)
    for oracle in oracles.values():
        oracle.wait_serving()

    agent = ManagedProcess(
        "agent",
        [
            *DEPINKIT,
            "agent",
            "emit",
            "--config",
            str(data_dir),
            "--count",
            str(TOTAL),
            "--total",
            "--chunk",
            "50",
            "--rate",
            "1000",
            "--deliver",
        ],
        tmp_path / "agent.log",
        # quick retries so the outages cost seconds, not minutes
        {
            "DEPINKIT_AGENT_SENDER_INITIAL_BACKOFF_MS": "50",
            "DEPINKIT_AGENT_SENDER_MAX_BACKOFF_MS": "400",
            "DEPINKIT_AGENT_SENDER_IDLE_POLL_S": "0.1",
            "DEPINKIT_AGENT_SENDER_BATCH_SIZE": "200",
            "DEPINKIT_AGENT_SENDER_REQUEST_TIMEOUT_S": "5",
        },
    )
    cleanup.append(agent)
    probe = OutboxProbe(config.outbox_path)
    everyone: list[ManagedProcess] = [agent, *oracles.values()]

    def bounce(name: str) -> None:
        """SIGKILL oracle ``name``, let the agent fail against it, restart it.

        The restart does not wait for the oracle to serve: the agent keeps
        signing and delivering to the other oracle meanwhile, and the next
        phase waits for this oracle's acknowledgements anyway.
        """
        oracle = oracles[name]
        oracle.kill()
        tried = probe.attempts(name)
        wait_for(
            f"the agent to hit dead oracle {name}", lambda: probe.attempts(name) > tried, everyone
        )
        oracle.start(wait=False)

    agent.start()
    wait_for("1,500 reports committed", lambda: probe.reports() >= 1_500, everyone)
    agent.kill()  # mid-stream: between commits, sends and acknowledgements
    agent.start()
    for threshold in (3_000, 5_000, 7_000):
        wait_for(f"a to ack {threshold}", lambda t=threshold: probe.acked("a") >= t, everyone)  # type: ignore[misc]
        assert probe.reports() < TOTAL or probe.acked("a") < TOTAL, "nothing left to interrupt"
        bounce("a")

    assert agent.proc is not None
    wait_for("the agent to deliver everything and exit", lambda: not agent.alive(), everyone)
    assert agent.proc.returncode == 0, agent.tail()
    assert [o.starts for o in oracles.values()] == [4, 1] and agent.starts == 2

    # The agent: exactly TOTAL reports, seqs 0..TOTAL-1, every one acked by both.
    import sqlite3

    db = sqlite3.connect(config.outbox_path)
    rows = db.execute("SELECT seq, report_id, encoded FROM reports ORDER BY seq").fetchall()
    states = dict(db.execute("SELECT state, count(*) FROM deliveries GROUP BY state").fetchall())
    db.close()
    assert [seq for seq, _, _ in rows] == list(range(TOTAL))
    assert states == {"acked": 2 * TOTAL}
    agent_ids = sorted(bytes(rid) for _, rid, _ in rows)
    assert len(set(agent_ids)) == TOTAL

    # Each oracle: exactly those TOTAL reports, none twice, byte for byte.
    for oracle in oracles.values():
        oracle.stop()
    for name, url in dbs.items():
        ids = stored_ids(url)
        assert len(ids) == len(set(ids)) == TOTAL, name
        assert sorted(ids) == agent_ids, name
        store = Store.open(url)
        try:
            assert store.count_reports() == TOTAL
            sample = store.get_report(bytes(rows[4321][1]))
            assert sample is not None and sample.raw == bytes(rows[4321][2])
            assert decode_report(sample.raw).seq == 4321
        finally:
            store.close()
