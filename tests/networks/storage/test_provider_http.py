"""The provider's HTTP service on a real process: what it stores, serves and refuses."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import httpx
import msgspec
import pytest
from storage_provider_kit import (
    AUDITOR,
    CONSUMER,
    DOMAIN,
    REPAIRER,
    STRANGER,
    ProviderProcess,
    providers,
)

from depinkit.core.keys import Account
from depinkit.networks.receipts import sign_receipt
from depinkit.networks.storage.pieces import CHUNK_BYTES, piece_root, verify_chunk
from depinkit.networks.storage.provider import HEADER_OWED, sign_request
from depinkit.networks.storage.provider_app import ChunkProofReply

MAX_PIECE = 64 * CHUNK_BYTES  # 64 KiB: the limit this test's provider runs with
PRICE = 1 << 30  # credit base units per GiB: one credit unit per byte keeps the sums plain
ALLOWANCE = 96 * CHUNK_BYTES  # bytes served ahead of a receipt: one 64 KiB piece, not two
DEAL = bytes(range(32))


@pytest.fixture(scope="module")
def provider(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ProviderProcess]:
    extra = [
        "--max-piece",
        str(MAX_PIECE),
        "--egress-price",
        str(PRICE),
        "--egress-allowance",
        str(ALLOWANCE),
    ]
    with providers(tmp_path_factory.mktemp("http"), 1, extra=extra) as procs:
        yield procs[0]


def call(
    p: ProviderProcess,
    account: Account | None,
    method: str,
    target: str,
    content: bytes | None = None,
    headers: dict[str, str] | None = None,
) -> httpx.Response:
    signed = sign_request(account, p.account.address, method, target) if account else {}
    return httpx.request(
        method, p.url + target, content=content, headers=headers or signed, timeout=30
    )


def put(p: ProviderProcess, account: Account, data: bytes, root: bytes | None = None,
        consumer: str | None = None) -> httpx.Response:  # fmt: skip
    root = piece_root(data) if root is None else root
    target = f"/v1/pieces/{root.hex()}?consumer={consumer or account.address}&deal={DEAL.hex()}"
    return call(p, account, "PUT", target, data)


def stored(p: ProviderProcess, root: bytes) -> bool:
    return any(path.name == root.hex() for path in p.piece_paths())


def test_put_then_get_by_consumer_auditor_and_repairer(provider: ProviderProcess) -> None:
    data = os.urandom(10 * CHUNK_BYTES)
    root = piece_root(data)
    assert put(provider, CONSUMER, data).status_code == 201
    assert put(provider, CONSUMER, data).status_code == 200  # idempotent
    assert stored(provider, root)
    for who in (CONSUMER, AUDITOR, REPAIRER):
        reply = call(provider, who, "GET", f"/v1/pieces/{root.hex()}?deal={DEAL.hex()}")
        assert reply.status_code == 200 and reply.content == data
    target = f"/v1/pieces/{root.hex()}/chunks/7?deal={DEAL.hex()}"
    answer = msgspec.json.decode(
        call(provider, AUDITOR, "GET", target).content, type=ChunkProofReply
    )
    assert answer.chunks == 10
    assert verify_chunk(root, 7, answer.chunk, answer.proof, chunks=10)


def test_piece_not_matching_its_root_is_refused(provider: ProviderProcess) -> None:
    data = os.urandom(4 * CHUNK_BYTES)
    wrong = piece_root(os.urandom(4 * CHUNK_BYTES))
    used = httpx.get(provider.url + "/v1/info").json()["used"]
    reply = put(provider, CONSUMER, data, root=wrong)
    assert reply.status_code == 422 and "do not hash to the announced root" in reply.text
    assert not stored(provider, wrong) and not stored(provider, piece_root(data))
    assert httpx.get(provider.url + "/v1/info").json()["used"] == used


def test_oversized_piece_is_refused(provider: ProviderProcess) -> None:
    data = os.urandom(MAX_PIECE + CHUNK_BYTES)
    reply = put(provider, CONSUMER, data)
    assert reply.status_code == 413 and "exceeds" in reply.text
    assert not stored(provider, piece_root(data))


def test_oversized_piece_without_content_length_is_refused_while_it_arrives(
    provider: ProviderProcess,
) -> None:
    data = os.urandom(MAX_PIECE + CHUNK_BYTES)
    root = piece_root(data)
    target = f"/v1/pieces/{root.hex()}?consumer={CONSUMER.address}&deal={DEAL.hex()}"
    headers = sign_request(CONSUMER, provider.account.address, "PUT", target)
    parts = (data[i : i + 8 * CHUNK_BYTES] for i in range(0, len(data), 8 * CHUNK_BYTES))
    reply = httpx.put(provider.url + target, content=parts, headers=headers, timeout=30)
    assert reply.status_code == 413 and "exceeds" in reply.text
    assert not stored(provider, root)


def test_unauthorized_put_and_get_are_refused(provider: ProviderProcess) -> None:
    data = os.urandom(2 * CHUNK_BYTES)
    root = piece_root(data)
    # A stranger cannot store on the consumer's behalf, nor unsigned, nor with a bad signature.
    assert put(provider, STRANGER, data, consumer=CONSUMER.address).status_code == 403
    target = f"/v1/pieces/{root.hex()}?consumer={CONSUMER.address}&deal={DEAL.hex()}"
    assert call(provider, None, "PUT", target, data).status_code == 401
    forged = sign_request(STRANGER, provider.account.address, "PUT", target)
    forged["x-depinkit-signer"] = CONSUMER.address
    reply = call(provider, None, "PUT", target, data, headers=forged)
    assert reply.status_code == 401 and "signed by" in reply.text
    other = sign_request(CONSUMER, STRANGER.address, "PUT", target)  # meant for someone else
    assert call(provider, None, "PUT", target, data, headers=other).status_code == 401
    assert not stored(provider, root)
    # Stored by the consumer, the piece is still not the stranger's to read.
    assert put(provider, CONSUMER, data).status_code == 201
    reply = call(provider, STRANGER, "GET", f"/v1/pieces/{root.hex()}?deal={DEAL.hex()}")
    assert reply.status_code == 403 and "may not read" in reply.text
    chunk_target = f"/v1/pieces/{root.hex()}/chunks/0?deal={DEAL.hex()}"
    assert call(provider, STRANGER, "GET", chunk_target).status_code == 403
    delete_target = f"/v1/pieces/{root.hex()}?deal={DEAL.hex()}"
    assert call(provider, STRANGER, "DELETE", delete_target).status_code == 403
    assert stored(provider, root)


def test_replayed_request_is_refused_and_stores_nothing(provider: ProviderProcess) -> None:
    data = os.urandom(3 * CHUNK_BYTES)
    root = piece_root(data)
    target = f"/v1/pieces/{root.hex()}?consumer={CONSUMER.address}&deal={DEAL.hex()}"
    headers = sign_request(CONSUMER, provider.account.address, "PUT", target)
    assert call(provider, None, "PUT", target, data, headers=headers).status_code == 201
    delete = f"/v1/pieces/{root.hex()}?deal={DEAL.hex()}"
    assert call(provider, CONSUMER, "DELETE", delete).status_code == 200
    assert not stored(provider, root)
    reply = call(provider, None, "PUT", target, data, headers=headers)
    assert reply.status_code == 409 and "replayed" in reply.text
    assert not stored(provider, root)
    stale = sign_request(CONSUMER, provider.account.address, "PUT", target, now_ms=10**12)
    assert call(provider, None, "PUT", target, data, headers=stale).status_code == 409
    assert not stored(provider, root)


def test_egress_needs_receipts_and_refuses_forged_or_replayed_ones(
    provider: ProviderProcess,
) -> None:
    deal = os.urandom(32)
    data = os.urandom(MAX_PIECE)
    root = piece_root(data)
    target = f"/v1/pieces/{root.hex()}?consumer={CONSUMER.address}&deal={deal.hex()}"
    assert call(provider, CONSUMER, "PUT", target, data).status_code == 201
    get = f"/v1/pieces/{root.hex()}?deal={deal.hex()}"
    first = call(provider, CONSUMER, "GET", get)
    assert first.status_code == 200 and int(first.headers[HEADER_OWED]) == MAX_PIECE
    refused = call(provider, CONSUMER, "GET", get)  # 128 KiB unpaid > the 96 KiB allowance
    assert refused.status_code == 402 and "send a receipt" in refused.text

    def post(receipt: object) -> httpx.Response:
        return httpx.post(provider.url + "/v1/receipts", content=msgspec.json.encode(receipt))

    payee = provider.account.address
    forged = sign_receipt(STRANGER, DOMAIN, network="storage", payee=payee, channel=deal,
                          cumulative=MAX_PIECE)  # fmt: skip
    forged = msgspec.structs.replace(forged, consumer=CONSUMER.address)
    assert post(forged).status_code == 400
    elsewhere = sign_receipt(CONSUMER, DOMAIN, network="storage", payee=STRANGER.address,
                             channel=deal, cumulative=MAX_PIECE)  # fmt: skip
    assert post(elsewhere).status_code == 400
    good = sign_receipt(CONSUMER, DOMAIN, network="storage", payee=payee, channel=deal,
                        cumulative=MAX_PIECE)  # fmt: skip
    reply = post(good)
    assert reply.status_code == 200 and reply.json()["added"] == MAX_PIECE
    replayed = post(good)
    assert replayed.status_code == 409 and "not above" in replayed.text
    assert call(provider, CONSUMER, "GET", get).status_code == 200
    # Auditors are not metered against the consumer.
    assert HEADER_OWED not in call(provider, AUDITOR, "GET", get).headers


def test_corrupt_piece_on_disk_fails_its_proof(provider: ProviderProcess) -> None:
    data = os.urandom(8 * CHUNK_BYTES)
    root = piece_root(data)
    assert put(provider, CONSUMER, data).status_code == 201
    (path,) = [p for p in provider.piece_paths() if p.name == root.hex()]
    raw = bytearray(path.read_bytes())
    raw[5 * CHUNK_BYTES] ^= 0xFF
    path.write_bytes(bytes(raw))
    reply = call(provider, AUDITOR, "GET", f"/v1/pieces/{root.hex()}/chunks/1?deal={DEAL.hex()}")
    assert reply.status_code == 410 and "no longer hashes" in reply.text
    served = call(provider, AUDITOR, "GET", f"/v1/pieces/{root.hex()}?deal={DEAL.hex()}")
    assert piece_root(served.content) != root  # a client checking roots sees it


def test_capacity_is_enforced_and_pieces_survive_a_restart(tmp_path: Path) -> None:
    capacity = 8 * CHUNK_BYTES
    with providers(tmp_path, 1, capacity=capacity) as (p,):
        first = os.urandom(6 * CHUNK_BYTES)
        assert put(p, CONSUMER, first).status_code == 201
        second = os.urandom(4 * CHUNK_BYTES)
        reply = put(p, CONSUMER, second)
        assert reply.status_code == 507 and "do not fit" in reply.text
        assert not stored(p, piece_root(second))
        p.stop()
        p.start()
        assert httpx.get(p.url + "/v1/info").json()["used"] == len(first)
        reply = call(p, CONSUMER, "GET", f"/v1/pieces/{piece_root(first).hex()}?deal={DEAL.hex()}")
        assert reply.content == first
        assert put(p, CONSUMER, second).status_code == 507  # still full after the restart
