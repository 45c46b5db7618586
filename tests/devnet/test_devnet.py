"""`depinkit devnet` end to end: real anvil, oracles and agents as separate processes."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from devnet_kit import devnet_argv
from sqlalchemy import func, select

from depinkit.chain.anvil import Anvil
from depinkit.chain.depin import Depin
from depinkit.chain.deploy import Deployment
from depinkit.devnet.layout import DevnetKeys, Layout
from depinkit.oracle.epochs.schema import epoch_manifests
from depinkit.oracle.epochs.store import EpochStore
from depinkit.oracle.rewards.manifest import RewardManifest, decode_manifest
from depinkit.oracle.store import Store
from depinkit.oracle.store.schema import devices as devices_table
from depinkit.oracle.store.schema import reports as reports_table

pytestmark = [pytest.mark.slow, pytest.mark.anvil]


EPOCH_S = 30  # the shortest epoch the devnet allows: settling is what takes the time


def run_devnet(data_dir: Path, seconds: int) -> str:
    argv = devnet_argv(data_dir, epoch_s=EPOCH_S, duration_s=seconds, devices=2)
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


def manifests(data_dir: Path, oracle: int) -> list[RewardManifest]:
    """Every reward manifest the oracle computed, by epoch."""
    store = Store.open(Layout(data_dir).sqlite_url(oracle))
    try:
        with store.engine.connect() as conn:
            numbers = conn.execute(select(epoch_manifests.c.epoch)).scalars().all()
        epochs = EpochStore(store)
        found = [epochs.manifest(int(e)) for e in numbers]
    finally:
        store.close()
    return [decode_manifest(m[1]) for m in found if m is not None]


def check_balances_match_manifests(data_dir: Path) -> int:
    """Each owner's minted tokens equal its claimed total and a manifest's cumulative, exactly.

    Reads the persisted chain with a fresh anvil: for every owner, the token balance is what
    its Transfer events add up to, the tokens the RewardsDistributor sent it (it mints each
    root's increase to itself and pays claims by transfer) equal its claimed total, which
    equals the
    cumulative total some settled manifest gives that owner, which equals the sum of the
    rewards that manifest and the earlier ones paid the owner's devices. Returns the owners
    that had claimed.
    """
    layout = Layout(data_dir)
    keys = DevnetKeys.load(layout.keys_file)
    computed = manifests(data_dir, 0)
    assert computed, "the oracle kept its manifests"
    with Anvil(state=layout.anvil_state) as anvil:
        depin = Depin.connect(anvil.url, layout.manifest)
        transfer = depin.token.contract.events.Transfer()
        first = depin.deployment.deployment_block
        checked = 0
        for owner in keys.owners:
            claimed = depin.rewards.claimed(owner.address)
            incoming = transfer.get_logs(from_block=first, argument_filters={"to": owner.address})
            outgoing = transfer.get_logs(from_block=first, argument_filters={"from": owner.address})
            inflow = sum(int(log["args"]["value"]) for log in incoming)
            outflow = sum(int(log["args"]["value"]) for log in outgoing)
            assert depin.token.balance_of(owner.address) == inflow - outflow
            distributor = depin.rewards.address
            paid = sum(
                int(e["args"]["value"]) for e in incoming if e["args"]["from"] == distributor
            )
            assert paid == claimed, "every token the distributor sent an owner is a claim"
            if claimed == 0:
                continue
            account = owner.address.lower()
            earned = 0
            matched = False
            for manifest in sorted(computed, key=lambda m: m.epoch):
                earned += sum(int(d.reward) for d in manifest.devices if d.owner == account)
                entry = [o for o in manifest.owners if o.account == account]
                if entry and int(entry[0].cumulative) == claimed:
                    assert earned == claimed, "cumulative = sum of the devices' rewards"
                    matched = True
                    break
            assert matched, f"no manifest gives {account} the cumulative {claimed} it claimed"
            checked += 1
    return checked


def last_status(output: str) -> dict[str, str]:
    """The last `--no-live` status line as a dict (its fields are key=value words)."""
    line = [line for line in output.splitlines() if line.startswith("block=")][-1]
    return dict(w.split("=", 1) for w in line.split() if "=" in w and not w.startswith("stored"))


def test_devnet_settles_pays_and_resumes(tmp_path: Path) -> None:
    data = tmp_path / "net"
    status = last_status(run_devnet(data, 3 * EPOCH_S))
    assert status["settled"] != "None", "at least one epoch settled on chain by a 2-of-3 quorum"
    total = int(status["total"])
    # Owners claim on every refresh; the root of the last epoch may land just before the stop.
    assert 0 < int(status["claimed"]) <= total, "owners claimed what was earned"
    assert int(status["claims"]) >= 1
    assert check_balances_match_manifests(data) >= 1
    manifest = Deployment.load(data / "deployment.json")
    first = [stored(data, i) for i in range(3)]
    for per_device, known in first:
        assert known == 2, "the indexer put both onboarded devices in the directory"
        assert len(per_device) == 2 and all(n >= 1 for n in per_device.values())

    again = last_status(run_devnet(data, EPOCH_S + 25))
    assert Deployment.load(data / "deployment.json") == manifest, "resumed, not redeployed"
    assert int(again["total"]) >= total, "the resumed chain kept its rewards"
    # an epoch that started before the restart settles after it (its start block's state
    # survived the restart: anvil keeps historical states with --state)
    assert again["settled"] != "None" and int(again["settled"]) > int(status["settled"])
    for (before, _), i in zip(first, range(3), strict=True):
        after, known = stored(data, i)
        assert known == 2, "no device onboarded twice"
        assert set(after) == set(before)
        assert sum(after.values()) > sum(before.values()), "the resumed network kept working"
