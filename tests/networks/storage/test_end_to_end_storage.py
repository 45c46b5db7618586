"""End to end: real provider processes, a consumer's file split into two deals, the providers'
agent roles reporting over five epochs through StorageModule verify/score/next_prior.

Epoch 0: every provider declares capacity, forwards both deals, proves and reports its
receipt. Epochs 1-3: one provider's pieces are deleted on disk; it sends no proofs, its
receipts are refused (``unproven_deal``), it earns nothing and its failure streak grows while
the others earn capacity and usage. In epoch 3 a sixth provider joins, the consumer repairs
the file onto it and its role claims the repairs; in epoch 4 it proves them and is paid from
the repair bucket. Credits spent equal the receipts the oracles accepted.
"""

from __future__ import annotations

import os
import random
from collections.abc import Iterator, Sequence
from pathlib import Path

import msgspec
import pytest
from storage_protocol_kit import entropy, run_epoch
from storage_provider_kit import CONSUMER, DOMAIN, ProviderProcess, start_all

from depinkit.agent.roles import RoleContext
from depinkit.core.envelope import report_id, sign_report
from depinkit.core.keys import Account
from depinkit.networks import DeviceView, EpochContext, ReceivedReport
from depinkit.networks.beacon import Beacon
from depinkit.networks.receipts import FACT_CREDITS, FACT_PAYER
from depinkit.networks.storage.client import MISSING, StorageClient
from depinkit.networks.storage.deals import GIB, DealBook, DealPolicy, deal_id_of
from depinkit.networks.storage.module import NAME, StorageModule
from depinkit.networks.storage.provider import EgressState, PieceMeta
from depinkit.networks.storage.role import StorageProviderRole
from depinkit.networks.storage.schemas import (
    CAPACITY,
    DEAL,
    PROOF,
    RECEIPT,
    REPAIR,
    deal_id_for,
)
from depinkit.networks.storage.score import CAPACITY_BUCKET, REPAIR_BUCKET, USAGE_BUCKET
from depinkit.networks.storage.state import decode_state
from depinkit.networks.storage.verify import UNPROVEN_DEAL

START_MS = 1_700_000_000_000  # unix ms of epoch 0 (the oracles' clock, not the wall's)
EPOCH_MS = 60_000
SEGMENT = 6_144  # sealed bytes per segment: 2 KiB pieces (no all-padding piece), two chunks
SEGMENTS = 33  # 165 pieces at 3-of-5: two deals (32 segments, then 1)
CREDITS = 10**12  # nanocredits the consumer holds
OWNER = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"
# One nanocredit per byte-epoch stored and two per byte downloaded: amounts read as bytes.
POLICY = DealPolicy(price_gib_epoch=GIB, price_gib_egress=2 * GIB, duration_epochs=100)


class DealProvider(ProviderProcess):
    """A provider process with room for the test's file and its egress price."""

    def __init__(self, root: Path, number: int) -> None:
        super().__init__(root, number, capacity=1 << 30, extra=["--egress-price", str(2 * GIB)])


class Beacons:
    """The oracles' beacon, as a test-controlled source of epoch entropy."""

    def beacon(self, epoch: int) -> Beacon:
        return Beacon(
            epoch=epoch,
            start_ms=START_MS + epoch * EPOCH_MS,
            end_ms=START_MS + (epoch + 1) * EPOCH_MS,
            block=100 + epoch,
            entropy="0x" + entropy(epoch).hex(),
        )


@pytest.fixture
def fleet(tmp_path: Path) -> Iterator[list[DealProvider]]:
    procs = [DealProvider(tmp_path, i) for i in range(6)]
    try:
        start_all(procs[:5])  # the sixth joins later, for the repair
        yield procs
    finally:
        for proc in procs:
            proc.stop()


class Agents:
    """Each provider's role run in-process; its drafts signed with the device key."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.roles: dict[str, tuple[Account, StorageProviderRole]] = {}
        self.seq: dict[str, int] = {}

    def add(self, proc: DealProvider) -> None:
        role = StorageProviderRole(Beacons(), proc.data, url=proc.url)  # capacity: /v1/info
        self.roles[proc.account.address] = (proc.account, role)

    def run(self, epoch: int) -> dict[str, list[ReceivedReport]]:
        out: dict[str, list[ReceivedReport]] = {}
        for address, (account, role) in sorted(self.roles.items()):
            now = START_MS + epoch * EPOCH_MS + 1_000
            agent_dir = self.root / f"agent-{address}"
            agent_dir.mkdir(exist_ok=True)
            ctx = RoleContext(address, now, epoch, START_MS, agent_dir, random.Random(0))
            reports = []
            for draft in role.produce(ctx):
                seq = self.seq.get(address, 0)
                self.seq[address] = seq + 1
                report = sign_report(
                    account,
                    DOMAIN,
                    network=draft.network,
                    kind=draft.kind,
                    seq=seq,
                    timestamp_ms=now + seq % 1_000,
                    epoch=epoch,
                    body=draft.body,
                )
                reports.append(ReceivedReport(id=report_id(DOMAIN, report), report=report))
            out[address] = reports
        return out


def context(epoch: int, prior: dict, credits: int, devices: Sequence[str]) -> EpochContext:
    module = StorageModule()
    return EpochContext(
        network=NAME,
        epoch=epoch,
        start_ms=START_MS + epoch * EPOCH_MS,
        end_ms=START_MS + (epoch + 1) * EPOCH_MS,
        entropy=entropy(epoch),
        parameters=module.defaults(),
        devices={d: DeviceView(owner=OWNER, network=NAME) for d in devices},
        prior=prior,
        credits={CONSUMER.address: credits},
        domain=DOMAIN,
    )


def kinds(reports: Sequence[ReceivedReport]) -> list[str]:
    return sorted(r.report.kind for r in reports)


@pytest.mark.slow  # real processes: ~10 s idle, more under load
def test_providers_prove_earn_fail_and_get_repaired_over_epochs(
    fleet: list[DealProvider], tmp_path: Path
) -> None:
    plain = SEGMENTS * (SEGMENT - 16) - 1_000
    data = os.urandom(plain)
    source = tmp_path / "file.bin"
    source.write_bytes(data)
    infos = [p.info for p in fleet[:5]]
    client = StorageClient(
        CONSUMER, infos, tmp_path / "home", domain=DOMAIN, segment_bytes=SEGMENT, policy=POLICY
    )
    with client:
        manifest = client.put(source, start_epoch=0)
        assert len(manifest.segments) == SEGMENTS and not client.unannounced
        registrations = client.registrations(manifest)
        file_id = manifest.file_id
        assert [r.terms.deal_id for r in registrations] == [
            deal_id_for(file_id, 0),
            deal_id_for(file_id, 1),
        ]
        assert [len(r.terms.pieces) for r in registrations] == [160, 5]
        for proc in fleet[:5]:  # every provider got both deals, and stored each piece under
            assert len(DealBook(proc.data).all()) == 2  # the deal of its segment
            for segment, placement in manifest.pieces_on(proc.account.address):
                meta_path = proc.data / "pieces" / placement.root.hex()[:2]
                meta = msgspec.json.decode(
                    (meta_path / f"{placement.root.hex()}.json").read_bytes(), type=PieceMeta
                )
                deal = deal_id_of(file_id, manifest.n, segment)
                assert meta.owners == [(CONSUMER.address, deal)]
        assert client.get(manifest) == data  # egress, metered per deal
        client.pay(manifest, epoch=0)

        agents = Agents(tmp_path)
        for proc in fleet[:5]:
            agents.add(proc)
        victim = fleet[1]
        bad = victim.account.address
        honest = [p.account.address for p in fleet[:5] if p.account.address != bad]
        newcomer = fleet[5]
        devices = [p.account.address for p in fleet]
        module = StorageModule()
        prior: dict = {}
        spent = 0
        bad_paid_epoch0 = 0
        for epoch in range(5):
            if epoch == 1:  # the victim loses every piece on disk (metadata stays)
                for path in victim.piece_paths():
                    path.unlink()
            if epoch >= 1:
                client.pay(manifest, epoch=epoch)
            if epoch == 3:
                start_all([newcomer])
                client.providers = [p.info for p in fleet]
                status = client.status(manifest)
                assert {(h.provider, h.state) for h in status.unhealthy()} == {(bad, MISSING)}, [
                    h.detail for h in status.unhealthy() if h.state != MISSING
                ][:3]
                repaired = client.repair(manifest, epoch=epoch)
                assert len(repaired.rebuilt) == SEGMENTS and not repaired.unrecoverable
                assert {to for _, _, to in repaired.rebuilt} == {newcomer.account.address}
                manifest = repaired.manifest
                agents.add(newcomer)
            produced = agents.run(epoch)
            reports = [r for rs in produced.values() for r in rs]
            ctx = context(epoch, prior, CREDITS - spent, devices)
            verdicts, scores, prior = run_epoch(module, ctx, reports)
            state = decode_state(prior)
            by_id = {v.report_id: v for v in verdicts}
            paid = [v for v in verdicts if v.accepted and FACT_CREDITS in v.facts]
            assert all(v.facts[FACT_PAYER] == int(CONSUMER.address, 16) for v in paid)
            spent += sum(v.facts[FACT_CREDITS] for v in paid)
            kind_of = {r.id: r.report.kind for r in reports}
            refused = {
                (v.device, kind_of[v.report_id], v.reason) for v in verdicts if not v.accepted
            }

            if epoch == 0:
                assert not refused, refused
                for address in devices[:5]:
                    assert kinds(produced[address])[:3] == [CAPACITY, DEAL, DEAL]
                    assert PROOF in kinds(produced[address])
                    assert RECEIPT in kinds(produced[address])
                bad_paid_epoch0 = sum(v.facts[FACT_CREDITS] for v in paid if v.device == bad)
                assert len(state.deals) == 2
            else:
                assert PROOF not in kinds(produced[bad])  # nothing it can prove
                for report in produced[bad]:
                    if report.report.kind == RECEIPT:
                        assert by_id[report.id].reason == UNPROVEN_DEAL
                for bucket in (CAPACITY_BUCKET, USAGE_BUCKET, REPAIR_BUCKET):
                    assert scores[bucket].get(bad, 0) == 0
                assert state.providers[bad].streak == min(epoch, 3)
                assert refused <= {
                    (bad, RECEIPT, UNPROVEN_DEAL),
                    (newcomer.account.address, REPAIR, "not_in_repair"),
                }, refused
            holding = honest if epoch < 4 else [*honest, newcomer.account.address]
            for address in devices[:5] if epoch == 0 else holding:
                held = sum(manifest.piece_size(s) for s, _ in manifest.pieces_on(address))
                assert scores[CAPACITY_BUCKET][address] == held > 0
                assert scores[USAGE_BUCKET][address] > 0
            if epoch == 1:
                assert len(state.repair_queue) == SEGMENTS  # 4 healthy of 5: at the threshold
            if epoch == 3:
                claims = [r for r in produced[newcomer.account.address] if r.report.kind == REPAIR]
                assert len(claims) == SEGMENTS and all(by_id[c.id].accepted for c in claims)
                assert PROOF not in kinds(produced[newcomer.account.address])
            if epoch == 4:
                restored = sum(
                    manifest.piece_size(s) for s, _ in manifest.pieces_on(newcomer.account.address)
                )
                assert scores[REPAIR_BUCKET] == {newcomer.account.address: restored}
                assert not state.repair_queue

        # Credits spent are the receipts: every honest channel's newest cumulative, and
        # what the victim was paid before it lost its pieces.
        channels = client.channels()
        expected = sum(ch.cumulative for key, ch in channels.items() if not key.startswith(bad))
        assert spent == expected + bad_paid_epoch0
        # One channel per (provider, deal); storage and egress at the deal's prices.
        assert {key.split(":")[1] for key in channels} == {
            deal_id_for(file_id, 0).hex(),
            deal_id_for(file_id, 1).hex(),
        }
        for channel in channels.values():
            assert channel.cumulative == channel.byte_epochs + 2 * channel.egress_bytes
        assert sum(ch.egress_bytes for ch in channels.values()) > len(data)
        assert client.get(manifest) == data  # the repaired file reads back


def test_store_put_signs_deals_and_pay_sends_receipts(
    fleet: list[DealProvider], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from typer.testing import CliRunner

    from depinkit.cli.store import app
    from depinkit.core.keystore import save_keystore

    keystore = tmp_path / "consumer.json"
    save_keystore(CONSUMER, keystore, "pw", kdf="pbkdf2", iterations=1_000)
    listing = tmp_path / "providers.json"
    listing.write_bytes(msgspec.json.encode([p.info for p in fleet[:5]]))
    source = tmp_path / "doc.bin"
    source.write_bytes(os.urandom(20_000))
    monkeypatch.setenv("DEPINKIT_PASSPHRASE", "pw")
    common = ["--keystore", str(keystore), "--home", str(tmp_path / "home")]
    common += ["--providers", str(listing), "--chain-id", str(DOMAIN.chain_id)]
    common += ["--registry", DOMAIN.registry]
    clock = ["--genesis-ms", "0", "--epoch-s", "3600"]
    runner = CliRunner()
    put = runner.invoke(app, ["put", str(source), *common, *clock, "--price-gib-epoch", str(GIB)])
    assert put.exit_code == 0, put.output
    assert "warning" not in put.output  # every provider took the deal
    file_id = bytes.fromhex(put.stdout.strip().splitlines()[-1])
    for proc in fleet[:5]:
        (registration,) = DealBook(proc.data).all()
        assert registration.terms.deal_id == file_id
        assert registration.terms.price_gib_epoch == GIB
    start = registration.terms.start_epoch
    paid = runner.invoke(
        app, ["pay", file_id.hex()[:12], *common, *clock, "--epoch", str(start + 2)]
    )
    assert paid.exit_code == 0, paid.output
    assert "sent 5 receipts" in paid.stdout
    again = runner.invoke(
        app, ["pay", file_id.hex()[:12], *common, *clock, "--epoch", str(start + 2)]
    )
    assert again.exit_code == 0 and "sent 0 receipts" in again.stdout  # nothing new owed
    for proc in fleet[:5]:
        egress = msgspec.json.decode((proc.data / "egress.json").read_bytes(), type=EgressState)
        (receipt,) = egress.receipts.values()
        held = sum(x.size for x in registration.terms.pieces if x.provider == proc.account.address)
        assert receipt.channel == file_id and receipt.cumulative == 3 * held  # 3 epochs x bytes
