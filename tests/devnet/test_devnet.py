"""`depinkit devnet` end to end: real anvil, oracles and agents as separate processes."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import func, select

from depinkit.chain.deploy import Deployment
from depinkit.oracle.store import Store
from depinkit.oracle.store.schema import devices as devices_table
from depinkit.oracle.store.schema import reports as reports_table

pytestmark = [pytest.mark.slow, pytest.mark.anvil]


def run_devnet(data_dir: Path, seconds: int) -> str:
    argv = [
        sys.executable, "-m", "depinkit", "devnet",
        "--data-dir", str(data_dir),
        "--devices", "2", "--oracles", "2", "--threshold", "2",
        "--heartbeat", "2", "--duration", str(seconds), "--no-live",
    ]  # fmt: skip
    done = subprocess.run(argv, capture_output=True, text=True, timeout=240)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "devnet stopped" in done.stdout
    return done.stdout


def stored(data_dir: Path, oracle: int) -> tuple[dict[str, int], int]:
    store = Store.open(f"sqlite:///{data_dir / 'oracles' / f'oracle-{oracle}' / 'oracle.db'}")
    try:
        with store.engine.connect() as conn:
            per_device = dict(
                conn.execute(
                    select(reports_table.c.device, func.count()).group_by(reports_table.c.device)
                ).all()
            )
            known = conn.execute(select(func.count()).select_from(devices_table)).scalar_one()
    finally:
        store.close()
    return {str(k): int(v) for k, v in per_device.items()}, int(known)


def test_devnet_runs_and_resumes(tmp_path: Path) -> None:
    data = tmp_path / "net"
    run_devnet(data, 20)
    manifest = Deployment.load(data / "deployment.json")
    first = [stored(data, i) for i in range(2)]
    for per_device, known in first:
        assert known == 2, "the indexer put both onboarded devices in the directory"
        assert len(per_device) == 2 and all(n >= 1 for n in per_device.values())

    run_devnet(data, 15)
    assert Deployment.load(data / "deployment.json") == manifest, "resumed, not redeployed"
    for (before, _), i in zip(first, range(2), strict=True):
        after, known = stored(data, i)
        assert known == 2, "no device onboarded twice"
        assert set(after) == set(before)
        assert sum(after.values()) > sum(before.values()), "the resumed network kept working"
