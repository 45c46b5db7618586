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


EPOCH_S = 30  # the shortest epoch the devnet allows: settling is what takes the time


def run_devnet(data_dir: Path, seconds: int) -> str:
    argv = [
        sys.executable, "-m", "depinkit", "devnet",
        "--data-dir", str(data_dir),
        "--devices", "2", "--oracles", "3", "--threshold", "2",
        "--epoch-length", str(EPOCH_S), "--duration", str(seconds), "--no-live",
    ]  # fmt: skip
    done = subprocess.run(argv, capture_output=True, text=True, timeout=300)
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


def last_status(output: str) -> dict[str, str]:
    """The last `--no-live` status line as a dict (its fields are key=value words)."""
    line = [line for line in output.splitlines() if line.startswith("block=")][-1]
    return dict(w.split("=", 1) for w in line.split() if "=" in w and not w.startswith("stored"))


def test_devnet_settles_pays_and_resumes(tmp_path: Path) -> None:
    data = tmp_path / "net"
    status = last_status(run_devnet(data, 3 * EPOCH_S))
    assert status["settled"] != "None", "at least one epoch settled on chain by a 2-of-3 quorum"
    total = int(status["total"])
    assert total > 0 and int(status["claimed"]) == total, "owners claimed all that was earned"
    assert int(status["claims"]) >= 1
    manifest = Deployment.load(data / "deployment.json")
    first = [stored(data, i) for i in range(3)]
    for per_device, known in first:
        assert known == 2, "the indexer put both onboarded devices in the directory"
        assert len(per_device) == 2 and all(n >= 1 for n in per_device.values())

    again = last_status(run_devnet(data, EPOCH_S + 15))
    assert Deployment.load(data / "deployment.json") == manifest, "resumed, not redeployed"
    assert int(again["total"]) >= total, "the resumed chain kept its rewards"
    for (before, _), i in zip(first, range(3), strict=True):
        after, known = stored(data, i)
        assert known == 2, "no device onboarded twice"
        assert set(after) == set(before)
        assert sum(after.values()) > sum(before.values()), "the resumed network kept working"
