"""Three oracles (M = 2) on real anvil and real loopback HTTP settle an epoch and pay a claim.

Reports reach the oracles differently (one of them sees none); reconciliation makes their
report sets equal, all three compute the same root and manifest, signatures are exchanged
over the epoch API, the root is submitted exactly once, and an owner claims exactly what
the manifest says with the proof an oracle serves.
"""

from __future__ import annotations

import threading
from pathlib import Path

import httpx
import pytest

from depinkit.chain import TOKEN
from depinkit.cli.claim import ClaimError, claim_from_oracle
from depinkit.oracle.epochs import RECONCILED, SIGNED, SUBMITTED, EpochPipeline
from depinkit.oracle.rewards import decode_manifest

from .network import Net, local_network

pytestmark = pytest.mark.anvil

EMISSION = 800 * TOKEN  # DeployConfig's default emission.initial per epoch


def _prepare_epoch_one(net: Net) -> None:
    """Reports for epoch 1 into oracles 0 and 1 (overlapping), none into oracle 2."""
    net.advance_to(net.epoch_start_s(1))
    # While epoch 1 runs, a settle pass opens it and the oracle serves its beacon.
    net.set_pipeline_clocks()
    opened = net.pipeline(net.oracles[2]).announce()
    assert opened is not None and opened.epoch == 1
    beacon = httpx.get(f"{net.oracles[2].url}/v1/epochs/1/beacon", timeout=10).json()
    assert beacon["entropy"] == "0x" + net.start_block_hash(1).hex()
    assert beacon["parameters"] == {"uptime": {"slot_s": 3_600}}
    d0, d1, d2 = net.devices
    good0 = net.heartbeat(d0, 1, seq=1)
    good1 = net.heartbeat(d1, 1, seq=1)
    bad2 = net.heartbeat(d2, 1, seq=1, good=False)  # a wrong challenge: rejected, explained
    net.ingest(net.oracles[0], [good0, good1])
    net.ingest(net.oracles[1], [good1, bad2])
    net.advance_to(net.epoch_start_s(2) + 2)  # epoch 1 over: the chain accepts its root
    net.set_pipeline_clocks()


def _round_robin(net: Net, pipelines: list[EpochPipeline], rounds: int = 3) -> None:
    for _ in range(rounds):
        for pipeline in pipelines:
            pipeline.run_once()


def test_three_oracles_settle_and_an_owner_claims(tmp_path: Path) -> None:
    with local_network(tmp_path) as net:
        _prepare_epoch_one(net)
        pipelines = [net.pipeline(o) for o in net.oracles]
        # Everyone reconciles epoch 1 before anyone scores it.
        # Epoch 0 (no reports): the first signs and waits, the second completes the quorum.
        assert [p.advance(0) for p in pipelines] == [SIGNED, SUBMITTED, SUBMITTED]
        for pipeline in pipelines:
            pipeline.advance(1, until=RECONCILED)
        sets = [o.epochs.report_ids(1) for o in net.oracles]
        assert len(sets[0]) == 3
        assert sets[0] == sets[1] == sets[2]

        _round_robin(net, pipelines)
        rows = [o.epochs.get(1) for o in net.oracles]
        assert all(r is not None and r.state == SUBMITTED for r in rows)
        roots = {r.root for r in rows if r is not None}
        assert len(roots) == 1
        hashes = {o.epochs.manifest(1)[0] for o in net.oracles}  # type: ignore[index]
        assert len(hashes) == 1
        assert net.root_submissions().count(1) == 1
        assert net.depin.rewards.last_epoch() == 1
        assert net.depin.rewards.root() == rows[0].root  # type: ignore[union-attr]

        # The manifest explains it: one rejected report with its reason, two devices paid.
        response = httpx.get(f"{net.oracles[2].url}/v1/epochs/1/manifest", timeout=10)
        assert response.status_code == 200
        assert "attachment" in response.headers["content-disposition"]
        manifest = decode_manifest(net.oracles[2].epochs.manifest(1)[1])  # type: ignore[index]
        by_device = {d.device: d for d in manifest.devices}
        d0, d1, d2 = (d.address.lower() for d in net.devices)
        assert by_device[d2].rejections[0].reason == "bad_challenge"
        assert by_device[d2].reward == "0"
        assert int(by_device[d0].reward) == int(by_device[d1].reward) == EMISSION
        assert int(manifest.paid) + int(manifest.carry_out) == 2 * EMISSION

        info = httpx.get(f"{net.oracles[0].url}/v1/epochs/1", timeout=10).json()
        assert info["state"] == SUBMITTED and len(info["signatures"]) >= 2

        # The owner of device 0 claims with the proof oracle 2 serves.
        owner = net.owners[0]
        mine = owner.address.lower()
        owed = next(int(o.cumulative) for o in manifest.owners if o.account == mine)
        before = net.depin.token.balance_of(owner.address)
        paid = claim_from_oracle(net.depin, owner, net.oracles[2].url, owner.address)
        assert paid == owed == EMISSION  # device 2 of this owner earned nothing
        assert net.depin.token.balance_of(owner.address) - before == owed
        with pytest.raises(ClaimError, match="nothing to claim"):
            claim_from_oracle(net.depin, owner, net.oracles[1].url, owner.address)


def test_restart_after_signed_submits_once(tmp_path: Path) -> None:
    """A pipeline stopped after `signed` and rebuilt on its store finishes without resending."""
    with local_network(tmp_path, devices=2) as net:
        net.advance_to(net.epoch_start_s(1) + 1)
        net.set_pipeline_clocks()
        a, b, c = net.oracles
        first = net.pipeline(a)
        assert first.advance(0, until=SIGNED) == SIGNED
        pb = net.pipeline(b)
        assert pb.advance(0, until=SIGNED) == SIGNED
        # b collects a's signature and submits; then a's process "crashes" before it ran.
        assert pb.advance(0) == SUBMITTED
        assert net.root_submissions() == [0]
        del first
        restarted = net.pipeline(a)
        assert restarted.state(0) == SIGNED
        assert restarted.advance(0) == SUBMITTED
        assert net.root_submissions() == [0]
        assert a.epochs.get(0).tx_hash is None  # type: ignore[union-attr]

        # Crash after sending: the transaction went out, the state was never recorded.
        net.advance_to(net.epoch_start_s(2) + 1)
        net.set_pipeline_clocks()
        pa = net.pipeline(a)
        pc = net.pipeline(c)
        assert pc.advance(0) == SUBMITTED  # c catches up on epoch 0: already on chain
        assert pa.advance(1, until=SIGNED) == SIGNED
        assert pc.advance(1, until=SIGNED) == SIGNED
        pa.exchange_signatures(a.epochs.get(1))  # type: ignore[arg-type]
        row = a.epochs.get(1)
        assert row is not None and row.root is not None and row.total is not None
        signatures = list(a.epochs.signatures(1).items())
        ordered = [sig for _, sig in sorted(signatures, key=lambda p: int(p[0], 16))]
        net.depin.rewards.submit_root(a.sender, 1, row.root, row.total, ordered)
        assert net.root_submissions() == [0, 1]
        again = net.pipeline(a)
        assert again.advance(1) == SUBMITTED
        assert pc.advance(1) == SUBMITTED
        assert net.root_submissions() == [0, 1]
        assert pa.state(1) == SUBMITTED and net.pipeline(b).state(1) is None


def test_scoring_waits_for_the_previous_epoch(tmp_path: Path) -> None:
    with local_network(tmp_path, oracles=1, threshold=1, devices=1) as net:
        net.advance_to(net.epoch_start_s(2) + 1)
        net.set_pipeline_clocks()
        pipeline = net.pipeline(net.oracles[0])
        assert pipeline.advance(1) == RECONCILED  # epoch 0 is not scored yet
        assert pipeline.advance(0) == SUBMITTED  # one oracle, threshold 1
        assert pipeline.advance(1) == SUBMITTED
        assert net.root_submissions() == [0, 1]
        assert pipeline.epochs.get(1).state == SUBMITTED  # type: ignore[union-attr]


def test_the_settle_loop_runs_until_stopped(tmp_path: Path) -> None:
    with local_network(tmp_path, oracles=1, threshold=1, devices=1) as net:
        net.advance_to(net.epoch_start_s(2) + 2)
        net.set_pipeline_clocks()
        pipeline = net.pipeline(net.oracles[0])
        stop = threading.Event()
        loop = threading.Thread(target=pipeline.run, kwargs={"stop": stop, "poll_s": 0.05})
        loop.start()
        try:
            for _ in range(400):  # passes, not time: the loop settles 0 and 1, opens 2
                if pipeline.state(1) == SUBMITTED and pipeline.state(2) is not None:
                    break
                stop.wait(0.05)
        finally:
            stop.set()
            loop.join(timeout=30)
        assert not loop.is_alive()
        assert net.root_submissions() == [0, 1]
        assert pipeline.state(2) == "collected"  # epoch 2 is running: opened, not settled


def test_catching_up_on_an_old_epoch_compares_its_root_with_the_chain(tmp_path: Path) -> None:
    """An oracle whose store differs learns it when it catches up, not only at the head."""
    from structlog.testing import capture_logs

    with local_network(tmp_path, devices=2) as net:
        a, b, c = net.oracles
        d0, d1 = net.devices
        net.advance_to(net.epoch_start_s(1) + 1)
        for oracle in (a, b):
            net.ingest(oracle, [net.heartbeat(d0, 1, seq=1)])
        net.advance_to(net.epoch_start_s(3) + 2)
        net.set_pipeline_clocks()
        pa, pb = net.pipeline(a), net.pipeline(b)
        for epoch in (0, 1, 2):
            pa.advance(epoch, until=SIGNED)
            pb.advance(epoch)
            pa.advance(epoch)
        assert net.root_submissions() == [0, 1, 2]
        # Oracle c was away; its store got a report for epoch 1 that nobody else has.
        net.ingest(c, [net.heartbeat(d1, 1, seq=1)])
        net.set_pipeline_clocks()
        pc = net.pipeline(c)
        with capture_logs() as logs:
            assert [pc.advance(e) for e in (0, 1, 2)] == [SUBMITTED] * 3
        mismatches = [entry for entry in logs if entry["event"] == "root_mismatch"]
        assert [m["epoch"] for m in mismatches] == [1, 2]  # epoch 2 builds on epoch 1's totals
        chain_root = net.pipeline(a).inputs.submitted_root(1)
        assert mismatches[0]["chain"] == chain_root.hex()  # type: ignore[union-attr]
        assert net.root_submissions() == [0, 1, 2], "c sent nothing"
