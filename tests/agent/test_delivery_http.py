"""The agent against the real ingest service over HTTP on loopback.

Each oracle is D's FastAPI app served by uvicorn in a thread, with its own
SQLite store; the agent uses a real ``httpx.Client``. The last test runs
``depinkit oracle serve`` as its own process, as the fault test does.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path

import httpx
import pytest

from depinkit.agent.clock import SystemClock
from depinkit.agent.roles import ReportDraft
from depinkit.agent.runtime import AgentRuntime, build_runtime
from depinkit.core.keys import Account, keccak256
from depinkit.networks import default_registry
from depinkit.networks.uptime import Heartbeat
from depinkit.oracle.app import create_app
from depinkit.oracle.server import ServerThread
from depinkit.oracle.settings import OracleSettings
from depinkit.oracle.store import DeviceStatus, Store

from .conftest import CHAIN_ID, REGISTRY, make_config
from .oracles import seed_device, sqlite_url, stored_ids
from .processes import OracleProcess


class RealOracle:
    def __init__(self, url: str, store: Store, server: ServerThread) -> None:
        self.db_url = url
        self.store = store
        self.server = server


@pytest.fixture
def start_oracle(tmp_path: Path) -> Iterator[Callable[..., RealOracle]]:
    with ExitStack() as stack:

        def start(name: str, *, chain_id: int = CHAIN_ID, url: str | None = None) -> RealOracle:
            url = url or sqlite_url(tmp_path / f"{name}.sqlite3")
            store = Store.open(url, migrate=True)
            stack.callback(store.close)
            settings = OracleSettings(db_url=url, chain_id=chain_id, registry=REGISTRY)
            app = create_app(settings=settings, store=store, networks=default_registry())
            server = ServerThread(app).start()
            stack.callback(server.stop)
            return RealOracle(url, store, server)

        yield start


def agent(tmp_path: Path, account: Account, oracles: dict[str, RealOracle]) -> AgentRuntime:
    config = make_config(
        tmp_path / "agent",
        {name: o.server.url for name, o in oracles.items()},
        sender={"initial_backoff_ms": 20, "max_backoff_ms": 200, "idle_poll_s": 0.05},
    )
    return build_runtime(
        config,
        account,
        roles=[],
        client=httpx.Client(),
        clock=SystemClock(),
        rng=random.Random(0),
    )


def heartbeats(n: int) -> list[ReportDraft]:
    return [ReportDraft("uptime", "heartbeat", Heartbeat(uptime_s=i)) for i in range(n)]


def test_every_oracle_stores_every_report(
    tmp_path: Path, account: Account, start_oracle: Callable[..., RealOracle], db_url: str
) -> None:
    """Oracle ``a`` stores in ``db_url`` (SQLite, then PostgreSQL), ``b`` in SQLite."""
    oracles = {"a": start_oracle("a", url=db_url), "b": start_oracle("b")}
    for oracle in oracles.values():
        seed_device(oracle.db_url, account.address)
    runtime = agent(tmp_path, account, oracles)
    try:
        runtime.enqueue(heartbeats(300))
        runtime.run(until_delivered=True)
        ids = runtime.outbox.report_ids()
        for oracle in oracles.values():
            assert sorted(stored_ids(oracle.db_url)) == sorted(ids)
        assert all(c.acked == 300 and c.failed == 0 for c in runtime.outbox.counts())
    finally:
        runtime.close()


def test_unknown_device_is_retried_until_the_oracle_knows_it(
    tmp_path: Path, account: Account, start_oracle: Callable[..., RealOracle]
) -> None:
    oracle = start_oracle("a")
    runtime = agent(tmp_path, account, {"a": oracle})
    try:
        runtime.enqueue(heartbeats(5))
        for _ in range(3):
            runtime.sender.step()
        assert runtime.sender.last_error("a") == "unknown_device"
        assert runtime.outbox.counts()[0].pending == 5
        seed_device(oracle.db_url, account.address)  # the indexer caught up
        runtime.run(until_delivered=True)
        assert len(stored_ids(oracle.db_url)) == 5
    finally:
        runtime.close()


@pytest.mark.parametrize(
    ("chain_id", "network_id", "status", "code"),
    [
        (CHAIN_ID + 1, None, DeviceStatus.ACTIVE, "bad_signature"),  # oracle of another chain
        (CHAIN_ID, "0x" + keccak256(b"storage").hex(), DeviceStatus.ACTIVE, "network_mismatch"),
    ],
)
def test_permanent_rejection_is_recorded_not_retried(
    tmp_path: Path,
    account: Account,
    start_oracle: Callable[..., RealOracle],
    chain_id: int,
    network_id: str | None,
    status: str,
    code: str,
) -> None:
    oracle = start_oracle("a", chain_id=chain_id)
    kwargs = {} if network_id is None else {"network_id": network_id}
    seed_device(oracle.db_url, account.address, status=status, **kwargs)
    runtime = agent(tmp_path, account, {"a": oracle})
    try:
        runtime.enqueue(heartbeats(3))
        runtime.run(until_delivered=True)
        (counts,) = runtime.outbox.counts()
        assert (counts.acked, counts.failed, counts.pending) == (0, 3, 0)
        assert {r.error_code for r in runtime.outbox.rejections()} == {code}
        assert stored_ids(oracle.db_url) == []
    finally:
        runtime.close()


def test_agent_restart_resends_unacknowledged_as_duplicates(
    tmp_path: Path, account: Account, start_oracle: Callable[..., RealOracle]
) -> None:
    """An oracle that stored a batch whose ack the agent never recorded says duplicate."""
    oracle = start_oracle("a")
    seed_device(oracle.db_url, account.address)
    runtime = agent(tmp_path, account, {"a": oracle})
    runtime.enqueue(heartbeats(10))
    # deliver behind the agent's back, as if it died right after the oracle's commit
    from depinkit.agent.sender import encode_batch

    body = encode_batch([item.encoded for item in runtime.outbox.due("a", 2**62, 100)])
    response = httpx.post(
        oracle.server.url + "/v1/reports",
        content=body,
        headers={"content-type": "application/msgpack"},
    )
    assert response.json()["accepted"] == 10
    runtime.close()
    runtime = agent(tmp_path, account, {"a": oracle})
    try:
        runtime.run(until_delivered=True)
        assert runtime.outbox.counts()[0].acked == 10
        assert len(stored_ids(oracle.db_url)) == 10
    finally:
        runtime.close()


def test_delivery_to_oracle_serve_subprocess(tmp_path: Path, account: Account) -> None:
    """The same path against `depinkit oracle serve` running as its own process."""
    url = sqlite_url(tmp_path / "served.sqlite3")
    seed_device(url, account.address)
    server = OracleProcess("served", tmp_path, url, chain_id=CHAIN_ID, registry=REGISTRY)
    server.start()
    try:
        config = make_config(
            tmp_path / "agent",
            {"served": server.url},
            sender={"initial_backoff_ms": 20, "max_backoff_ms": 200, "idle_poll_s": 0.05},
        )
        runtime = build_runtime(
            config,
            account,
            roles=[],
            client=httpx.Client(),
            clock=SystemClock(),
            rng=random.Random(1),
        )
        try:
            runtime.enqueue(heartbeats(200))
            runtime.run(until_delivered=True)
            assert sorted(stored_ids(url)) == sorted(runtime.outbox.report_ids())
        finally:
            runtime.close()
    finally:
        server.stop()
