"""`depinkit agent init | emit | status | run`, in-process and as a real process."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from depinkit.agent.config import AgentConfig, load_config
from depinkit.chain.eip712 import onboard_digest
from depinkit.cli.agent import app
from depinkit.core.keys import keccak256, recover_address
from depinkit.networks import default_registry
from depinkit.oracle.app import create_app
from depinkit.oracle.epochs.store import EpochStore, Opened
from depinkit.oracle.server import ServerThread
from depinkit.oracle.settings import OracleSettings
from depinkit.oracle.store import Store

from .conftest import CHAIN_ID, REGISTRY
from .oracles import OWNER, seed_device, sqlite_url, stored_ids
from .processes import DEPINKIT, free_port

runner = CliRunner()


def init_device(data_dir: Path, *oracles: str, extra: tuple[str, ...] = ()) -> dict[str, object]:
    args = [
        "init",
        "--data-dir", str(data_dir),
        "--chain-id", str(CHAIN_ID),
        "--registry", REGISTRY.lower(),
        "--owner", OWNER,
        "--h3-cell", "8928308280fffff",
        "--deadline", "2000000000",
        "--scrypt-n", "1024",
        *extra,
    ]  # fmt: skip
    for item in oracles or ("a=http://127.0.0.1:9",):
        args += ["--oracle", item]
    result = runner.invoke(app, args, env={"DEPINKIT_AGENT_PASSPHRASE": None})
    assert result.exit_code == 0, result.output
    start = result.output.index("{")
    return json.loads(result.output[start:])


def test_init_creates_key_config_and_a_valid_consent(tmp_path: Path) -> None:
    data_dir = tmp_path / "dev"
    consent = init_device(data_dir)
    config = load_config(data_dir / "agent.toml", env={})
    assert config.domain.registry == REGISTRY and config.roles[0].name == "uptime"
    assert oct((data_dir / "device.json").stat().st_mode & 0o777) == "0o600"
    assert oct((data_dir / "passphrase").stat().st_mode & 0o777) == "0o600"
    digest = onboard_digest(
        CHAIN_ID,
        REGISTRY,
        device=str(consent["device"]),
        owner=OWNER,
        network=keccak256(b"uptime"),
        h3_cell=0x8928308280FFFFF,
        nonce=0,
        deadline=2_000_000_000,
    )
    signature = bytes.fromhex(str(consent["device_signature"])[2:])
    assert recover_address(digest, signature) == consent["device"]
    assert consent["network_id"] == "0x" + keccak256(b"uptime").hex()


def test_init_refuses_to_overwrite_a_device(tmp_path: Path) -> None:
    init_device(tmp_path / "dev")
    before = (tmp_path / "dev" / "device.json").read_bytes()
    result = runner.invoke(
        app,
        ["init", "--data-dir", str(tmp_path / "dev"), "--chain-id", "1", "--registry", REGISTRY,
         "--oracle", "a=http://127.0.0.1:9", "--owner", OWNER, "--h3-cell", "8928308280fffff"],
    )  # fmt: skip
    assert result.exit_code == 1 and "refusing" in result.output
    assert (tmp_path / "dev" / "device.json").read_bytes() == before


@pytest.mark.parametrize(
    ("option", "value", "message"),
    [
        ("--h3-cell", "nonsense", "H3"),
        ("--h3-cell", "ffffffffffffffff", "H3"),
        ("--owner", "0x1234", "address"),
        ("--oracle", "no-equals-sign", "name=url"),
    ],
)
def test_init_rejects_bad_input_and_creates_nothing(
    tmp_path: Path, option: str, value: str, message: str
) -> None:
    args = {
        "--data-dir": str(tmp_path / "dev"),
        "--chain-id": "1",
        "--registry": REGISTRY,
        "--oracle": "a=http://127.0.0.1:9",
        "--owner": OWNER,
        "--h3-cell": "8928308280fffff",
    } | {option: value}
    result = runner.invoke(
        app, ["init", *[x for kv in args.items() for x in kv], "--scrypt-n", "1024"]
    )
    assert result.exit_code == 1 and message in result.output
    assert not (tmp_path / "dev" / "device.json").exists()
    assert not (tmp_path / "dev" / "agent.toml").exists()


def test_emit_and_status(tmp_path: Path) -> None:
    data_dir = tmp_path / "dev"
    init_device(data_dir, "a=http://127.0.0.1:9", "b=http://127.0.0.1:10")
    result = runner.invoke(app, ["emit", "-c", str(data_dir), "--count", "25", "--chunk", "10"])
    assert result.exit_code == 0, result.output
    result = runner.invoke(app, ["emit", "-c", str(data_dir), "--count", "30", "--total"])
    assert "enqueued 5" in result.output
    result = runner.invoke(app, ["status", "-c", str(data_dir / "agent.toml")])
    assert result.exit_code == 0, result.output
    assert "30 reports" in result.output and "next seq: 30" in result.output
    rows = [line for line in result.output.splitlines() if "http://127.0.0.1" in line]
    assert len(rows) == 2 and all(line.split("│")[-2].strip() == "30" for line in rows)
    metrics = (data_dir / "metrics.prom").read_text()
    assert 'depinkit_agent_reports_pending{oracle="b"} 30.0' in metrics


def test_status_without_outbox_or_config(tmp_path: Path) -> None:
    result = runner.invoke(app, ["status", "-c", str(tmp_path / "absent.toml")])
    assert result.exit_code == 1 and "no agent config" in result.output
    init_device(tmp_path / "dev")
    result = runner.invoke(app, ["status", "-c", str(tmp_path / "dev")])
    assert result.exit_code == 1 and "no outbox" in result.output


def test_run_delivers_heartbeats_and_stops_on_sigterm(tmp_path: Path) -> None:
    """The real `depinkit agent run` process against the real ingest app."""
    url = sqlite_url(tmp_path / "oracle.sqlite3")
    store = Store.open(url, migrate=True)
    settings = OracleSettings(db_url=url, chain_id=CHAIN_ID, registry=REGISTRY)
    with ServerThread(
        create_app(settings=settings, store=store, networks=default_registry())
    ) as server:
        data_dir = tmp_path / "dev"
        consent = init_device(data_dir, f"a={server.url}")
        seed_device(url, str(consent["device"]))
        open_epochs_with_one_second_slots(store, load_config(data_dir / "agent.toml"))
        metrics_port = free_port()
        env = {
            **os.environ,
            "DEPINKIT_AGENT_SENDER_IDLE_POLL_S": "0.05",
            "DEPINKIT_AGENT_METRICS_PORT": str(metrics_port),
        }
        text = (
            (data_dir / "agent.toml").read_text().replace("interval_s = 60.0", "interval_s = 0.2")
        )
        (data_dir / "agent.toml").write_text(text)
        proc = subprocess.Popen(
            [*DEPINKIT, "agent", "run", "-c", str(data_dir)],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        try:
            deadline = time.monotonic() + 60
            while len(stored_ids(url)) < 3:
                assert proc.poll() is None, proc.stdout.read() if proc.stdout else ""
                assert time.monotonic() < deadline, "no heartbeats arrived"
                time.sleep(0.05)
            scraped = httpx.get(f"http://127.0.0.1:{metrics_port}/metrics").text
            assert 'depinkit_agent_reports_acknowledged{oracle="a"}' in scraped
            proc.send_signal(signal.SIGTERM)
            assert proc.wait(timeout=30) == 0
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    store.close()
    result = runner.invoke(app, ["status", "-c", str(data_dir)])
    assert result.exit_code == 0
    assert len(stored_ids(url)) >= 3


def open_epochs_with_one_second_slots(store: Store, config: AgentConfig) -> None:
    """Publish beacons for the agent's current and next epoch, as the settle loop does, so
    the uptime role can answer challenges (one-second slots: a heartbeat a second)."""
    length_ms = config.epoch.length_s * 1000
    now_ms = int(time.time() * 1000)
    current = (now_ms - config.epoch.genesis_ms) // length_ms
    for epoch in (current, current + 1):
        start_ms = config.epoch.genesis_ms + epoch * length_ms
        opened = Opened(
            epoch=epoch,
            start_block=epoch + 1,
            entropy=keccak256(f"block of epoch {epoch}".encode()),
            start_ms=start_ms,
            end_ms=start_ms + length_ms,
            parameters={"uptime": {"slot_s": 1}},
        )
        EpochStore(store).collect(opened, now_ms)


def test_passphrase_from_the_environment(tmp_path: Path) -> None:
    data_dir = tmp_path / "dev"
    args = [
        "init", "--data-dir", str(data_dir), "--chain-id", str(CHAIN_ID),
        "--registry", REGISTRY, "--oracle", "a=http://127.0.0.1:9", "--owner", OWNER,
        "--h3-cell", "8928308280fffff", "--scrypt-n", "1024",
    ]  # fmt: skip
    result = runner.invoke(app, args, env={"DEPINKIT_AGENT_PASSPHRASE": "s3cret"})
    assert result.exit_code == 0, result.output
    assert not (data_dir / "passphrase").exists()
    emit = ["emit", "-c", str(data_dir), "--count", "1"]
    result = runner.invoke(app, emit, env={"DEPINKIT_AGENT_PASSPHRASE": None})
    assert result.exit_code == 1 and "no passphrase" in result.output
    result = runner.invoke(app, emit, env={"DEPINKIT_AGENT_PASSPHRASE": "wrong"})
    assert result.exit_code == 1 and "wrong passphrase" in result.output
    result = runner.invoke(app, emit, env={"DEPINKIT_AGENT_PASSPHRASE": "s3cret"})
    assert result.exit_code == 0 and "enqueued 1" in result.output
