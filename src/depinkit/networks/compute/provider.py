"""The provider service: run consumers' signed jobs in the sandbox, answer with signed results.

HTTP API (JSON; ``bytes`` fields are base64, as msgspec encodes them):

``GET /v1/info``
    :class:`ProviderInfo`: the provider's address, deployment, workers, jobs running and
    waiting, the largest limits it accepts and the largest request body.

``POST /v1/jobs``
    Body: a :class:`~depinkit.networks.compute.jobs.JobRequest`. The provider checks the
    consumer's signature (:func:`~depinkit.networks.compute.jobs.verify_request`), that the
    request names this provider and that the job's limits are within its own, runs the job
    (at most ``workers`` at once, ``queue`` more waiting), and answers 200 with a
    :class:`~depinkit.networks.compute.jobs.SignedResult` signed by its device key, whatever
    the job's status (a job that ran out of fuel is still paid for). Refusals carry
    ``{"error": code, "detail": message}``: 400 ``malformed`` (body does not decode), 401
    ``bad_signature``, 403 ``wrong_provider``, 409 ``cancelled`` (the consumer cancelled the
    lease: the run was stopped or never started, nothing is signed and nothing is owed) or
    ``lease_in_use`` (a run of that lease is already here), 413 ``too_large``, 422
    ``limits_exceeded``, 503 ``busy``.

``POST /v1/cancel``
    Body: a :class:`~depinkit.networks.compute.jobs.CancelRequest` for a lease, signed by the
    consumer that ordered it. A run of the lease waiting for a worker leaves the queue; a
    running one has its sandbox worker killed (and replaced); either way its ``POST
    /v1/jobs`` answers 409 ``cancelled``. A cancel that arrives before its job is kept
    (the newest ``MAX_CANCELLED``), so the job is refused when it comes. Answer 200
    ``{"lease": hex, "state": s}``, ``s`` one of ``stopped``, ``finished`` (too late: the
    result was already answered), ``unknown`` (remembered); refusals 400 ``malformed``, 401
    ``bad_signature``, 403 ``wrong_provider`` or ``wrong_consumer`` (another consumer's
    lease), 413 ``too_large``.

``POST /v1/receipts``
    Body: a :class:`~depinkit.networks.receipts.Receipt` paying this provider on a lease
    (network ``compute``). Kept when correctly signed for this deployment and above the
    channel's last cumulative: 200 ``{"channel": hex, "cumulative": n}``; refusals 400
    ``malformed``, 401 ``bad_signature``, 403 ``wrong_payee``, 409 ``replayed``.

``GET /v1/receipts``
    The newest receipt of every channel, ordered by consumer and channel: what the
    provider's agent role turns into signed reports.

``GET /v1/claims``
    The :class:`~depinkit.networks.compute.schemas.Claim` of every result this service
    signed (the newest ``MAX_CLAIMS``), ordered by lease: the role pairs each receipt with
    the claim of its lease into a ``completion`` report.

The answer comes on the same connection when the job ends: a client that loses the
connection (the provider died) knows the job must be scheduled elsewhere.

Run it with ``python -m depinkit.networks.compute.provider --port 8700`` and the device key
in ``DEPINKIT_PROVIDER_KEY`` (hex) or a file given by ``--key-file`` (``--key`` works too,
but shows the key to anyone who can list processes).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import functools
import os
import sys
from collections import OrderedDict
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from typing import Any, Final

import msgspec
from fastapi import FastAPI, Request
from fastapi.responses import Response

from depinkit.core.envelope import ReportDomain
from depinkit.core.keys import Account
from depinkit.networks.compute.jobs import (
    CancelRequest,
    Job,
    JobLimits,
    JobMessageError,
    JobRequest,
    SignedResult,
    sign_result,
    verify_cancel,
    verify_request,
)
from depinkit.networks.compute.sandbox import DEFAULT_WORKERS, RunCancelled, Sandbox, Ticket
from depinkit.networks.compute.schemas import Claim, claim_of
from depinkit.networks.receipts import Receipt, ReceiptError, verify_receipt

KEY_ENV: Final[str] = "DEPINKIT_PROVIDER_KEY"  # hex device key, when --key-file is not given
DEFAULT_PORT: Final[int] = 8700  # the compute provider's port on a device
DEFAULT_QUEUE: Final[int] = 8  # jobs that may wait for a worker before the provider says busy
DEFAULT_MAX_REQUEST_BYTES: Final[int] = 64 * 1024 * 1024  # 64 MiB: a module and its inputs
DEFAULT_MAX_LIMITS: Final[JobLimits] = JobLimits(
    fuel=10**13,  # ~2 hours at ~1.3e9 fuel/s (wasmtime on one core of the reference machine)
    memory_bytes=1024 * 1024 * 1024,  # 1 GiB of linear memory per job
    wall_ms=2 * 60 * 60 * 1000,  # 2 hours
    output_bytes=256 * 1024 * 1024,  # 256 MiB of outputs
)
DEVNET_DOMAIN: Final[ReportDomain] = ReportDomain(chain_id=31337, registry="0x" + "00" * 20)
MEDIA_JSON: Final[str] = "application/json"

RECEIPT_NETWORK: Final[str] = "compute"  # receipts this service keeps pay for compute
MAX_RECEIPT_BYTES: Final[int] = 4096  # bytes: a JSON receipt is ~400
MAX_CLAIMS: Final[int] = 65_536  # claims kept for the agent (~400 B each): days of small jobs
MAX_CANCEL_BYTES: Final[int] = 1024  # bytes: a JSON cancel request is ~250
MAX_CANCELLED: Final[int] = 65_536  # cancels kept for jobs not (yet) here (~100 B each)

_REQUEST_DECODER = msgspec.json.Decoder(JobRequest)
_RECEIPT_DECODER = msgspec.json.Decoder(Receipt)
_CANCEL_DECODER = msgspec.json.Decoder(CancelRequest)


class ProviderInfo(msgspec.Struct, frozen=True):
    """What ``GET /v1/info`` answers (``price_per_mfuel``: the provider's asking price in
    credit base units per million fuel, None when it leaves pricing to the market)."""

    provider: str
    chain_id: int
    registry: str
    workers: int
    running: int
    waiting: int
    max_limits: JobLimits
    max_request_bytes: int
    price_per_mfuel: int | None = None


class ProviderSettings(msgspec.Struct, frozen=True):
    workers: int = DEFAULT_WORKERS
    queue: int = DEFAULT_QUEUE
    max_request_bytes: int = DEFAULT_MAX_REQUEST_BYTES
    max_limits: JobLimits = DEFAULT_MAX_LIMITS
    price_per_mfuel: int | None = None


def _refuse(status: int, code: str, detail: str) -> Response:
    body = msgspec.json.encode({"error": code, "detail": detail})
    return Response(content=body, status_code=status, media_type=MEDIA_JSON)


def _over_limits(job: Job, caps: JobLimits) -> str:
    for field in JobLimits.__struct_fields__:
        asked, cap = getattr(job.limits, field), getattr(caps, field)
        if asked > cap:
            return f"{field} {asked} is above this provider's {cap}"
    return ""


class _Active:
    """A job of this provider waiting for a worker or running (event-loop thread only)."""

    __slots__ = ("consumer", "stop", "ticket")

    def __init__(self, consumer: str) -> None:
        self.consumer = consumer  # lower-case address of whoever ordered the lease
        self.stop = asyncio.Event()  # set by a cancel: leave the queue
        self.ticket = Ticket()  # what the sandbox kills the run by


async def _acquire_unless(slots: asyncio.Semaphore, stop: asyncio.Event) -> bool:
    """Take a slot, unless ``stop`` is set first: True when the slot is taken."""
    if stop.is_set():
        return False
    acquire = asyncio.ensure_future(slots.acquire())
    stopped = asyncio.ensure_future(stop.wait())
    await asyncio.wait({acquire, stopped}, return_when=asyncio.FIRST_COMPLETED)
    stopped.cancel()
    if not acquire.done():
        acquire.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await acquire
    if acquire.cancelled():
        return False
    if stop.is_set():  # both happened: give the slot back
        slots.release()
        return False
    return True


class _Load:
    """Jobs running and waiting, for admission and /v1/info (event-loop thread only)."""

    def __init__(self, workers: int, queue: int) -> None:
        self.capacity = workers + queue
        self.running = 0
        self.waiting = 0
        self.slots = asyncio.Semaphore(workers)


def create_app(
    account: Account,
    domain: ReportDomain = DEVNET_DOMAIN,
    settings: ProviderSettings | None = None,
    sandbox: Sandbox | None = None,
) -> FastAPI:
    """The provider's FastAPI app; it owns ``sandbox`` (made from settings when None)."""
    settings = settings or ProviderSettings()
    state: dict[str, Any] = {}

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        box = sandbox if sandbox is not None else await asyncio.to_thread(Sandbox, settings.workers)
        # one thread per worker: asyncio's default pool has min(32, cpus + 4) threads
        pool = ThreadPoolExecutor(settings.workers, thread_name_prefix="sandbox")
        state["sandbox"], state["pool"] = box, pool
        state["load"] = _Load(settings.workers, settings.queue)
        try:
            yield
        finally:
            await asyncio.to_thread(box.close)
            pool.shutdown(wait=False)

    app = FastAPI(title="depinkit compute provider", version="1", lifespan=lifespan)

    @app.get("/v1/info")
    async def info() -> Response:
        load: _Load = state["load"]
        body = ProviderInfo(
            provider=account.address,
            chain_id=domain.chain_id,
            registry=domain.registry,
            workers=settings.workers,
            running=load.running,
            waiting=load.waiting,
            max_limits=settings.max_limits,
            max_request_bytes=settings.max_request_bytes,
            price_per_mfuel=settings.price_per_mfuel,
        )
        return Response(content=msgspec.json.encode(body), media_type=MEDIA_JSON)

    receipts: dict[tuple[str, bytes], Receipt] = {}  # (consumer, channel) -> newest
    claims: OrderedDict[bytes, Claim] = OrderedDict()  # lease -> claim, oldest first
    active: dict[bytes, _Active] = {}  # lease -> its job, waiting or running
    cancelled: OrderedDict[bytes, str] = OrderedDict()  # lease -> consumer, cancelled early

    @app.post("/v1/cancel")
    async def cancel(request: Request) -> Response:
        body = await request.body()
        if len(body) > MAX_CANCEL_BYTES:
            return _refuse(413, "too_large", f"cancel request above {MAX_CANCEL_BYTES} bytes")
        try:
            order = _CANCEL_DECODER.decode(body)
        except (msgspec.MsgspecError, ValueError) as exc:
            return _refuse(400, "malformed", f"body is not a cancel request: {exc}")
        if order.provider.lower() != account.address.lower():
            return _refuse(403, "wrong_provider", f"cancel request is for {order.provider}")
        try:
            verify_cancel(domain, order)
        except JobMessageError as exc:
            return _refuse(401, "bad_signature", str(exc))
        consumer = order.consumer.lower()
        job = active.get(order.lease)
        if job is not None:
            if job.consumer != consumer:
                return _refuse(403, "wrong_consumer", "the lease was ordered by another consumer")
            job.stop.set()
            state["sandbox"].cancel(job.ticket)  # kills its worker now, if it runs
            outcome = "stopped"
        elif order.lease in claims:
            outcome = "finished"
        else:
            cancelled[order.lease] = consumer
            cancelled.move_to_end(order.lease)
            while len(cancelled) > MAX_CANCELLED:
                cancelled.popitem(last=False)
            outcome = "unknown"
        answer = {"lease": order.lease.hex(), "state": outcome}
        return Response(content=msgspec.json.encode(answer), media_type=MEDIA_JSON)

    @app.get("/v1/claims")
    async def list_claims() -> Response:
        listed = [claims[lease] for lease in sorted(claims)]
        return Response(content=msgspec.json.encode(listed), media_type=MEDIA_JSON)

    @app.post("/v1/receipts")
    async def pay(request: Request) -> Response:
        body = await request.body()
        if len(body) > MAX_RECEIPT_BYTES:
            return _refuse(413, "too_large", f"receipt above {MAX_RECEIPT_BYTES} bytes")
        try:
            receipt = _RECEIPT_DECODER.decode(body)
        except (msgspec.MsgspecError, ValueError) as exc:
            return _refuse(400, "malformed", f"body is not a receipt: {exc}")
        if receipt.payee != account.address or receipt.network != RECEIPT_NETWORK:
            return _refuse(
                403, "wrong_payee", f"receipt pays {receipt.payee} on {receipt.network!r}"
            )
        try:
            verify_receipt(domain, receipt)
        except ReceiptError as exc:
            return _refuse(401, "bad_signature", str(exc))
        key = (receipt.consumer, receipt.channel)
        last = receipts.get(key)
        if last is not None and receipt.cumulative <= last.cumulative:
            return _refuse(409, "replayed", f"cumulative not above {last.cumulative}")
        receipts[key] = receipt
        answer = {"channel": receipt.channel.hex(), "cumulative": receipt.cumulative}
        return Response(content=msgspec.json.encode(answer), media_type=MEDIA_JSON)

    @app.get("/v1/receipts")
    async def list_receipts() -> Response:
        newest = [receipts[key] for key in sorted(receipts)]
        return Response(content=msgspec.json.encode(newest), media_type=MEDIA_JSON)

    @app.post("/v1/jobs")
    async def run(request: Request) -> Response:
        limit = settings.max_request_bytes
        declared = request.headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            return _refuse(413, "too_large", f"request of {declared} bytes, limit {limit}")
        chunks, size = [], 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                return _refuse(413, "too_large", f"request above {limit} bytes")
            chunks.append(chunk)
        try:
            order = _REQUEST_DECODER.decode(b"".join(chunks))
        except (msgspec.MsgspecError, ValueError) as exc:
            return _refuse(400, "malformed", f"body is not a job request: {exc}")
        if order.provider.lower() != account.address.lower():
            return _refuse(403, "wrong_provider", f"request is for {order.provider}")
        try:
            verify_request(domain, order)
        except JobMessageError as exc:
            return _refuse(401, "bad_signature", str(exc))
        reason = _over_limits(order.job, settings.max_limits)
        if reason:
            return _refuse(422, "limits_exceeded", reason)

        lease, consumer = order.lease, order.consumer.lower()
        if cancelled.get(lease) == consumer:
            return _refuse(409, "cancelled", "the consumer cancelled this lease")
        load: _Load = state["load"]
        if load.running + load.waiting >= load.capacity:
            return _refuse(503, "busy", f"{load.running} running, {load.waiting} waiting")
        if lease in active:
            return _refuse(409, "lease_in_use", "a run of this lease is already here")
        job = active[lease] = _Active(consumer)
        try:
            load.waiting += 1
            try:
                admitted = await _acquire_unless(load.slots, job.stop)
            finally:
                load.waiting -= 1
            if not admitted:
                return _refuse(409, "cancelled", "cancelled while waiting for a worker")
            load.running += 1
            try:
                loop = asyncio.get_running_loop()
                run = functools.partial(state["sandbox"].run, order.job, ticket=job.ticket)
                result = await loop.run_in_executor(state["pool"], run)
            except RunCancelled as exc:
                return _refuse(409, "cancelled", f"run stopped by its consumer ({exc})")
            finally:
                load.running -= 1
                load.slots.release()
            if job.stop.is_set():  # the cancel came as the run ended: it was answered stopped
                return _refuse(409, "cancelled", "run stopped by its consumer")
            signed: SignedResult = sign_result(account, domain, result, lease=lease)
            claims[lease] = claim_of(signed)
            while len(claims) > MAX_CLAIMS:
                claims.popitem(last=False)
        finally:
            active.pop(lease, None)
        return Response(content=msgspec.json.encode(signed), media_type=MEDIA_JSON)

    return app


def _load_key(args: argparse.Namespace) -> Account:
    if args.key_file:
        with open(args.key_file) as f:
            return Account.from_key(f.read().strip())
    key = args.key or os.environ.get(KEY_ENV, "")
    if not key:
        raise SystemExit(f"no device key: pass --key-file, --key or set {KEY_ENV}")
    return Account.from_key(key.strip())


def main(argv: list[str] | None = None) -> None:
    """``python -m depinkit.networks.compute.provider``: serve until interrupted."""
    import uvicorn

    parser = argparse.ArgumentParser(prog="depinkit.networks.compute.provider")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT)
    parser.add_argument("--key", default="", help=f"hex device key (prefer {KEY_ENV})")
    parser.add_argument("--key-file", default="", help="file holding the hex device key")
    parser.add_argument("--chain-id", type=int, default=DEVNET_DOMAIN.chain_id)
    parser.add_argument("--registry", default=DEVNET_DOMAIN.registry)
    parser.add_argument("--workers", type=int, default=DEFAULT_WORKERS)
    parser.add_argument("--queue", type=int, default=DEFAULT_QUEUE)
    parser.add_argument("--max-request-bytes", type=int, default=DEFAULT_MAX_REQUEST_BYTES)
    parser.add_argument("--max-fuel", type=int, default=DEFAULT_MAX_LIMITS.fuel)
    parser.add_argument("--max-memory-bytes", type=int, default=DEFAULT_MAX_LIMITS.memory_bytes)
    parser.add_argument("--max-wall-ms", type=int, default=DEFAULT_MAX_LIMITS.wall_ms)
    parser.add_argument("--max-output-bytes", type=int, default=DEFAULT_MAX_LIMITS.output_bytes)
    parser.add_argument("--price-per-mfuel", type=int, default=None, help="asking price")
    args = parser.parse_args(argv)
    account = _load_key(args)
    settings = ProviderSettings(
        workers=args.workers,
        queue=args.queue,
        max_request_bytes=args.max_request_bytes,
        max_limits=JobLimits(
            fuel=args.max_fuel,
            memory_bytes=args.max_memory_bytes,
            wall_ms=args.max_wall_ms,
            output_bytes=args.max_output_bytes,
        ),
        price_per_mfuel=args.price_per_mfuel,
    )
    domain = ReportDomain(chain_id=args.chain_id, registry=args.registry)
    app = create_app(account, domain, settings)
    print(f"compute provider {account.address} on http://{args.host}:{args.port}", file=sys.stderr)
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning")


if __name__ == "__main__":
    main()
