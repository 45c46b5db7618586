"""The consumer's side of the compute network: submit, status, result, cancel, run.

docs/networks/compute.md, "Client". For each job the client

1. asks every known provider for its bid (a :class:`~depinkit.networks.compute.market.Bid`:
   price per million fuel, free slots, region, capabilities) and ranks them with the
   pure auction of :mod:`~depinkit.networks.compute.market`;
2. opens a lease with the winner (its whole possible cost reserved from the consumer's
   credits), signs a :class:`~depinkit.networks.compute.jobs.JobRequest` and dispatches it;
3. checks the provider's signed result; if the provider died or answered something
   unusable, forfeits that lease (full refund) and reschedules on the next bidder;
4. flips the verification coin (:func:`~depinkit.networks.compute.verification.should_verify`,
   always heads for a provider below the governed tier): heads, the job is re-run by
   another provider, and on a mismatch by a third, which decides;
5. pays every run that was not proven wrong with a consumer-signed cumulative receipt for
   the fuel it used, refunds the rest of each reservation, and keeps the signed claims
   of a wrong provider as a :class:`~depinkit.networks.compute.schemas.Dispute` for the
   tiebreak provider to report (that report is what gets the provider slashed).

:meth:`ComputeClient.cancel` stops a job: no further dispatch, and each run in flight is
stopped on its provider by a signed cancel request (the provider kills that run's sandbox
worker); a run stopped that way is not paid, its reservation is refunded.

Providers are reached through a :class:`Transport` (HTTP by default), so the orchestration
can be tested in-process and benchmarked without sockets.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Final, Protocol

import msgspec

from depinkit.core.envelope import ReportDomain
from depinkit.core.keys import Account
from depinkit.networks.compute.jobs import (
    STATUS_CRASHED,
    STATUS_WALL_TIME_EXCEEDED,
    Job,
    JobLimits,
    JobMessageError,
    JobResult,
    SignedResult,
    job_id,
    sign_cancel,
    sign_request,
    verify_result,
)
from depinkit.networks.compute.market import (
    Bid,
    CreditAccount,
    Lease,
    MarketError,
    Order,
    Policy,
    cheapest,
    pick,
)
from depinkit.networks.compute.parameters import MIN_PRICE_PER_MFUEL, PARAMETERS
from depinkit.networks.compute.reputation import tier
from depinkit.networks.compute.schemas import (
    COMPLETION,
    DISPUTE,
    MAX_WITNESSES,
    ROLE_PRIMARY,
    ROLE_TIEBREAK,
    ROLE_VERIFY,
    ROLES,
    Claim,
    Completion,
    Dispute,
    claim_of,
)
from depinkit.networks.compute.verification import UNDECIDED, decide, should_verify
from depinkit.networks.context import resolve_parameters
from depinkit.networks.errors import NetworkError
from depinkit.networks.receipts import Receipt, sign_receipt

if TYPE_CHECKING:
    from depinkit.networks.compute.provider_client import ProviderClient

NETWORK: Final[str] = "compute"
SECRET_BYTES: Final[int] = 16  # bytes of the consumer's verification secret per job
DEFAULT_MAX_ATTEMPTS: Final[int] = 4  # dispatches per run before the job fails
DEFAULT_CONCURRENCY: Final[int] = 16  # jobs the client orchestrates at once
DEFAULT_INFO_TTL_S: Final[float] = 10.0  # seconds HttpTransport reuses a provider's /v1/info
# A run that ended for reasons of the machine, not of the job: never compared, and a
# crashed run is rescheduled like a dead provider.
NONDETERMINISTIC: Final[frozenset[str]] = frozenset({STATUS_CRASHED, STATUS_WALL_TIME_EXCEEDED})

# Job states, in the order a job normally passes through them.
QUEUED: Final[str] = "queued"
RUNNING: Final[str] = "running"
VERIFYING: Final[str] = "verifying"
DONE: Final[str] = "done"
FAILED: Final[str] = "failed"
CANCELLED: Final[str] = "cancelled"


class ComputeClientError(NetworkError):
    """A job the client could not get done (no provider, credits, verification, ...)."""


class ProviderUnavailable(ComputeClientError):
    """A provider did not answer, died mid-job, or failed on its side (HTTP 5xx)."""


class ProviderRefused(ComputeClientError):
    """A provider declined this job (busy, limits above its own, ...): try the next one,
    without holding it against the provider."""


class JobCancelled(ComputeClientError):
    """The job was cancelled before it finished."""


class Transport(Protocol):
    """How the client reaches providers: a bid for an order, and a run."""

    def bid(self, url: str, order: Order) -> Bid | None:
        """The provider's bid (None when it declines); ProviderUnavailable if unreachable."""
        ...

    def run(self, url: str, request: msgspec.Struct) -> SignedResult:
        """Dispatch a signed JobRequest and wait for the signed result."""
        ...

    def pay(self, url: str, receipt: Receipt) -> None:
        """Hand the provider its newest receipt (best effort: it may also fetch it)."""
        ...

    def cancel(self, url: str, request: msgspec.Struct) -> None:
        """Hand the provider a signed CancelRequest for a run in flight (best effort: the
        client refunds the run's lease whatever the provider does)."""
        ...


class Run(msgspec.Struct):
    """One dispatch of a job: to whom, under which lease, what it cost and what came back."""

    role: int
    provider: str
    lease: bytes
    price_per_mfuel: int
    reserved: int
    paid: int = 0
    refund: int = 0
    claim: Claim | None = None
    receipt: Receipt | None = None
    error: str = ""
    wrong: bool = False
    url: str = ""


class JobStatus(msgspec.Struct):
    job_id: bytes
    state: str
    provider: str = ""
    runs: int = 0
    error: str = ""


class JobOutcome(msgspec.Struct):
    """A finished job: the accepted result, every run and the money of each."""

    job_id: bytes
    result: JobResult
    provider: str  # whose result this is
    verified: bool  # reproduced by another provider
    runs: list[Run]
    disputes: list[Dispute]

    @property
    def reserved(self) -> int:
        return sum(r.reserved for r in self.runs)

    @property
    def paid(self) -> int:
        return sum(r.paid for r in self.runs)

    @property
    def refunded(self) -> int:
        return sum(r.refund for r in self.runs)


class _Handle:
    def __init__(self, ident: bytes, nonce: bytes) -> None:
        self.nonce = nonce  # makes this submission's lease ids its own
        self.status = JobStatus(ident, QUEUED)
        self.cancelled = threading.Event()
        self.future: Future[JobOutcome] | None = None
        self.inflight: dict[bytes, tuple[str, str]] = {}  # lease -> (url, provider); client lock


class ComputeClient:
    """A consumer's client for the compute network (thread-safe; one per consumer key).

    ``providers``: URLs of provider services to auction among. ``credits``: nanocredits
    this client may reserve (the consumer's balance as the oracles last published it).
    ``reputation``: provider address -> reputation points from the last manifest (unknown
    providers are tier 0, so all their jobs are verified). ``entropy``: the current
    epoch's, for the verification coin. ``parameters``: the network's, raw or resolved.
    """

    def __init__(
        self,
        consumer: Account,
        domain: ReportDomain,
        providers: Sequence[str],
        *,
        credits: int,
        transport: Transport | None = None,
        parameters: Mapping[str, int] | None = None,
        reputation: Mapping[str, int] | None = None,
        entropy: bytes = bytes(32),
        policy: Policy = cheapest,
        max_attempts: int = DEFAULT_MAX_ATTEMPTS,
        concurrency: int = DEFAULT_CONCURRENCY,
        secret: Callable[[], bytes] = lambda: os.urandom(SECRET_BYTES),
        on_event: Callable[[JobStatus], None] | None = None,
    ) -> None:
        if transport is None:
            transport = HttpTransport(domain)
        self.consumer = consumer
        self.domain = domain
        self.providers = list(providers)
        self.account = CreditAccount(credits)
        self.transport = transport
        self.parameters = resolve_parameters(PARAMETERS, parameters or {})
        self.reputation = dict(reputation or {})
        self.entropy = entropy
        self.policy = policy
        self.max_attempts = max_attempts
        self._secret = secret
        self._on_event = on_event
        self._lock = threading.Condition()
        self._busy: dict[str, int] = {}  # provider -> runs in flight from this client
        self._dead: set[str] = set()  # providers that failed this client: never again
        self._handles: dict[bytes, _Handle] = {}
        self._pool = ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="compute")

    # -- public API ---------------------------------------------------------------------

    def submit(self, job: Job, *, max_price_per_mfuel: int, **order: object) -> bytes:
        """Start ``job`` in the background; its id. ``order``: min_tier, regions,
        capabilities, memory_mib (see :class:`Order`)."""
        ident = job_id(job)
        try:
            wanted = Order(
                job_id=ident,
                fuel_limit=job.limits.fuel,
                max_price_per_mfuel=max_price_per_mfuel,
                **order,  # type: ignore[arg-type]
            )
        except (TypeError, MarketError) as exc:
            raise ComputeClientError(f"invalid order: {exc}") from None
        with self._lock:
            if ident in self._handles:
                raise ComputeClientError(f"job {ident.hex()} was already submitted")
            handle = _Handle(ident, os.urandom(SECRET_BYTES))
            self._handles[ident] = handle
        handle.future = self._pool.submit(self._execute, handle, job, wanted)
        return ident

    def status(self, ident: bytes) -> JobStatus:
        return self._handle(ident).status

    def result(self, ident: bytes, timeout: float | None = None) -> JobOutcome:
        """Wait for the job; its outcome, or the ComputeClientError that ended it."""
        future = self._handle(ident).future
        assert future is not None
        return future.result(timeout)

    def cancel(self, ident: bytes) -> bool:
        """Stop the job; True unless it had already ended. No further dispatch, and every
        run in flight is stopped on its provider (a signed cancel request: the provider kills
        that run's sandbox worker); such a run is not paid, its reservation comes back. Runs
        that already returned are paid for the fuel they used (the providers did the work).
        The job ends ``cancelled`` with no result (``done``, when its last run answered
        before the cancel reached its provider)."""
        handle = self._handle(ident)
        with self._lock:
            if handle.status.state in (DONE, FAILED, CANCELLED):
                return False
            handle.cancelled.set()
            flights = list(handle.inflight.items())
        for lease, (url, provider) in flights:
            request = sign_cancel(self.consumer, self.domain, lease=lease, provider=provider)
            with contextlib.suppress(ComputeClientError, JobMessageError):
                self.transport.cancel(url, request)  # best effort: the lease is refunded anyway
        return True

    def run(self, job: Job, *, max_price_per_mfuel: int, **order: object) -> JobOutcome:
        """Submit and wait."""
        ident = self.submit(job, max_price_per_mfuel=max_price_per_mfuel, **order)
        return self.result(ident)

    def run_many(
        self, jobs: Iterable[Job], *, max_price_per_mfuel: int, **order: object
    ) -> list[JobOutcome]:
        """Run jobs concurrently over the providers (frames of a render); outcomes in order."""
        idents = [self.submit(j, max_price_per_mfuel=max_price_per_mfuel, **order) for j in jobs]
        return [self.result(i) for i in idents]

    def close(self) -> None:
        for handle in list(self._handles.values()):
            handle.cancelled.set()
        self._pool.shutdown(wait=True)

    def __enter__(self) -> ComputeClient:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    # -- orchestration --------------------------------------------------------------------

    def _handle(self, ident: bytes) -> _Handle:
        with self._lock:
            try:
                return self._handles[ident]
            except KeyError:
                raise ComputeClientError(f"unknown job {ident.hex()}") from None

    def _set(self, handle: _Handle, state: str, **changes: object) -> None:
        handle.status = msgspec.structs.replace(handle.status, state=state, **changes)
        if self._on_event is not None:
            self._on_event(handle.status)

    def _execute(self, handle: _Handle, job: Job, order: Order) -> JobOutcome:
        try:
            outcome = self._orchestrate(handle, job, order)
        except JobCancelled as exc:
            self._set(handle, CANCELLED, error=str(exc))
            raise
        except Exception as exc:
            self._set(handle, FAILED, error=str(exc))
            raise
        self._set(handle, DONE, provider=outcome.provider)
        return outcome

    def _orchestrate(self, handle: _Handle, job: Job, order: Order) -> JobOutcome:
        ident = order.job_id
        runs: list[Run] = []
        results: dict[str, JobResult] = {}
        leases: dict[str, Lease] = {}
        try:
            primary = self._dispatch(handle, job, order, ROLE_PRIMARY, runs, results, leases)
            first = results[primary]
            claims = [r.claim for r in runs if r.claim is not None]
            verify = first.status not in NONDETERMINISTIC and should_verify(
                self.parameters,
                tier(self.parameters, self.reputation.get(primary, 0)),
                self.entropy,
                ident,
                self._secret(),
            )
            if verify:
                self._set(handle, VERIFYING)
                self._dispatch(handle, job, order, ROLE_VERIFY, runs, results, leases)
                claims = [r.claim for r in runs if r.claim is not None]
                if decide(ident, claims).status == UNDECIDED:
                    self._dispatch(handle, job, order, ROLE_TIEBREAK, runs, results, leases)
                    claims = [r.claim for r in runs if r.claim is not None]
            outcome = decide(ident, claims)
            if outcome.status == UNDECIDED:
                raise ComputeClientError(
                    f"runs of job {ident.hex()} disagree and no majority formed: nobody paid"
                )
        except JobCancelled:  # runs that returned did the work: pay them, refund the rest
            for provider, lease in leases.items():
                self._settle(lease, results[provider], forfeit=False, runs=runs)
            raise
        except BaseException:
            for lease in leases.values():  # whatever was not settled goes back to the consumer
                self._close(lease, forfeit=True, runs=runs)
            raise
        wrong = set(outcome.wrong)
        for provider, lease in leases.items():
            self._settle(lease, results[provider], forfeit=provider in wrong, runs=runs)
        winner = next(p for p in outcome.right if p in results)
        if primary in outcome.right:
            winner = primary
        disputes = _disputes(claims, outcome.right, wrong)
        return JobOutcome(
            job_id=ident,
            result=results[winner],
            provider=winner,
            verified=outcome.confirmed,
            runs=runs,
            disputes=disputes,
        )

    def _dispatch(
        self,
        handle: _Handle,
        job: Job,
        order: Order,
        role: int,
        runs: list[Run],
        results: dict[str, JobResult],
        leases: dict[str, Lease],
    ) -> str:
        """One good run on a provider not yet used for this job; its address."""
        used = set(results) | {r.provider for r in runs}
        nonce = handle.nonce
        for attempt in range(len(runs), len(runs) + self.max_attempts):
            bid = self._auction(order, exclude=used, cancelled=handle.cancelled)
            used.add(bid.provider)
            with self._lock:
                if handle.cancelled.is_set():  # cancelled during the auction
                    self._busy[bid.provider] -= 1
                    self._lock.notify_all()
                    raise JobCancelled(f"job {order.job_id.hex()} cancelled")
                try:
                    lease = Lease(
                        order=order,
                        bid=bid,
                        consumer=self.consumer.address,
                        attempt=attempt,
                        account=self.account,
                        nonce=nonce,
                    )
                except MarketError as exc:
                    self._busy[bid.provider] -= 1
                    self._lock.notify_all()
                    raise ComputeClientError(f"cannot reserve credits: {exc}") from None
                handle.inflight[lease.id] = (bid.url, bid.provider)  # cancel() stops it there
            run = Run(
                role, bid.provider, lease.id, bid.price_per_mfuel, lease.reserved, url=bid.url
            )
            runs.append(run)
            self._set(
                handle,
                RUNNING if role == ROLE_PRIMARY else VERIFYING,
                provider=bid.provider,
                runs=len(runs),
            )
            try:
                request = sign_request(
                    self.consumer, self.domain, job, lease=lease.id, provider=bid.provider
                )
                signed = self.transport.run(bid.url, request)
                result = self._check(signed, order, lease)
            except ProviderRefused as exc:
                run.error = f"{ROLES[role]} run refused by {bid.provider}: {exc}"
                self._close(lease, forfeit=True, runs=runs)
                if handle.cancelled.is_set():  # the provider stopped it for us: not paid
                    raise JobCancelled(f"job {order.job_id.hex()} cancelled") from None
                continue
            except (ProviderUnavailable, JobMessageError) as exc:  # dead, or lying: never again
                run.error = f"{ROLES[role]} run on {bid.provider} failed: {exc}"
                with self._lock:
                    self._dead.add(bid.provider)
                self._close(lease, forfeit=True, runs=runs)
                continue
            finally:
                with self._lock:
                    handle.inflight.pop(lease.id, None)
                    self._busy[bid.provider] -= 1
                    self._lock.notify_all()
            if result.status == STATUS_CRASHED:  # the machine's fault: run it elsewhere
                run.error = f"{ROLES[role]} run on {bid.provider} crashed: {result.error}"
                self._close(lease, forfeit=True, runs=runs)
                continue
            run.claim = claim_of(signed)
            results[bid.provider] = result
            leases[bid.provider] = lease
            return bid.provider
        raise ComputeClientError(
            f"no {ROLES[role]} run of job {order.job_id.hex()} after {self.max_attempts} attempts"
        )

    def _auction(self, order: Order, *, exclude: set[str], cancelled: threading.Event) -> Bid:
        """The winning bid among reachable providers with a free slot; waits for a slot
        while every eligible provider is busy with this client's other jobs."""
        while True:
            if cancelled.is_set():
                raise JobCancelled(f"job {order.job_id.hex()} cancelled")
            bids: list[Bid] = []
            for url in self.providers:
                try:
                    bid = self.transport.bid(url, order)
                except ProviderUnavailable:
                    continue
                if bid is None:
                    continue
                reputation = self.reputation.get(bid.provider, 0)
                bids.append(
                    msgspec.structs.replace(bid, url=url, tier=tier(self.parameters, reputation))
                )
            with self._lock:
                excluded = exclude | self._dead
                candidates = [b for b in bids if b.provider not in excluded]
                if not pick(order, candidates, min_price=self.parameters[MIN_PRICE_PER_MFUEL]):
                    raise ComputeClientError(
                        f"no eligible provider for job {order.job_id.hex()} at or under "
                        f"{order.max_price_per_mfuel} per million fuel"
                    )
                free = [
                    msgspec.structs.replace(
                        b, free_slots=b.free_slots - self._busy.get(b.provider, 0)
                    )
                    for b in candidates
                ]
                chosen = pick(
                    order,
                    free,
                    min_price=self.parameters[MIN_PRICE_PER_MFUEL],
                    policy=self.policy,
                )
                if chosen is not None:
                    self._busy[chosen.provider] = self._busy.get(chosen.provider, 0) + 1
                    return chosen
                self._lock.wait(timeout=0.5)  # a slot frees when one of our runs ends

    def _check(self, signed: SignedResult, order: Order, lease: Lease) -> JobResult:
        verify_result(self.domain, signed)
        result = signed.result
        if signed.provider.lower() != lease.provider.lower() or signed.lease != lease.id:
            raise JobMessageError("the result is for another provider or lease")
        if result.job_id != order.job_id:
            raise JobMessageError("the result is for another job")
        if result.fuel_used > order.fuel_limit:
            raise JobMessageError(f"fuel used {result.fuel_used} exceeds the limit")
        return result

    def _settle(self, lease: Lease, result: JobResult, *, forfeit: bool, runs: list[Run]) -> None:
        run = next(r for r in runs if r.lease == lease.id)
        if forfeit:
            run.wrong = True
            self._close(lease, forfeit=True, runs=runs)
            return
        cumulative = lease.charge(result.fuel_used)
        if cumulative > 0:
            run.receipt = sign_receipt(
                self.consumer,
                self.domain,
                network=NETWORK,
                payee=lease.provider,
                channel=lease.id,
                cumulative=cumulative,
            )
        self._close(lease, forfeit=False, runs=runs)
        if run.receipt is not None and run.url:
            # best effort: the receipt is in the outcome, the provider can get it later
            with contextlib.suppress(ProviderUnavailable, JobMessageError):
                self.transport.pay(run.url, run.receipt)

    def _close(self, lease: Lease, *, forfeit: bool, runs: list[Run]) -> None:
        if lease.closed:
            return
        with self._lock:
            refund = lease.close(forfeit=forfeit)
        run = next(r for r in runs if r.lease == lease.id)
        run.paid, run.refund = lease.paid, refund


def _disputes(claims: Sequence[Claim], right: Sequence[str], wrong: set[str]) -> list[Dispute]:
    """One dispute per wrong provider, witnessed by (up to eight of) the majority's claims."""
    witnesses = tuple(c for c in claims if c.provider in right)[:MAX_WITNESSES]
    return [
        Dispute(accused=c, witnesses=witnesses)
        for c in sorted(claims, key=lambda c: c.provider)
        if c.provider in wrong and len(witnesses) >= 2
    ]


class HttpTransport:
    """Providers over HTTP, through the provider service's own client
    (:class:`~depinkit.networks.compute.provider_client.ProviderClient`).

    The bid of a provider is its ``GET /v1/info`` (address, workers, limits, asking price);
    a provider that publishes no price is taken at the price this transport is told for its
    URL (``prices``, else ``default_price``). An answer is reused for ``info_ttl_s`` seconds
    (nothing in it but the load changes between jobs, and the client counts its own load),
    so a stream of jobs does not pay a round trip per provider per dispatch; it is asked
    again sooner once a run there fails. Results are checked by the client, not twice.
    """

    def __init__(
        self,
        domain: ReportDomain,
        *,
        prices: Mapping[str, int] | None = None,
        default_price: int = 100,
        regions: Mapping[str, str] | None = None,
        info_ttl_s: float = DEFAULT_INFO_TTL_S,
    ) -> None:
        from depinkit.networks.compute.provider import ProviderInfo
        from depinkit.networks.compute.provider_client import ProviderClient, http_client

        self._http = http_client()
        self._domain = domain
        self._prices = dict(prices or {})
        self._default_price = default_price
        self._regions = dict(regions or {})
        self._info_ttl_s = info_ttl_s
        self._infos: dict[str, tuple[float, ProviderInfo]] = {}  # url -> (when, info)
        self._make = lambda url: ProviderClient(url, domain, client=self._http)
        self._clients: dict[str, ProviderClient] = {}
        self._lock = threading.Lock()

    def _client(self, url: str) -> ProviderClient:
        with self._lock:
            found = self._clients.get(url)
            if found is None:
                found = self._clients[url] = self._make(url)
            return found

    def bid(self, url: str, order: Order) -> Bid | None:
        from depinkit.networks.compute.provider_client import ProviderError, ProviderUnreachable

        with self._lock:
            cached = self._infos.get(url)
        if cached is not None and time.monotonic() - cached[0] < self._info_ttl_s:
            info = cached[1]
        else:
            try:
                info = self._client(url).info()
            except (ProviderUnreachable, ProviderError) as exc:
                with self._lock:
                    self._infos.pop(url, None)
                raise ProviderUnavailable(str(exc)) from None
            with self._lock:
                self._infos[url] = (time.monotonic(), info)
        if (info.chain_id, info.registry.lower()) != (
            self._domain.chain_id,
            self._domain.registry.lower(),
        ):
            return None  # a provider of another deployment cannot be paid here
        limits = info.max_limits
        if order.fuel_limit > limits.fuel:
            return None
        price = getattr(info, "price_per_mfuel", None)
        return Bid(
            provider=info.provider,
            price_per_mfuel=self._prices.get(url, self._default_price) if price is None else price,
            region=self._regions.get(url, ""),
            free_slots=info.workers,  # the client counts its own runs against this
            memory_mib=limits.memory_bytes // (1024 * 1024),
            url=url,
        )

    def run(self, url: str, request: msgspec.Struct) -> SignedResult:
        from depinkit.networks.compute.jobs import JobRequest
        from depinkit.networks.compute.provider_client import ProviderError, ProviderUnreachable

        assert isinstance(request, JobRequest)
        try:
            return self._client(url).run(request, check=False)  # ComputeClient checks it
        except ProviderUnreachable as exc:
            self._forget(url)
            raise ProviderUnavailable(str(exc)) from None
        except ProviderError as exc:
            self._forget(url)
            if exc.code == "bad_result":  # signed wrongly or for another job: a liar
                raise JobMessageError(str(exc)) from None
            if exc.status == 503 or 400 <= exc.status < 500:  # busy, or declines this job
                raise ProviderRefused(str(exc)) from None
            raise ProviderUnavailable(str(exc)) from None

    def pay(self, url: str, receipt: Receipt) -> None:
        """Post the receipt to the provider (``POST /v1/receipts``), best effort.

        A provider that is gone or already holds it changes nothing: the receipt also stays
        in the outcome, and the provider's agent reports the newest one it holds.
        """
        from depinkit.networks.compute.provider_client import ProviderError, ProviderUnreachable

        with contextlib.suppress(ProviderUnreachable, ProviderError):
            self._client(url).pay(receipt)

    def cancel(self, url: str, request: msgspec.Struct) -> None:
        """Post a signed cancel request to the provider (``POST /v1/cancel``); a provider
        that is gone or refuses raises ProviderUnavailable."""
        from depinkit.networks.compute.jobs import CancelRequest
        from depinkit.networks.compute.provider_client import ProviderError, ProviderUnreachable

        assert isinstance(request, CancelRequest)
        try:
            self._client(url).cancel(request)
        except (ProviderUnreachable, ProviderError) as exc:
            raise ProviderUnavailable(str(exc)) from None

    def _forget(self, url: str) -> None:
        with self._lock:
            self._infos.pop(url, None)

    def close(self) -> None:
        self._http.close()


DEFAULT_LIMITS: Final[JobLimits] = JobLimits(
    fuel=10**10,  # ~8 s of one core: enough for a frame or a data job, a ceiling on the bill
    memory_bytes=256 * 1024 * 1024,  # 256 MiB of linear memory
    wall_ms=120_000,  # 2 minutes, far above what the fuel allows on any honest machine
    output_bytes=64 * 1024 * 1024,  # 64 MiB of outputs
)


def load_job(
    module: Path,
    *,
    inputs: Sequence[Path] = (),
    args: Sequence[str] = (),
    limits: JobLimits = DEFAULT_LIMITS,
) -> Job:
    """A job from files on disk (what ``depinkit compute run MODULE --input ...`` builds):
    inputs appear under ``/in`` by their base names; ``args[0]`` defaults to the module's
    stem."""
    files: dict[str, bytes] = {}
    for path in inputs:
        if path.name in files:
            raise ComputeClientError(f"two inputs are named {path.name!r}")
        files[path.name] = path.read_bytes()
    argv = list(args) or [module.stem]
    try:
        return Job(module=module.read_bytes(), args=argv, inputs=files, limits=limits)
    except ValueError as exc:
        raise ComputeClientError(f"invalid job: {exc}") from None


def write_outputs(result: JobResult, directory: Path) -> list[Path]:
    """Write a result's output files under ``directory`` (created); refuses any path that
    would land outside it. Returns the paths written, sorted."""
    root = directory.resolve()
    written: list[Path] = []
    for name in sorted(result.outputs):
        target = (root / name).resolve()
        if root not in target.parents:
            raise ComputeClientError(f"output path {name!r} escapes {directory}")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(result.outputs[name])
        written.append(target)
    return written


class PendingReport(msgspec.Struct, frozen=True):
    """A report a provider's agent should sign and send after a job: ``device`` signs it."""

    device: str
    kind: str
    body: Completion | Dispute


def provider_reports(outcome: JobOutcome) -> list[PendingReport]:
    """What the job's providers report to the oracles: a ``completion`` for every paid run
    (its claim and the consumer's receipt) and each ``dispute``, filed by a provider of the
    majority (the tiebreaker when there was one)."""
    pending = [
        PendingReport(run.provider, COMPLETION, Completion(run.claim, run.role, run.receipt))
        for run in outcome.runs
        if run.claim is not None and run.receipt is not None
    ]
    right = [r for r in outcome.runs if r.claim is not None and not r.wrong and not r.error]
    filer = next((r for r in right if r.role == ROLE_TIEBREAK), right[-1] if right else None)
    if filer is not None:
        pending.extend(PendingReport(filer.provider, DISPUTE, d) for d in outcome.disputes)
    return pending
