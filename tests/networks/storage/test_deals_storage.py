"""Deals of a stored file: which deal a segment is in, signing, the provider's deal book and
routes, and the consumer's payment channels."""

from __future__ import annotations

import secrets
from pathlib import Path

import msgspec
import pytest

from depinkit.core.envelope import ReportDomain
from depinkit.core.keys import Account
from depinkit.networks.storage.deals import (
    GIB,
    Channel,
    DealBook,
    DealError,
    DealPolicy,
    accept_registration,
    accrue,
    check_registration,
    deal_id_of,
    due,
    file_terms,
    install_deal_routes,
    segments_per_deal,
    sign_file_deals,
)
from depinkit.networks.storage.manifest import Manifest, PiecePlacement, SegmentEntry
from depinkit.networks.storage.pieces import piece_root
from depinkit.networks.storage.provider import PieceStore, ProviderSettings
from depinkit.networks.storage.provider_app import create_app
from depinkit.networks.storage.schemas import MAX_DEAL_PIECES, deal_id_for, sign_deal

DOMAIN = ReportDomain(chain_id=31337, registry="0x" + "11" * 20)
CONSUMER = Account.from_key("0x" + "c3" * 32)
STRANGER = Account.from_key("0x" + "d4" * 32)
PROVIDERS = [Account.from_key((i + 1).to_bytes(32, "big")) for i in range(6)]


def manifest(segments: int, n: int = 5, k: int = 3) -> Manifest:
    entries = []
    for s in range(segments):
        pieces = tuple(
            PiecePlacement(
                number=j,
                root=secrets.token_bytes(32),
                provider=PROVIDERS[(s + j) % len(PROVIDERS)].address,
                url=f"http://127.0.0.1:{9000 + (s + j) % len(PROVIDERS)}",
            )
            for j in range(n)
        )
        entries.append(SegmentEntry(index=s, length=6144, pieces=pieces))
    return Manifest(
        file_id=secrets.token_bytes(32),
        name="f",
        size=segments * 6000,
        k=k,
        n=n,
        segment_bytes=6144,
        consumer=CONSUMER.address,
        created_ms=0,
        segments=tuple(entries),
    )


@pytest.mark.parametrize(("segments", "n"), [(1, 5), (32, 5), (33, 5), (70, 5), (5, 80), (3, 1)])
def test_each_segment_is_in_the_deal_split_deal_puts_it_in(segments: int, n: int) -> None:
    m = manifest(segments, n=n, k=min(3, n))
    terms = file_terms(m, DealPolicy(), start_epoch=7)
    assert len(terms) == -(-segments // segments_per_deal(n))
    for part, deal in enumerate(terms):
        assert deal.deal_id == deal_id_for(m.file_id, part)
        assert len(deal.pieces) <= max(MAX_DEAL_PIECES, n)
        assert deal.start_epoch == 7 and deal.file_id == m.file_id
        for piece in deal.pieces:
            assert deal_id_of(m.file_id, n, piece.segment) == deal.deal_id
            assert piece.size == m.piece_size(piece.segment)
    assert terms[0].deal_id == m.file_id  # a one-deal file pays on channel = file id


def test_registrations_are_signed_by_the_consumer_for_the_domain() -> None:
    m = manifest(33)
    registrations = sign_file_deals(CONSUMER, DOMAIN, m, DealPolicy(), 0)
    assert len(registrations) == 2
    for registration in registrations:
        check_registration(DOMAIN, registration)
        with pytest.raises(DealError, match="not signed by its consumer"):
            check_registration(ReportDomain(chain_id=1, registry=DOMAIN.registry), registration)
    forged = sign_deal(
        STRANGER, DOMAIN, msgspec.structs.replace(registrations[0].terms, consumer=STRANGER.address)
    )
    forged = msgspec.structs.replace(
        forged, terms=msgspec.structs.replace(forged.terms, consumer=CONSUMER.address)
    )
    with pytest.raises(DealError):
        check_registration(DOMAIN, forged)
    with pytest.raises(ValueError, match="signer"):  # only the consumer can sign
        sign_file_deals(STRANGER, DOMAIN, m, DealPolicy(), 0)


def test_storage_and_egress_accrue_into_one_monotone_cumulative() -> None:
    m = manifest(2)
    (terms,) = file_terms(m, DealPolicy(price_gib_epoch=GIB, price_gib_egress=3 * GIB), 4)
    placement = {(s.index, x.number): x.provider for s in m.segments for x in s.pieces}
    channels: dict[str, Channel] = {}
    keys = accrue(channels, terms, placement, 3)  # before the start: nothing owed
    assert all(channels[k].byte_epochs == 0 for k in keys)
    accrue(channels, terms, placement, 5)  # epochs 4 and 5
    key = keys[0]
    held = sum(x.size for x in terms.pieces if x.provider == key.split(":")[0])
    assert channels[key].byte_epochs == 2 * held
    accrue(channels, terms, placement, 5)  # counted once
    assert channels[key].byte_epochs == 2 * held
    channels[key].egress_bytes += 10
    assert due(channels[key], GIB, 3 * GIB) == 2 * held + 30
    assert due(Channel(byte_epochs=1), 1, 0) == 1  # rounded up: never unpaid
    accrue(channels, terms, placement, 10**6)  # capped at the deal's end
    assert channels[key].paid_through == terms.end_epoch - 1
    # A piece moved by a repair is paid to its new holder from the repair epoch on.
    newcomer = STRANGER.address  # holds nothing else
    moved = dict(placement)
    moved[(0, 0)] = newcomer
    fresh: dict[str, Channel] = {f"{newcomer}:{terms.deal_id.hex()}": Channel(paid_through=6)}
    accrue(fresh, terms, moved, 8)
    assert fresh[f"{newcomer}:{terms.deal_id.hex()}"].byte_epochs == 2 * terms.pieces[0].size


def store(tmp_path: Path, number: int = 0) -> PieceStore:
    settings = ProviderSettings(account=PROVIDERS[number], data=tmp_path, domain=DOMAIN)
    return PieceStore(settings)


@pytest.mark.filterwarnings("ignore:Using .httpx. with .starlette.testclient.")
def test_deal_book_and_routes_take_only_deals_for_this_provider(tmp_path: Path) -> None:
    m = manifest(1)
    (registration,) = sign_file_deals(CONSUMER, DOMAIN, m, DealPolicy(), 0)
    holder = store(tmp_path / "holder", 0)  # PROVIDERS[0] holds share 0
    outsider = store(tmp_path / "outsider", 5)  # PROVIDERS[5] holds nothing (n = 5 of 6)
    book = DealBook(holder.settings.data)
    assert accept_registration(holder, book, registration) is True
    assert accept_registration(holder, book, registration) is False  # the same again
    assert book.all() == [registration] and book.get(m.file_id) == registration
    other = sign_deal(
        CONSUMER, DOMAIN, msgspec.structs.replace(registration.terms, duration_epochs=9)
    )
    with pytest.raises(DealError, match="other terms"):
        accept_registration(holder, book, other)
    with pytest.raises(DealError, match="places no piece"):
        accept_registration(outsider, DealBook(outsider.settings.data), registration)
    # A repairer's new holder: it holds a root of the deal, so it may keep the registration.
    data = b"x" * 3000
    root = piece_root(data)
    terms = registration.terms
    pieces = [msgspec.structs.replace(terms.pieces[0], root=root), *terms.pieces[1:]]
    repaired = sign_deal(CONSUMER, DOMAIN, msgspec.structs.replace(terms, pieces=pieces))
    outsider.put(root, data, CONSUMER.address, terms.deal_id)
    assert accept_registration(outsider, DealBook(outsider.settings.data), repaired)

    from fastapi.testclient import TestClient  # imported here: its deprecation warning is filtered

    app = create_app(holder)
    install_deal_routes(app, holder)
    with TestClient(app) as http:
        again = http.post("/v1/deals", content=msgspec.json.encode(registration))
        assert again.status_code == 200 and again.json()["stored"] is False
        conflict = http.post("/v1/deals", content=msgspec.json.encode(other))
        assert conflict.status_code == 409
        bad = http.post("/v1/deals", content=b"[1, 2]")
        assert bad.status_code == 400 and "malformed" in bad.json()["detail"]
        wrong_domain = sign_deal(
            CONSUMER, ReportDomain(chain_id=5, registry=DOMAIN.registry), registration.terms
        )
        refused = http.post("/v1/deals", content=msgspec.json.encode(wrong_domain))
        assert refused.status_code == 400 and "not signed" in refused.json()["detail"]
        got = http.get(f"/v1/deals/{m.file_id.hex()}")
        assert got.status_code == 200
        assert msgspec.json.decode(got.content, type=type(registration)) == registration
        assert http.get(f"/v1/deals/{'00' * 32}").status_code == 404
        assert http.get("/v1/deals/zz").status_code == 400
