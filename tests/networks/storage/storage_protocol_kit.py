"""Builders for storage-protocol tests: fixed devices, real pieces, signed deals and reports."""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import msgspec

from depinkit.core.canonical import canonical_encode
from depinkit.core.envelope import ReportDomain, report_id, sign_report
from depinkit.core.keys import Account, keccak256
from depinkit.networks import DeviceInfo, DeviceView, EpochContext, ReceivedReport, Verdict
from depinkit.networks.module import Scores, run_module
from depinkit.networks.receipts import sign_receipt
from depinkit.networks.storage import erasure, pieces
from depinkit.networks.storage.module import NAME, StorageModule
from depinkit.networks.storage.proofs import pack_proofs, prove_piece
from depinkit.networks.storage.schemas import (
    CAPACITY,
    DEAL,
    PROOF,
    RECEIPT,
    CapacityDeclaration,
    DealRegistration,
    DealTerms,
    PieceProof,
    PieceTerms,
    ReceiptReport,
    StorageProof,
    sign_deal,
)

DOMAIN = ReportDomain(chain_id=31337, registry="0x5FbDB2315678afecb367f032d93F642f64180aa3")
OWNER = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"
START_MS = 1_700_000_000_000  # unix ms of epoch 0
EPOCH_MS = 60_000  # one-minute epochs, as on the devnet
PROVIDERS = tuple(Account.from_key(bytes([i + 1]) * 32) for i in range(8))
CONSUMER = Account.from_key(bytes([0x41]) * 32)
AUDITOR = Account.from_key(bytes([0x51]) * 32)
OUTSIDER = Account.from_key(bytes([0x61]) * 32)  # a device of another network
CREDITS = 10**15  # nanocredits: a million credits, plenty
PIECE_BYTES = 2_500  # bytes: three chunks, the last one short
CAPACITY_BYTES = 1 << 30  # bytes each test provider declares


def entropy(epoch: int) -> bytes:
    return keccak256(b"start block of epoch " + str(epoch).encode())


def params(**overrides: int) -> dict[str, int]:
    values = StorageModule().defaults()
    values.update(overrides)
    return values


def devices() -> dict[str, DeviceInfo]:
    out: dict[str, DeviceInfo] = {
        a.address: DeviceView(owner=OWNER, network=NAME) for a in (*PROVIDERS, AUDITOR)
    }
    out[OUTSIDER.address] = DeviceView(owner=OWNER, network="uptime")
    return out


def context(
    epoch: int = 0,
    *,
    prior: Mapping[str, Any] | None = None,
    parameters: Mapping[str, int] | None = None,
    credits: Mapping[str, int] | None = None,
    device_map: Mapping[str, DeviceInfo] | None = None,
    domain: ReportDomain | None = DOMAIN,
) -> EpochContext:
    return EpochContext(
        network=NAME,
        epoch=epoch,
        start_ms=START_MS + epoch * EPOCH_MS,
        end_ms=START_MS + (epoch + 1) * EPOCH_MS,
        entropy=entropy(epoch),
        parameters=dict(parameters if parameters is not None else params()),
        devices=dict(device_map if device_map is not None else devices()),
        prior=dict(prior or {}),
        credits=dict(credits if credits is not None else {CONSUMER.address: CREDITS}),
        domain=domain,
    )


def signed(
    account: Account,
    kind: str,
    body: msgspec.Struct,
    epoch: int = 0,
    *,
    offset_ms: int = 0,
    seq: int = 0,
    network: str = NAME,
) -> ReceivedReport:
    report = sign_report(
        account,
        DOMAIN,
        network=network,
        kind=kind,
        seq=seq,
        timestamp_ms=START_MS + epoch * EPOCH_MS + offset_ms,
        epoch=epoch,
        body=body,
    )
    return ReceivedReport(id=report_id(DOMAIN, report), report=report)


@dataclass
class StoredFile:
    """A file's deal and the real bytes of its pieces (erasure-coded with zfec)."""

    terms: DealTerms
    data: dict[tuple[int, int], bytes] = field(default_factory=dict)  # (segment, share) -> bytes

    @property
    def deal_id(self) -> bytes:
        return self.terms.deal_id

    def held_by(self, provider: str) -> list[PieceTerms]:
        return [x for x in self.terms.pieces if x.provider == provider]


def make_file(
    seed: int,
    *,
    providers: Sequence[Account] = PROVIDERS[:5],
    segments: int = 1,
    k: int = 3,
    n: int = 5,
    piece_bytes: int = PIECE_BYTES,
    start_epoch: int = 0,
    duration_epochs: int = 1_000,
    price_gib_epoch: int | None = None,
    price_gib_egress: int | None = None,
) -> StoredFile:
    """A file of ``segments`` random segments, share j of each on providers[(s + j) % len]."""
    rng = random.Random(seed)
    defaults = params()
    data: dict[tuple[int, int], bytes] = {}
    terms: list[PieceTerms] = []
    for segment in range(segments):
        sealed = rng.randbytes(piece_bytes * k)
        shares = erasure.encode(sealed, k, n)
        for index, share in enumerate(shares):
            data[(segment, index)] = share
            provider = providers[(segment + index) % len(providers)].address
            root = pieces.piece_root(share)
            terms.append(PieceTerms(segment, index, root, len(share), provider))
    deal = DealTerms(
        deal_id=keccak256(b"deal" + seed.to_bytes(8, "big")),
        file_id=keccak256(b"file" + seed.to_bytes(8, "big")),
        consumer=CONSUMER.address,
        k=k,
        n=n,
        pieces=terms,
        price_gib_epoch=defaults["price_gib_epoch"] if price_gib_epoch is None else price_gib_epoch,
        price_gib_egress=(
            defaults["price_gib_egress"] if price_gib_egress is None else price_gib_egress
        ),
        start_epoch=start_epoch,
        duration_epochs=duration_epochs,
    )
    return StoredFile(deal, data)


def registration(terms: DealTerms, consumer: Account = CONSUMER) -> DealRegistration:
    return sign_deal(consumer, DOMAIN, terms)


def deal_report(file: StoredFile, sender: Account | None = None, epoch: int = 0) -> ReceivedReport:
    sender = sender or next(a for a in PROVIDERS if a.address == file.terms.pieces[0].provider)
    return signed(sender, DEAL, registration(file.terms), epoch)


def capacity_report(
    account: Account, epoch: int = 0, capacity: int = CAPACITY_BYTES, offset_ms: int = 0
) -> ReceivedReport:
    body = CapacityDeclaration(capacity_bytes=capacity, url="http://127.0.0.1:1")
    return signed(account, CAPACITY, body, epoch, offset_ms=offset_ms)


def piece_proofs(
    file: StoredFile, provider: str, epoch: int, count: int = 2, *, pieces_held=None
) -> list[PieceProof]:
    """Honest proofs for every piece of ``file`` on ``provider`` (from ``file.data``)."""
    out = []
    for piece in pieces_held if pieces_held is not None else file.held_by(provider):
        data = file.data[(piece.segment, piece.index)]
        tree = pieces.levels(data)
        piece = msgspec.structs.replace(piece, provider=provider)
        out.append(prove_piece(entropy(epoch), piece, file.deal_id, tree, data, count))
    return out


def proof_reports(
    account: Account, files: Sequence[StoredFile], epoch: int, count: int = 2
) -> list[ReceivedReport]:
    proofs = [p for f in files for p in piece_proofs(f, account.address, epoch, count)]
    return [
        signed(account, PROOF, body, epoch, offset_ms=i, seq=i)
        for i, body in enumerate(pack_proofs(proofs))
    ]


def proof_report(account: Account, proofs: list[PieceProof], epoch: int = 0, **kw: Any):
    return signed(account, PROOF, StorageProof(pieces=proofs), epoch, **kw)


def receipt_report(
    provider: Account,
    channel: bytes,
    cumulative: int,
    epoch: int = 0,
    *,
    consumer: Account = CONSUMER,
    offset_ms: int = 0,
    network: str = NAME,
    payee: str | None = None,
) -> ReceivedReport:
    receipt = sign_receipt(
        consumer,
        DOMAIN,
        network=network,
        payee=payee or provider.address,
        channel=channel,
        cumulative=cumulative,
    )
    return signed(provider, RECEIPT, ReceiptReport(receipt), epoch, offset_ms=offset_ms)


def roundtrip(prior: Mapping[str, Any]) -> dict[str, Any]:
    """What the pipeline hands the next epoch: the canonical bytes, decoded untyped."""
    decoded = msgspec.msgpack.decode(canonical_encode(prior))
    assert isinstance(decoded, dict)
    return decoded


def run_epoch(
    module: StorageModule, ctx: EpochContext, reports: Sequence[ReceivedReport]
) -> tuple[list[Verdict], Scores, dict[str, Any]]:
    verdicts, scores = run_module(module, ctx, reports)
    return verdicts, scores, roundtrip(module.next_prior(ctx, reports, verdicts))


def by_id(verdicts: Sequence[Verdict]) -> dict[bytes, Verdict]:
    return {v.report_id: v for v in verdicts}
