"""`depinkit oracle ...` as real processes: migrate, serve, index."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from depinkit.core import Account, ReportDomain, encode_report
from depinkit.oracle.indexer import CHECKPOINT
from depinkit.oracle.pgserver import _free_port
from depinkit.oracle.store import DeviceStatus, Store

from .conftest import CHAIN_ID, REGISTRY, make_report

STARTUP_TIMEOUT_S = 60


def _cli(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "depinkit", "oracle", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
    )


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    """CLI tests start real processes (seconds each): one backend is enough here;
    the in-process tests cover both backends."""
    return f"sqlite:///{tmp_path / 'oracle.sqlite3'}"


def test_migrate_then_serve(sqlite_url: str) -> None:
    db_url = sqlite_url
    done = _cli("migrate", "--db", db_url)
    assert done.returncode == 0, done.stderr
    assert "revision 0003" in done.stdout
    store = Store.open(db_url)  # schema present: opening without migrate works
    device = Account.generate()
    from depinkit.core import keccak256
    from depinkit.oracle.store import DeviceRow

    store.upsert_devices(
        [
            DeviceRow(
                device.address,
                device.address,
                "0x" + keccak256(b"uptime").hex(),
                "uptime",
                1,
                DeviceStatus.ACTIVE,
                1,
                0,
                1,
            )
        ]
    )
    port = _free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "depinkit", "oracle", "serve", "--db", db_url,
         "--port", str(port), "--chain-id", str(CHAIN_ID), "--registry", REGISTRY],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )  # fmt: skip
    try:
        base = f"http://127.0.0.1:{port}"
        _wait_healthy(base, server)
        domain = ReportDomain(chain_id=CHAIN_ID, registry=REGISTRY)
        report = make_report(device, domain, seq=1, timestamp_ms=time.time_ns() // 1_000_000)
        reply = httpx.post(
            f"{base}/v1/reports",
            content=encode_report(report),
            headers={"content-type": "application/msgpack"},
        )
        assert reply.status_code == 200, reply.text
        assert reply.json()["status"] == "accepted"
    finally:
        server.terminate()
        server.wait(timeout=30)
        if server.stderr is not None:
            server.stderr.close()
    assert store.count_reports() == 1
    store.close()


def test_serve_refuses_an_unmigrated_store(tmp_path: Path) -> None:
    done = _cli("serve", "--db", f"sqlite:///{tmp_path / 'empty.sqlite3'}", "--port", "1")
    assert done.returncode == 1
    assert "oracle migrate" in done.stderr


def _wait_healthy(base: str, server: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    while time.monotonic() < deadline:
        if server.poll() is not None:
            err = server.stderr.read().decode() if server.stderr else ""
            pytest.fail(f"oracle serve exited: {err}")
        try:
            if httpx.get(f"{base}/v1/health").status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    pytest.fail("oracle serve did not become healthy")


@pytest.fixture
def deployed(anvil_url: str, tmp_path: Path) -> Iterator[tuple[object, Path]]:
    from depinkit.chain import Chain, Depin, deploy, dev_account

    chain = Chain.connect(anvil_url)
    deployment = deploy(chain, dev_account())
    manifest = deployment.save(tmp_path / "deployment.json")
    yield Depin(chain, deployment), manifest


@pytest.mark.anvil
def test_index_once_from_a_manifest(
    anvil_url: str, deployed: tuple[object, Path], sqlite_url: str
) -> None:
    db_url = sqlite_url
    from depinkit.chain import Depin, dev_account

    depin, manifest = deployed
    assert isinstance(depin, Depin)
    device = Account.generate()
    depin.registry.onboard(dev_account(), device, "uptime", 0x8A2A1072B59FFFF)
    done = _cli(
        "index", "--rpc", anvil_url, "--manifest", str(manifest), "--db", db_url,
        "--confirmations", "0", "--once",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    store = Store.open(db_url)
    row = store.get_devices([device.address])[device.address]
    assert row.status == DeviceStatus.ACTIVE and row.network == "uptime"
    assert store.checkpoint(CHECKPOINT) == depin.chain.block_number()
    store.close()
