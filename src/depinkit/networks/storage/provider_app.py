"""The provider's HTTP service: signed PUT/GET/DELETE of pieces, chunk proofs, receipts.

Routes (every one but ``/v1/info`` needs a signed request, see ``provider.py``):

- ``GET /v1/info``: address, declared capacity, bytes used, piece count.
- ``PUT /v1/pieces/{root}?consumer=&deal=``: store a piece for the consumer's deal. The
  signer is the consumer or a repairer. 413 if larger than the piece limit, 422 if the
  bytes do not hash to ``root``, 507 if over capacity; nothing is stored on any refusal.
- ``GET /v1/pieces/{root}?deal=``: the piece, to an owner, an auditor or a repairer.
  Metered against the consumer's receipts (402 when the allowance is used up); the
  response carries the credits owed so far in ``x-depinkit-egress-owed``.
- ``GET /v1/pieces/{root}/chunks/{index}?deal=``: one 1 KiB chunk and its Merkle proof
  (JSON, bytes base64); 410 if the piece on disk no longer hashes to its root.
- ``DELETE /v1/pieces/{root}?deal=``: the consumer ends its deal on the piece.
- ``POST /v1/receipts``: a consumer-signed cumulative receipt (JSON ``Receipt``).
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any, Final

import msgspec
from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from depinkit.networks.receipts import Receipt, ReceiptError, ReplayedReceipt
from depinkit.networks.storage.pieces import (
    HASH_BYTES,
    chunk,
    chunk_count,
    levels,
    prove_from_levels,
)
from depinkit.networks.storage.provider import (
    HEADER_OWED,
    BadSignature,
    NonceCache,
    PieceCorrupt,
    PieceMismatch,
    PieceStore,
    PieceTooLarge,
    ProviderError,
    authenticate,
)

RECEIPT_MAX_BYTES: Final[int] = 2_048  # a JSON receipt is ~400 bytes


class ChunkProofReply(msgspec.Struct, frozen=True):
    index: int
    chunks: int
    chunk: bytes
    proof: list[bytes]


def _root(text: str) -> bytes:
    try:
        root = bytes.fromhex(text)
    except ValueError:
        raise PieceMismatch("root must be 64 hex digits") from None
    if len(root) != HASH_BYTES:
        raise PieceMismatch("root must be 64 hex digits")
    return root


def _deal(request: Request) -> bytes:
    try:
        deal = bytes.fromhex(request.query_params.get("deal", ""))
    except ValueError:
        raise ProviderError("deal must be 64 hex digits") from None
    if len(deal) != 32:
        raise ProviderError("deal must be 64 hex digits")
    return deal


async def _receive(request: Request, limit: int) -> bytes:
    """The request body; PieceTooLarge, before or while it arrives, beyond ``limit`` bytes.

    The parts are joined once at the end: one copy, and no buffer grown part by part.
    """
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise PieceTooLarge(f"piece of {declared} bytes exceeds {limit}")
    parts, received = [], 0
    async for part in request.stream():
        received += len(part)
        if received > limit:
            raise PieceTooLarge(f"piece exceeds {limit} bytes")
        parts.append(part)
    return b"".join(parts)


def create_app(store: PieceStore) -> FastAPI:
    settings = store.settings
    address = settings.account.address
    nonces = NonceCache()

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        yield
        store.flush()  # the egress meter is saved at most once a second while running

    app = FastAPI(
        title="depinkit storage provider", docs_url=None, redoc_url=None, lifespan=lifespan
    )

    @app.exception_handler(ProviderError)
    async def _refused(_: Request, exc: ProviderError) -> JSONResponse:
        return JSONResponse({"error": type(exc).__name__, "detail": str(exc)}, exc.status)

    @app.exception_handler(ReceiptError)
    async def _bad_receipt(_: Request, exc: ReceiptError) -> JSONResponse:
        status = 409 if isinstance(exc, ReplayedReceipt) else 400
        return JSONResponse({"error": type(exc).__name__, "detail": str(exc)}, status)

    def signer_of(request: Request) -> str:
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        now_ms = int(time.time() * 1000)
        return authenticate(
            address,
            request.method,
            target,
            {k.lower(): v for k, v in request.headers.items()},
            nonces,
            now_ms=now_ms,
            not_before_ms=settings.started_ms,
        )

    @app.get("/v1/info")
    async def info() -> dict[str, Any]:
        return {
            "address": address,
            "capacity": settings.capacity,
            "used": store.used(),
            "max_piece": settings.max_piece,
            "egress_price": settings.egress_price,
        }

    @app.put("/v1/pieces/{root_hex}")
    async def put_piece(root_hex: str, request: Request) -> JSONResponse:
        root = _root(root_hex)
        signer = signer_of(request)
        consumer = request.query_params.get("consumer", signer)
        deal = _deal(request)
        store.may_write(signer, consumer)
        body = await _receive(request, settings.max_piece)
        created = await run_in_threadpool(store.put, root, body, consumer, deal)
        return JSONResponse({"root": root_hex, "stored": created}, 201 if created else 200)

    @app.get("/v1/pieces/{root_hex}")
    async def get_piece(root_hex: str, request: Request) -> Response:
        root = _root(root_hex)
        signer = signer_of(request)
        role = store.may_read(signer, root)
        data = await run_in_threadpool(store.read, root)
        headers = {}
        if role == "consumer":
            owed = store.charge_egress(signer, _deal(request), len(data))
            headers[HEADER_OWED] = str(owed)
        return Response(data, media_type="application/octet-stream", headers=headers)

    @app.get("/v1/pieces/{root_hex}/chunks/{index}")
    async def get_chunk(root_hex: str, index: int, request: Request) -> Response:
        root = _root(root_hex)
        signer = signer_of(request)
        role = store.may_read(signer, root)
        data = await run_in_threadpool(store.read, root)
        if not 0 <= index < chunk_count(len(data)):
            raise ProviderError(f"chunk {index} outside a piece of {len(data)} bytes")
        tree = await run_in_threadpool(levels, data)
        if tree[-1][0] != root:
            raise PieceCorrupt(f"piece {root_hex} on disk no longer hashes to its root")
        piece_chunk = chunk(data, index)
        headers = {}
        if role == "consumer":
            headers[HEADER_OWED] = str(
                store.charge_egress(signer, _deal(request), len(piece_chunk))
            )
        reply = ChunkProofReply(
            index=index,
            chunks=len(tree[0]),
            chunk=piece_chunk,
            proof=prove_from_levels(tree, index),
        )
        return Response(msgspec.json.encode(reply), media_type="application/json", headers=headers)

    @app.delete("/v1/pieces/{root_hex}")
    async def delete_piece(root_hex: str, request: Request) -> dict[str, Any]:
        root = _root(root_hex)
        signer = signer_of(request)
        removed = await run_in_threadpool(store.delete, root, signer, _deal(request))
        return {"root": root_hex, "removed": removed}

    @app.post("/v1/receipts")
    async def post_receipt(request: Request) -> dict[str, Any]:
        body = await request.body()
        if len(body) > RECEIPT_MAX_BYTES:
            raise ProviderError("receipt too large")
        try:
            receipt = msgspec.json.decode(body, type=Receipt)
        except (msgspec.DecodeError, msgspec.ValidationError, ValueError) as exc:
            raise BadSignature(f"malformed receipt: {exc}") from None
        added = await run_in_threadpool(store.accept_receipt, receipt)
        return {
            "cumulative": receipt.cumulative,
            "added": added,
            "owed": store.owed(receipt.consumer, receipt.channel),
        }

    from depinkit.networks.storage.deals import install_deal_routes  # deals imports this module

    install_deal_routes(app, store)
    return app


__all__ = ["ChunkProofReply", "create_app"]
