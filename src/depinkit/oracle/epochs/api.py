"""The epoch API: beacons, report ids, epoch state and signatures, manifests, claims.

Mounted on the oracle's FastAPI app (:func:`epochs_router`); it needs only the store, so the
ingest process (``depinkit oracle serve``) serves it while a separate ``settle`` process
writes the epochs. A peer's signature is checked against what this oracle stored when it
scored the epoch (the RewardRoot digest and the oracle set), so no chain access is needed
here and a signature of any other root is refused.
"""

from __future__ import annotations

from functools import lru_cache

import msgspec
from fastapi import APIRouter, Path, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from depinkit.core.keys import is_address, to_checksum
from depinkit.networks.beacon import Beacon
from depinkit.oracle import codes, wire
from depinkit.oracle.epochs import states
from depinkit.oracle.epochs.errors import SignatureRejected
from depinkit.oracle.epochs.signatures import verify_signature
from depinkit.oracle.epochs.store import EpochRow, EpochStore
from depinkit.oracle.epochs.views import (
    ClaimBody,
    CreditsSpentBody,
    EpochInfo,
    ReportIds,
    SignatureAck,
    SignatureBody,
    SignatureEntry,
)
from depinkit.oracle.rewards import Ledger, LedgerError, decode_manifest, manifest_json
from depinkit.oracle.views import ErrorBody

MAX_SIGNATURE_BODY_BYTES = 1_024  # a signer, 65 bytes of hex and a root fit easily
NOT_READY = "not_ready"  # the epoch is not scored here yet
WRONG_ROOT = "wrong_root"  # the signature is not over this oracle's root
BAD_SIGNATURE = "bad_signature"
LEDGER_CACHE = 2  # ledgers kept in memory for claim proofs (latest settled and the one before)

_JSON = msgspec.json.Encoder()
_SIGNATURE = msgspec.json.Decoder(SignatureBody)

EpochPath = Path(ge=0, le=2**63 - 1, description="Epoch number")


def _json(body: msgspec.Struct, status: int = 200) -> Response:
    return Response(_JSON.encode(body), status, media_type=wire.JSON)


def _error(code: str, message: str, status: int) -> Response:
    return _json(ErrorBody(code, message), status)


def _hex(value: bytes | None) -> str | None:
    return None if value is None else "0x" + value.hex()


def epoch_info(epochs: EpochStore, row: EpochRow) -> EpochInfo:
    signed = epochs.signatures(row.epoch)
    manifest = epochs.manifest(row.epoch)
    return EpochInfo(
        epoch=row.epoch,
        state=row.state,
        start_block=row.start_block,
        entropy="0x" + row.entropy.hex(),
        root=_hex(row.root),
        total=None if row.total is None else str(row.total),
        digest=_hex(row.digest),
        manifest_hash=None if manifest is None else "0x" + manifest[0].hex(),
        threshold=row.threshold,
        signatures=[SignatureEntry(s, "0x" + sig.hex()) for s, sig in signed.items()],
        tx_hash=_hex(row.tx_hash),
    )


def epochs_router(epochs: EpochStore) -> APIRouter:
    """Routes under /v1 for one oracle's epochs."""
    router = APIRouter(prefix="/v1", tags=["epochs"])

    @lru_cache(maxsize=LEDGER_CACHE)
    def ledger(epoch: int) -> Ledger:
        return Ledger(epochs.totals(epoch), {}, 0)

    @router.get("/epochs/{epoch}/report-ids", summary="Ids of the reports held for an epoch")
    async def report_ids(epoch: int = EpochPath) -> Response:
        ids = await run_in_threadpool(epochs.report_ids, epoch)
        return _json(ReportIds(epoch, ["0x" + i.hex() for i in ids]))

    @router.get("/epochs/{epoch}/beacon", summary="The epoch's start block, entropy and parameters")
    async def get_beacon(epoch: int = EpochPath) -> Response:
        row = await run_in_threadpool(epochs.get, epoch)
        if row is None:
            return _error(codes.NOT_FOUND, f"epoch {epoch} has not begun here yet", 404)
        beacon = Beacon(
            epoch=row.epoch,
            start_ms=row.start_ms,
            end_ms=row.end_ms,
            block=row.start_block,
            entropy="0x" + row.entropy.hex(),
            parameters=row.parameters,
        )
        return _json(beacon)

    @router.get("/epochs/{epoch}", summary="An epoch's state, root, total and signatures")
    async def get_epoch(epoch: int = EpochPath) -> Response:
        def load() -> EpochInfo | None:
            row = epochs.get(epoch)
            return None if row is None else epoch_info(epochs, row)

        info = await run_in_threadpool(load)
        if info is None:
            return _error(codes.NOT_FOUND, f"epoch {epoch} is not collected here", 404)
        return _json(info)

    @router.post(
        "/epochs/{epoch}/signatures", summary="A peer oracle's RewardRoot signature (verified)"
    )
    async def post_signature(request: Request, epoch: int = EpochPath) -> Response:
        raw = await request.body()
        if len(raw) > MAX_SIGNATURE_BODY_BYTES:
            return _error(codes.TOO_LARGE, "signature body too large", 413)
        try:
            body = _SIGNATURE.decode(raw)
            signature = bytes.fromhex(body.signature.removeprefix("0x"))
        except (msgspec.MsgspecError, ValueError) as exc:
            return _error(codes.MALFORMED, f"not a signature body: {exc}", 400)

        def store() -> Response:
            row = epochs.get(epoch)
            if row is None or not states.at_least(row.state, states.SCORED):
                return _error(NOT_READY, f"epoch {epoch} is not scored here yet", 409)
            assert row.digest is not None and row.root is not None
            if body.root is not None and body.root.lower() != "0x" + row.root.hex():
                return _error(WRONG_ROOT, f"this oracle's root is 0x{row.root.hex()}", 409)
            try:
                signer = verify_signature(
                    row.digest, signature, row.oracles or [], claimed=body.signer
                )
            except SignatureRejected as exc:
                return _error(BAD_SIGNATURE, str(exc), 422)
            added = epochs.add_signatures(epoch, [(signer, signature)])
            count = len(epochs.signatures(epoch))
            return _json(SignatureAck(signer, bool(added), count))

        return await run_in_threadpool(store)

    @router.get("/epochs/{epoch}/manifest", summary="The epoch's reward manifest (JSON file)")
    async def get_manifest(epoch: int = EpochPath) -> Response:
        found = await run_in_threadpool(epochs.manifest, epoch)
        if found is None:
            return _error(codes.NOT_FOUND, f"no manifest for epoch {epoch} yet", 404)
        body = manifest_json(decode_manifest(found[1]))
        return Response(
            body,
            media_type=wire.JSON,
            headers={
                "content-disposition": f'attachment; filename="epoch-{epoch}-manifest.json"',
                "x-manifest-hash": "0x" + found[0].hex(),
            },
        )

    @router.get("/claims/{account}", summary="Cumulative amount and proof, latest settled epoch")
    async def get_claim(account: str) -> Response:
        def load() -> Response:
            row = epochs.latest(states.SUBMITTED)
            if row is None:
                return _error(codes.NOT_FOUND, "no epoch settled yet", 404)
            try:
                claim = ledger(row.epoch).claim(account)
            except LedgerError as exc:
                status = 404 if "no cumulative" in str(exc) else 400
                code = codes.NOT_FOUND if status == 404 else codes.BAD_QUERY
                return _error(code, str(exc), status)
            return _json(
                ClaimBody(row.epoch, claim.account, claim.cumulative, claim.proof, claim.root)
            )

        return await run_in_threadpool(load)

    @router.get("/credits/{account}", summary="Nanocredits a consumer spent in scored epochs")
    async def get_credits(account: str) -> Response:
        if not is_address(account):
            return _error(codes.BAD_QUERY, f"not an address: {account[:64]!r}", 400)
        consumer = to_checksum(account)

        def load() -> Response:
            row = epochs.latest(states.SCORED)
            if row is None:
                return _json(CreditsSpentBody(consumer, 0, None))
            spent = epochs.spent_before(row.epoch + 1, [consumer]).get(consumer, 0)
            return _json(CreditsSpentBody(consumer, spent, row.epoch))

        return await run_in_threadpool(load)

    return router
