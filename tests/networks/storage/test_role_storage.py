"""The storage provider's agent role, against a real piece store on disk (no processes)."""

from __future__ import annotations

import random
from pathlib import Path

import msgspec
import pytest

from depinkit.agent.config import RoleSettings
from depinkit.agent.errors import RoleError
from depinkit.agent.roles import ReportDraft, RoleContext
from depinkit.core.envelope import ReportDomain
from depinkit.core.keys import Account, keccak256
from depinkit.networks.beacon import Beacon
from depinkit.networks.receipts import sign_receipt
from depinkit.networks.storage import erasure
from depinkit.networks.storage.deals import DealBook
from depinkit.networks.storage.pieces import piece_root
from depinkit.networks.storage.proofs import check_piece_proof
from depinkit.networks.storage.provider import PieceStore, ProviderSettings
from depinkit.networks.storage.role import (
    STATE_FILE,
    StorageProviderRole,
    storage_role_factory,
)
from depinkit.networks.storage.schemas import (
    CAPACITY,
    DEAL,
    PROOF,
    REPAIR,
    CapacityDeclaration,
    DealRegistration,
    DealTerms,
    PieceTerms,
    RepairClaim,
    StorageProof,
    sign_deal,
)

DOMAIN = ReportDomain(chain_id=31337, registry="0x" + "11" * 20)
CONSUMER = Account.from_key("0x" + "c3" * 32)
PROVIDERS = [Account.from_key((i + 1).to_bytes(32, "big")) for i in range(6)]
START_MS = 1_700_000_000_000
EPOCH_MS = 60_000
URL = "http://127.0.0.1:9999"


class Beacons:
    def __init__(self) -> None:
        self.ready = True

    def beacon(self, epoch: int) -> Beacon | None:
        if not self.ready:
            return None
        return Beacon(
            epoch=epoch,
            start_ms=START_MS + epoch * EPOCH_MS,
            end_ms=START_MS + (epoch + 1) * EPOCH_MS,
            block=epoch,
            entropy="0x" + keccak256(b"epoch %d" % epoch).hex(),
        )


def entropy(epoch: int) -> bytes:
    return keccak256(b"epoch %d" % epoch)


def make_deal(
    seed: int, segments: int = 2
) -> tuple[DealRegistration, dict[tuple[int, int], bytes]]:
    """A signed deal of ``segments`` segments, share j of segment s on PROVIDERS[(s+j) % 5]."""
    rng = random.Random(seed)
    data: dict[tuple[int, int], bytes] = {}
    pieces = []
    for s in range(segments):
        shares = erasure.encode(rng.randbytes(6000), 3, 5)
        for j, share in enumerate(shares):
            data[(s, j)] = share
            provider = PROVIDERS[(s + j) % 5].address
            pieces.append(PieceTerms(s, j, piece_root(share), len(share), provider))
    terms = DealTerms(
        deal_id=keccak256(b"deal %d" % seed),
        file_id=keccak256(b"file %d" % seed),
        consumer=CONSUMER.address,
        k=3,
        n=5,
        pieces=pieces,
        price_gib_epoch=5_000,
        price_gib_egress=7_000_000,
        start_epoch=0,
        duration_epochs=100,
    )
    return sign_deal(CONSUMER, DOMAIN, terms), data


class Provider:
    """A provider's data directory (written as its process would) and its agent role."""

    def __init__(self, tmp: Path, number: int, *, capacity: int | None = 1 << 30) -> None:
        self.account = PROVIDERS[number]
        self.data = tmp / f"provider-{number}"
        self.agent = tmp / f"agent-{number}"
        self.agent.mkdir(parents=True)
        self.store = PieceStore(
            ProviderSettings(account=self.account, data=self.data, domain=DOMAIN)
        )
        self.book = DealBook(self.data)
        self.beacons = Beacons()
        self.role = StorageProviderRole(
            self.beacons, self.data, url=URL, capacity_bytes=capacity, interval_s=10.0
        )

    def receive(self, registration: DealRegistration, data: dict[tuple[int, int], bytes]) -> None:
        """What the consumer's put does: pieces placed here, then the registration."""
        for piece in registration.terms.pieces:
            if piece.provider == self.account.address:
                blob = data[(piece.segment, piece.index)]
                self.store.put(piece.root, blob, CONSUMER.address, registration.terms.deal_id)
        self.book.add(registration)

    def run(self, epoch: int, offset_ms: int = 1_000) -> list[ReportDraft]:
        now = START_MS + epoch * EPOCH_MS + offset_ms
        ctx = RoleContext(self.account.address, now, epoch, START_MS, self.agent, random.Random(0))
        return list(self.role.produce(ctx))


def kinds(drafts: list[ReportDraft]) -> list[str]:
    return [d.kind for d in drafts]


def proven(drafts: list[ReportDraft]) -> list[tuple[bytes, int, int]]:
    return [
        (p.deal_id, p.segment, p.index)
        for d in drafts
        if d.kind == PROOF
        for p in msgspec.convert(d.body, StorageProof).pieces
    ]


def test_each_report_goes_out_once_and_proofs_check(tmp_path: Path) -> None:
    registration, data = make_deal(1)
    provider = Provider(tmp_path, 0)
    provider.receive(registration, data)
    first = provider.run(0)
    assert kinds(first) == [CAPACITY, DEAL, PROOF]
    assert first[0].body == CapacityDeclaration(capacity_bytes=1 << 30, url=URL)
    assert first[1].body == registration
    mine = [x for x in registration.terms.pieces if x.provider == provider.account.address]
    (body,) = [d.body for d in first if d.kind == PROOF]
    assert isinstance(body, StorageProof)
    assert [(p.segment, p.index) for p in body.pieces] == [(x.segment, x.index) for x in mine]
    for piece, proof in zip(mine, body.pieces, strict=True):
        assert check_piece_proof(entropy(0), piece, proof, 2) is None
    assert provider.run(0, 5_000) == []  # nothing new within the epoch
    receipt = sign_receipt(
        CONSUMER,
        DOMAIN,
        network="storage",
        payee=provider.account.address,
        channel=registration.terms.deal_id,
        cumulative=42,
    )
    provider.store.accept_receipt(receipt)
    assert [d.body.receipt for d in provider.run(0, 6_000)] == [receipt]  # type: ignore[attr-defined]
    assert provider.run(0, 7_000) == []
    # capacity every epoch, the deal once more, a fresh proof
    assert kinds(provider.run(1)) == [CAPACITY, DEAL, PROOF]
    assert kinds(provider.run(2)) == [CAPACITY, PROOF]
    # A restarted agent (a new role object) remembers what it sent.
    restarted = StorageProviderRole(
        provider.beacons, provider.data, url=URL, capacity_bytes=1 << 30
    )
    ctx = RoleContext(
        provider.account.address, START_MS + 2 * EPOCH_MS + 9_000, 2, START_MS, provider.agent,
        random.Random(0),
    )  # fmt: skip
    assert list(restarted.produce(ctx)) == []
    assert (provider.agent / STATE_FILE).exists()
    # A changed URL is declared again.
    moved = StorageProviderRole(
        provider.beacons, provider.data, url=URL + "0", capacity_bytes=1 << 30
    )
    ctx = RoleContext(
        provider.account.address, START_MS + 2 * EPOCH_MS + 9_500, 2, START_MS, provider.agent,
        random.Random(0),
    )  # fmt: skip
    assert kinds(list(moved.produce(ctx))) == [CAPACITY]


def test_lost_or_corrupt_pieces_are_left_out_and_deals_packed_apart(tmp_path: Path) -> None:
    one, data_one = make_deal(1)
    two, data_two = make_deal(2)
    provider = Provider(tmp_path, 0)
    provider.receive(one, data_one)
    provider.receive(two, data_two)
    drafts = provider.run(0)
    assert kinds(drafts).count(PROOF) == 2  # one report per deal
    ids = {key[0] for key in proven(drafts)}
    assert ids == {one.terms.deal_id, two.terms.deal_id}
    # Corrupt one piece of deal one and delete the other: only deal two is proven.
    held = [x for x in one.terms.pieces if x.provider == provider.account.address]
    first = provider.data / "pieces" / held[0].root.hex()[:2] / held[0].root.hex()
    raw = bytearray(first.read_bytes())
    raw[10] ^= 1
    first.write_bytes(bytes(raw))
    for x in held[1:]:
        (provider.data / "pieces" / x.root.hex()[:2] / x.root.hex()).unlink()
    assert {key[0] for key in proven(provider.run(1))} == {two.terms.deal_id}
    # No beacon yet: no proofs (later in the epoch they go out).
    provider.beacons.ready = False
    assert proven(provider.run(2)) == []
    provider.beacons.ready = True
    assert {key[0] for key in proven(provider.run(2, 30_000))} == {two.terms.deal_id}
    # A beacon that does not cover the role's clock (a late or early agent): no proofs.
    assert proven(provider.run(3, EPOCH_MS + 1)) == []


def test_no_capacity_no_deals_and_a_deal_without_local_pieces_is_not_forwarded(
    tmp_path: Path,
) -> None:
    registration, data = make_deal(3)
    provider = Provider(tmp_path, 0, capacity=None)
    provider.role = StorageProviderRole(provider.beacons, provider.data, url=URL, info=lambda: None)
    provider.receive(registration, data)
    assert DEAL not in kinds(provider.run(0))  # no capacity known: a deal would be refused
    provider.role = StorageProviderRole(provider.beacons, provider.data, url=URL, info=lambda: 7)
    assert kinds(provider.run(0, 2_000)) == [CAPACITY, DEAL]
    empty = Provider(tmp_path, 1)
    empty.book.add(registration)  # the registration arrived, the pieces did not
    assert kinds(empty.run(0)) == [CAPACITY]


def test_a_repaired_piece_is_claimed_then_proven_in_reports_of_its_own(tmp_path: Path) -> None:
    registration, data = make_deal(4, segments=1)
    newcomer = Provider(tmp_path, 5)  # holds no share of the segment
    lost = registration.terms.pieces[2]
    newcomer.store.put(lost.root, data[(0, 2)], CONSUMER.address, registration.terms.deal_id)
    newcomer.book.add(registration)
    claimed = newcomer.run(3)
    assert kinds(claimed) == [CAPACITY, REPAIR]  # not in the deal's terms: no deal report
    assert claimed[1].body == RepairClaim(registration.terms.deal_id, 0, 2)
    later = newcomer.run(4)
    assert kinds(later) == [CAPACITY, REPAIR, PROOF]  # the claim once more; the piece proven
    (body,) = [d.body for d in later if d.kind == PROOF]
    assert isinstance(body, StorageProof) and len(body.pieces) == 1
    moved = msgspec.structs.replace(lost, provider=newcomer.account.address)
    assert check_piece_proof(entropy(4), moved, body.pieces[0], 2) is None
    assert kinds(newcomer.run(5)) == [CAPACITY, PROOF]
    # A provider holding another share of the segment never claims.
    holder = Provider(tmp_path, 0)
    holder.receive(registration, data)
    other = registration.terms.pieces[3]
    holder.store.put(other.root, data[(0, 3)], CONSUMER.address, registration.terms.deal_id)
    assert REPAIR not in kinds(holder.run(3))


def test_factory_options(tmp_path: Path) -> None:
    build = storage_role_factory(["http://127.0.0.1:1"])
    role = build(
        RoleSettings(
            name="storage",
            interval_s=30.0,
            options={"data_dir": str(tmp_path), "url": URL, "capacity_bytes": 5},
        )
    )
    assert isinstance(role, StorageProviderRole) and role.interval_s == 30.0
    for options, message in (
        ({"url": URL}, "data_dir"),
        ({"data_dir": "d"}, "url"),
        ({"data_dir": "d", "url": "ftp://x"}, "url"),
        ({"data_dir": "d", "url": URL, "capacity_bytes": -1}, "capacity_bytes"),
        ({"data_dir": "d", "url": URL, "colour": 1}, "unknown options"),
    ):
        with pytest.raises(RoleError, match=message):
            build(RoleSettings(name="storage", options=options))
    # A relative data_dir is the agent's data directory's.
    relative = build(RoleSettings(name="storage", options={"data_dir": "pieces", "url": URL}))
    assert isinstance(relative, StorageProviderRole)
    agent = tmp_path / "agent"
    (agent / "pieces").mkdir(parents=True)
    ctx = RoleContext(PROVIDERS[0].address, START_MS, 0, START_MS, agent, random.Random(0))
    relative._info = lambda: None  # type: ignore[attr-defined]  # no provider to ask
    assert list(relative.produce(ctx)) == []
