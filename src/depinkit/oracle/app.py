"""The ingest service: a FastAPI app over the ingest pipeline and the store.

The app is built by :func:`create_app` from explicit parts (settings, store,
network registry, device directory, clock), so tests and the devnet can run
several in one process. Request bodies are read raw and decoded with msgspec
(no pydantic on the hot path); CPU and database work run in the threadpool so
the event loop keeps accepting connections.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from typing import Any

import msgspec
from fastapi import FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.utils import get_openapi
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from depinkit.core.envelope import ReportDomain
from depinkit.core.keys import to_checksum
from depinkit.networks import NetworkRegistry
from depinkit.oracle import codes, wire
from depinkit.oracle.clock import Clock, SystemClock
from depinkit.oracle.directory import DeviceDirectory, StoreDirectory
from depinkit.oracle.errors import ReportRejected
from depinkit.oracle.ingest import Ingestor, Outcome
from depinkit.oracle.metrics import IngestMetrics
from depinkit.oracle.settings import DEFAULT_PAGE_LIMIT, MAX_PAGE_LIMIT, OracleSettings
from depinkit.oracle.store import Store
from depinkit.oracle.views import (
    SCHEMA_TYPES,
    Ack,
    BatchResult,
    ErrorBody,
    Health,
    ReportPage,
    StoredReport,
)

API_PREFIX = "/v1"
METRICS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

_JSON = msgspec.json.Encoder()
_MSGPACK = msgspec.msgpack.Encoder()


def _wants_msgpack(request: Request) -> bool:
    return "msgpack" in request.headers.get("accept", "")


def _reply(request: Request, body: msgspec.Struct, status: int = 200) -> Response:
    if _wants_msgpack(request):
        return Response(_MSGPACK.encode(body), status, media_type=wire.MSGPACK)
    return Response(_JSON.encode(body), status, media_type=wire.JSON)


def _error(request: Request, code: str, message: str, report_id: str | None = None) -> Response:
    return _reply(request, ErrorBody(code, message, report_id), codes.HTTP_STATUS[code])


async def _read_body(request: Request, limit: int) -> bytes:
    """The request body, refusing to buffer more than ``limit`` bytes."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise ReportRejected(codes.TOO_LARGE, f"body of {declared} bytes, limit {limit}")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise ReportRejected(codes.TOO_LARGE, f"body exceeds {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def _single_response(request: Request, outcome: Outcome) -> Response:
    if outcome.ok and outcome.id is not None:
        return _reply(request, Ack(outcome.id, outcome.status))
    return _error(request, outcome.code or codes.MALFORMED, outcome.message or "", outcome.id)


def _batch_response(request: Request, outcomes: list[Outcome]) -> Response:
    accepted = sum(1 for o in outcomes if o.status == codes.ACCEPTED)
    duplicates = sum(1 for o in outcomes if o.status == codes.DUPLICATE)
    result = BatchResult(outcomes, accepted, duplicates, len(outcomes) - accepted - duplicates)
    return _reply(request, result)


def _parse_id(text: str) -> bytes | None:
    hex_text = text[2:] if text[:2] in ("0x", "0X") else text
    if len(hex_text) != 64:
        return None
    try:
        return bytes.fromhex(hex_text)
    except ValueError:
        return None


def create_app(
    *,
    settings: OracleSettings,
    store: Store,
    networks: NetworkRegistry,
    directory: DeviceDirectory | None = None,
    clock: Clock | None = None,
    metrics: IngestMetrics | None = None,
    verify_threads: int = 1,
) -> FastAPI:
    """Build the ingest app for the deployment named in ``settings``."""
    domain = ReportDomain(chain_id=settings.chain_id, registry=to_checksum(settings.registry))
    metrics = metrics if metrics is not None else IngestMetrics()
    executor = (
        ThreadPoolExecutor(verify_threads, thread_name_prefix="verify")
        if verify_threads > 1
        else None
    )
    ingestor = Ingestor(
        domain=domain,
        store=store,
        networks=networks,
        directory=directory if directory is not None else StoreDirectory(store),
        clock=clock if clock is not None else SystemClock(),
        max_future_ms=settings.max_future_ms,
        max_age_ms=settings.max_age_ms,
        metrics=metrics,
        executor=executor,
    )
    body_limit = wire.max_body_bytes(settings.max_batch)
    decoder = wire.ReportDecoder()

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        yield
        if executor is not None:
            executor.shutdown(wait=False)

    app = FastAPI(
        title="depinkit oracle ingest",
        version="1",
        openapi_url=f"{API_PREFIX}/openapi.json",
        docs_url=f"{API_PREFIX}/docs",
        redoc_url=None,
        lifespan=lifespan,
    )
    app.state.ingestor = ingestor
    app.state.metrics = metrics
    app.state.store = store

    @app.exception_handler(RequestValidationError)
    async def _bad_query(request: Request, exc: RequestValidationError) -> Response:
        return _error(request, codes.BAD_QUERY, str(exc.errors()))

    def _process(media: str, body: bytes) -> tuple[bool, list[Outcome]]:
        is_batch, raw_items = wire.split_body(body, media, settings.max_batch)
        items = [decoder.decode(raw, media) for raw in raw_items]
        return is_batch, ingestor.ingest(items)

    @app.post(
        f"{API_PREFIX}/reports",
        summary="Submit one signed report or a batch",
        openapi_extra=_post_reports_openapi(),
        responses=_post_reports_responses(),
    )
    async def post_reports(request: Request) -> Response:
        started = time.perf_counter()
        try:
            media = wire.media_type(request.headers.get("content-type"))
            if media is None:
                return _error(
                    request,
                    codes.UNSUPPORTED_MEDIA_TYPE,
                    f"send {wire.MSGPACK} or {wire.JSON}",
                )
            try:
                body = await _read_body(request, body_limit)
                is_batch, outcomes = await run_in_threadpool(_process, media, body)
            except ReportRejected as exc:
                metrics.rejected.labels(reason=exc.code).inc()
                return _error(request, exc.code, exc.message)
            metrics.batch_size.observe(len(outcomes))
            if is_batch:
                return _batch_response(request, outcomes)
            return _single_response(request, outcomes[0])
        finally:
            metrics.request_seconds.observe(time.perf_counter() - started)

    @app.get(
        f"{API_PREFIX}/reports/{{report_id}}",
        summary="One stored report by id",
        responses={200: _schema_ref(StoredReport), 404: _schema_ref(ErrorBody)},
    )
    async def get_report(request: Request, report_id: str) -> Response:
        rid = _parse_id(report_id)
        if rid is None:
            return _error(request, codes.BAD_QUERY, "report id must be 32 bytes of hex")
        row = await run_in_threadpool(store.get_report, rid)
        if row is None:
            return _error(request, codes.NOT_FOUND, f"no report {report_id}")
        return _reply(request, StoredReport.of(row))

    @app.get(
        f"{API_PREFIX}/reports",
        summary="Stored reports, filtered by device and epoch, in id order",
        responses={200: _schema_ref(ReportPage), 400: _schema_ref(ErrorBody)},
    )
    async def list_reports(
        request: Request,
        device: str | None = None,
        epoch: int | None = Query(default=None, ge=0),
        after: str | None = None,
        limit: int = Query(default=DEFAULT_PAGE_LIMIT, ge=1, le=MAX_PAGE_LIMIT),
    ) -> Response:
        cursor = None
        if after is not None:
            cursor = _parse_id(after)
            if cursor is None:
                return _error(request, codes.BAD_QUERY, "after must be a report id")
        rows = await run_in_threadpool(
            lambda: store.list_reports(device=device, epoch=epoch, after=cursor, limit=limit)
        )
        next_cursor = "0x" + rows[-1].id.hex() if len(rows) == limit else None
        return _reply(request, ReportPage([StoredReport.of(r) for r in rows], next_cursor))

    @app.get(
        f"{API_PREFIX}/health",
        summary="Liveness, and which deployment this oracle ingests for",
        responses={200: _schema_ref(Health)},
    )
    async def health(request: Request) -> Response:
        return _reply(request, Health("ok", domain.chain_id, domain.registry))

    @app.get("/openapi.json", include_in_schema=False)
    async def openapi_alias() -> Response:
        """FastAPI's usual location, for tools that look there first."""
        return Response(_JSON.encode(app.openapi()), media_type=wire.JSON)

    @app.get("/metrics", include_in_schema=False)
    async def prometheus_metrics() -> Response:
        return Response(metrics.exposition(), media_type=METRICS_CONTENT_TYPE)

    from depinkit.oracle.epochs.api import epochs_router  # deferred: imports the reward code
    from depinkit.oracle.epochs.store import EpochStore

    app.include_router(epochs_router(EpochStore(store)))
    app.openapi = _openapi_with_components(app)  # type: ignore[method-assign]
    return app


def _schema_ref(struct: type) -> dict[str, Any]:
    ref = {"$ref": f"#/components/schemas/{struct.__name__}"}
    return {
        "content": {"application/json": {"schema": ref}, wire.MSGPACK: {"schema": ref}},
    }


def _post_reports_openapi() -> dict[str, Any]:
    return {
        "requestBody": {
            "required": True,
            "description": (
                "One report or a batch {reports: [...]}. msgpack: a report is the canonical "
                "encoding of core.Report; batch items are those bytes as msgpack bin. JSON: a "
                "report is a JSON array (bytes fields base64)."
            ),
            "content": {
                wire.MSGPACK: {"schema": {"type": "string", "format": "binary"}},
                wire.JSON: {
                    "schema": {
                        "oneOf": [
                            {"type": "array"},
                            {
                                "type": "object",
                                "properties": {"reports": {"type": "array"}},
                                "required": ["reports"],
                            },
                        ]
                    }
                },
            },
        }
    }


def _post_reports_responses() -> dict[int | str, dict[str, Any]]:
    responses: dict[int | str, dict[str, Any]] = {
        200: {"description": "Ack (one report) or BatchResult (a batch)"} | _schema_ref(Ack),
    }
    for code, status in codes.HTTP_STATUS.items():
        if code in (codes.NOT_FOUND, codes.BAD_QUERY):
            continue
        entry = responses.setdefault(status, {"description": ""} | _schema_ref(ErrorBody))
        entry["description"] = ", ".join(filter(None, [entry["description"], code]))
    return responses


def _openapi_with_components(app: FastAPI) -> Callable[[], dict[str, Any]]:
    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = get_openapi(title=app.title, version=app.version, routes=app.routes)
            _, components = msgspec.json.schema_components(
                SCHEMA_TYPES, ref_template="#/components/schemas/{name}"
            )
            schema.setdefault("components", {}).setdefault("schemas", {}).update(components)
            app.openapi_schema = schema
        return app.openapi_schema

    return openapi
