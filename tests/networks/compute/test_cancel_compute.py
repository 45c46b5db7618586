"""Cancel reaches the provider (issue 6): a signed cancel request stops the job's sandbox run
on a real provider process, the consumer pays nothing for it, and the provider keeps serving;
and a hypothesis property for the money of a cancel, over in-process providers.

Providers are ``python -m depinkit.networks.compute.provider`` subprocesses on 127.0.0.1.
The jobs to cancel would run until their wall limit (an endless loop with 1e13 fuel, about
two hours of it, and a 2-minute wall limit): a test that passes saw them stopped, not ended by
a limit. A cancel that does not work fails the test within about that wall limit.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import msgspec
import pytest
from compute_client_kit import LocalProvider, LocalTransport, render_job
from compute_module_kit import CONSUMER as KIT_CONSUMER
from compute_module_kit import DOMAIN
from compute_provider_kit import ProviderProcess, start_provider
from compute_sandbox_kit import HELLO, INFINITE_LOOP, example, job
from hypothesis import given, settings
from hypothesis import strategies as st

from depinkit.core.keys import Account
from depinkit.networks.compute.client import (
    CANCELLED,
    RUNNING,
    VERIFYING,
    ComputeClient,
    HttpTransport,
    JobCancelled,
    JobStatus,
)
from depinkit.networks.compute.jobs import (
    STATUS_OK,
    CancelRequest,
    JobLimits,
    JobRequest,
    SignedResult,
    sign_cancel,
    sign_request,
)
from depinkit.networks.compute.market import cost
from depinkit.networks.compute.provider import DEVNET_DOMAIN, ProviderInfo
from depinkit.networks.compute.provider_client import ProviderClient, ProviderError
from depinkit.networks.compute.runner import Runner
from depinkit.networks.compute.sandbox import RunCancelled, Sandbox, Ticket
from depinkit.networks.compute.schemas import ROLE_PRIMARY, ROLE_VERIFY

CONSUMER = Account.generate()
OTHER = Account.generate()
ENDLESS = JobLimits(  # an endless loop runs ~2 hours on this fuel, 2 minutes on this wall
    fuel=10**13, memory_bytes=32 * 1024 * 1024, wall_ms=120_000, output_bytes=1024 * 1024
)
SMALL = JobLimits(
    fuel=10**9, memory_bytes=32 * 1024 * 1024, wall_ms=60_000, output_bytes=1024 * 1024
)
CREDITS = 10**12
NO_VERIFY = {"verify_ppm": 0, "verify_below_tier": 0}
WAIT_S = 120.0  # seconds a test waits for a state at most (a loaded CI machine)


@pytest.fixture(scope="module")
def provider() -> Iterator[ProviderProcess]:
    proc = start_provider("--queue", "4", workers=1)
    try:
        yield proc
    finally:
        proc.stop()


def _wait(predicate: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + WAIT_S
    while not predicate():
        assert time.monotonic() < deadline, f"not reached: {what}"
        time.sleep(0.02)


def _info(provider: ProviderProcess) -> ProviderInfo:
    with ProviderClient(provider.url, DEVNET_DOMAIN) as c:
        return c.info()


def _descendants(pid: int) -> set[int]:
    """Live processes under ``pid`` (the provider's sandbox workers), from /proc."""
    found: set[int] = set()
    frontier = [pid]
    while frontier:
        parent = frontier.pop()
        try:
            tasks = os.listdir(f"/proc/{parent}/task")
        except FileNotFoundError:
            continue
        for task in tasks:
            try:
                with open(f"/proc/{parent}/task/{task}/children") as f:
                    children = {int(c) for c in f.read().split()}
            except FileNotFoundError:
                continue
            frontier.extend(children - found)
            found |= children
    return found


def _post(provider: ProviderProcess, path: str, body: bytes) -> httpx.Response:
    return httpx.post(provider.url + path, content=body, timeout=30.0)


def _order(
    provider: ProviderProcess, lease: bytes, spec: Any, consumer: Account = CONSUMER
) -> JobRequest:
    return sign_request(
        consumer, DEVNET_DOMAIN, spec, lease=lease, provider=provider.account.address
    )


class _Background:
    """``ProviderClient.run`` of one request in a thread: its result or its error."""

    def __init__(self, provider: ProviderProcess, request: JobRequest) -> None:
        self.result: SignedResult | None = None
        self.error: Exception | None = None
        self.thread = threading.Thread(target=self._run, args=(provider, request), daemon=True)
        self.thread.start()

    def _run(self, provider: ProviderProcess, request: JobRequest) -> None:
        try:
            with ProviderClient(provider.url, DEVNET_DOMAIN) as c:
                self.result = c.run(request)
        except Exception as exc:  # the test inspects it
            self.error = exc

    def join(self) -> None:
        self.thread.join(WAIT_S)
        assert not self.thread.is_alive(), "the provider never answered the job"


def _cancel(provider: ProviderProcess, lease: bytes, consumer: Account = CONSUMER) -> str:
    request = sign_cancel(consumer, DEVNET_DOMAIN, lease=lease, provider=provider.account.address)
    with ProviderClient(provider.url, DEVNET_DOMAIN) as c:
        return c.cancel(request)


def test_client_cancel_stops_the_run_on_the_provider(provider: ProviderProcess) -> None:
    before = _descendants(provider.process.pid)
    assert before, "the provider has a sandbox worker"
    transport = HttpTransport(DEVNET_DOMAIN)
    client = ComputeClient(
        CONSUMER,
        DEVNET_DOMAIN,
        [provider.url],
        credits=CREDITS,
        transport=transport,
        parameters=NO_VERIFY,
    )
    try:
        ident = client.submit(job(INFINITE_LOOP, ENDLESS), max_price_per_mfuel=1_000)
        _wait(lambda: _info(provider).running == 1, "the endless job runs")
        assert client.account.reserved > 0
        assert client.cancel(ident)
        with pytest.raises(JobCancelled):
            client.result(ident, timeout=WAIT_S)
        assert client.status(ident).state == CANCELLED
        assert not client.cancel(ident)
        info = _info(provider)
        assert (info.running, info.waiting) == (0, 0)  # stopped, not left running
        # the consumer pays nothing for a run stopped on its provider
        assert client.account.reserved == 0 and client.account.spent == 0
        assert client.account.available == CREDITS
        with ProviderClient(provider.url, DEVNET_DOMAIN) as c:
            assert c.claims() == [] and c.receipts() == []  # nothing signed, nothing owed
        after = _descendants(provider.process.pid)
        assert before - after, "the worker that ran the job was killed"
        # the provider keeps serving: a real job through the same client, byte-identical
        frame = job(example("render"), SMALL, args=["render", "2", "24", "16", "100"])
        outcome = client.run(frame, max_price_per_mfuel=1_000)
        assert outcome.result.status == STATUS_OK
        assert outcome.result.outputs == Runner().execute(frame).outputs
        assert outcome.paid > 0 and client.account.spent == outcome.paid
    finally:
        client.close()
        transport.close()


def test_cancel_needs_the_consumers_signature(provider: ProviderProcess) -> None:
    lease = os.urandom(32)
    running = _Background(provider, _order(provider, lease, job(INFINITE_LOOP, ENDLESS)))
    _wait(lambda: _info(provider).running == 1, "the endless job runs")
    address = provider.account.address
    forged = sign_cancel(OTHER, DEVNET_DOMAIN, lease=lease, provider=address)
    claimed = msgspec.structs.replace(forged, consumer=CONSUMER.address)  # signed by OTHER
    elsewhere = sign_cancel(
        CONSUMER, DEVNET_DOMAIN, lease=lease, provider=Account.generate().address
    )
    refusals = [
        (_post(provider, "/v1/cancel", msgspec.json.encode(forged)), 403, "wrong_consumer"),
        (_post(provider, "/v1/cancel", msgspec.json.encode(claimed)), 401, "bad_signature"),
        (_post(provider, "/v1/cancel", msgspec.json.encode(elsewhere)), 403, "wrong_provider"),
        (_post(provider, "/v1/cancel", b'{"lease": 1}'), 400, "malformed"),
        (_post(provider, "/v1/cancel", b"x" * 5000), 413, "too_large"),
    ]
    for response, status, code in refusals:
        assert response.status_code == status, response.text
        assert response.json()["error"] == code
    assert _info(provider).running == 1  # none of them touched the run
    assert running.thread.is_alive()
    assert _cancel(provider, lease) == "stopped"
    running.join()
    assert isinstance(running.error, ProviderError)
    assert (running.error.status, running.error.code) == (409, "cancelled")
    assert running.result is None
    assert _cancel(provider, lease) == "unknown"  # gone: remembered as cancelled


def test_cancel_of_a_waiting_job_and_before_the_job_arrives(provider: ProviderProcess) -> None:
    first, second, early = os.urandom(32), os.urandom(32), os.urandom(32)
    endless = job(INFINITE_LOOP, ENDLESS)
    running = _Background(provider, _order(provider, first, endless))
    _wait(lambda: _info(provider).running == 1, "the first job runs")
    waiting = _Background(provider, _order(provider, second, endless))
    _wait(lambda: _info(provider).waiting == 1, "the second job waits for the worker")
    assert _cancel(provider, second) == "stopped"
    waiting.join()
    assert isinstance(waiting.error, ProviderError) and waiting.error.code == "cancelled"
    info = _info(provider)
    assert (info.running, info.waiting) == (1, 0)  # the first one still runs
    assert _cancel(provider, first) == "stopped"
    running.join()
    assert isinstance(running.error, ProviderError) and running.error.code == "cancelled"

    # a cancel that overtakes its job: the job is refused when it comes, never run
    assert _cancel(provider, early) == "unknown"
    hello = job(HELLO, SMALL)
    with ProviderClient(provider.url, DEVNET_DOMAIN) as c:
        with pytest.raises(ProviderError) as refused:
            c.run(_order(provider, early, hello))
        assert (refused.value.status, refused.value.code) == (409, "cancelled")
        # another consumer's job on that lease is not its to stop
        signed = c.run(_order(provider, early, hello, consumer=OTHER))
        assert signed.result.status == STATUS_OK and signed.result.stdout == b"hello\n"
        claimed = {claim.lease for claim in c.claims()}
    assert early in claimed and first not in claimed and second not in claimed
    # a finished lease is reported too late to stop
    assert _cancel(provider, early, consumer=OTHER) == "finished"


def test_provider_refuses_a_lease_already_running(provider: ProviderProcess) -> None:
    lease = os.urandom(32)
    running = _Background(provider, _order(provider, lease, job(INFINITE_LOOP, ENDLESS)))
    _wait(lambda: _info(provider).running == 1, "the job runs")
    with ProviderClient(provider.url, DEVNET_DOMAIN) as c, pytest.raises(ProviderError) as dup:
        c.run(_order(provider, lease, job(HELLO, SMALL)))
    assert (dup.value.status, dup.value.code) == (409, "lease_in_use")
    assert _cancel(provider, lease) == "stopped"
    running.join()


def test_sandbox_cancel_kills_only_that_run() -> None:
    with Sandbox(workers=2) as sandbox:
        ticket = Ticket()
        outcome: list[BaseException | object] = []

        def endless() -> None:
            try:
                outcome.append(sandbox.run(job(INFINITE_LOOP, ENDLESS), ticket=ticket))
            except RunCancelled as exc:
                outcome.append(exc)

        thread = threading.Thread(target=endless, daemon=True)
        thread.start()
        _wait(lambda: ticket.worker is not None, "the run has its worker")
        worker = ticket.worker
        assert worker is not None
        assert sandbox.run(job(HELLO, SMALL)).stdout == b"hello\n"  # the other worker serves
        assert sandbox.cancel(ticket)
        assert not sandbox.cancel(ticket)  # once
        thread.join(WAIT_S)
        assert not thread.is_alive()
        assert len(outcome) == 1 and isinstance(outcome[0], RunCancelled)
        assert worker.process.poll() is not None  # killed
        # replaced: both workers serve again
        results = [sandbox.run(job(HELLO, SMALL)) for _ in range(3)]
        assert all(r.status == STATUS_OK for r in results)
        # cancelled before it starts: never runs, takes no worker from the pool
        early = Ticket()
        assert sandbox.cancel(early)
        with pytest.raises(RunCancelled):
            sandbox.run(job(HELLO, SMALL), ticket=early)
        assert sandbox.run(job(HELLO, SMALL)).status == STATUS_OK


def test_cancel_request_is_bound_to_lease_provider_and_deployment() -> None:
    from depinkit.core.envelope import ReportDomain
    from depinkit.networks.compute.jobs import JobMessageError, verify_cancel

    lease = os.urandom(32)
    provider = Account.generate().address
    request = sign_cancel(CONSUMER, DEVNET_DOMAIN, lease=lease, provider=provider)
    verify_cancel(DEVNET_DOMAIN, request)
    other_deployment = ReportDomain(chain_id=1, registry=DEVNET_DOMAIN.registry)
    tampered: list[CancelRequest] = [
        msgspec.structs.replace(request, lease=os.urandom(32)),
        msgspec.structs.replace(request, provider=Account.generate().address),
        msgspec.structs.replace(request, consumer=OTHER.address),
    ]
    for bad in tampered:
        with pytest.raises(JobMessageError):
            verify_cancel(DEVNET_DOMAIN, bad)
    with pytest.raises(JobMessageError):
        verify_cancel(other_deployment, request)


@settings(max_examples=16, deadline=None)
@given(
    during=st.sampled_from([ROLE_PRIMARY, ROLE_VERIFY]),
    cheaper=st.integers(10, 1_000),
    dearer_by=st.integers(1, 1_000),
    honoured=st.booleans(),
)
def test_cancel_pays_exactly_the_runs_that_returned(
    during: int, cheaper: int, dearer_by: int, honoured: bool
) -> None:
    """Money of a cancel, over in-process providers (the orchestration alone): whether the
    primary or the verification run is in flight, and whether its provider stops it or
    answers anyway, nothing is left reserved, nothing is lost, and exactly the runs that
    returned are paid, at their price for the fuel they used."""
    gate = threading.Event()
    primary = LocalProvider(1, price=cheaper)  # the cheaper one wins the auction
    verifier = LocalProvider(2, price=cheaper + dearer_by)
    flight = primary if during == ROLE_PRIMARY else verifier
    flight.gate, flight.honours_cancel = gate, honoured
    transport = LocalTransport({"local://0": primary, "local://1": verifier})
    reached = threading.Event()
    wanted = (RUNNING, 1) if during == ROLE_PRIMARY else (VERIFYING, 2)

    def on_event(status: JobStatus) -> None:
        if (status.state, status.runs) == wanted:
            reached.set()

    spec = render_job(1)
    fuel = Runner().execute(spec).fuel_used
    credits = 10**9
    client = ComputeClient(
        KIT_CONSUMER,
        DOMAIN,
        list(transport.providers),
        credits=credits,
        transport=transport,
        on_event=on_event,  # tier 0 providers: every job is verified
    )
    try:
        ident = client.submit(spec, max_price_per_mfuel=5_000)
        assert reached.wait(WAIT_S)
        assert client.cancel(ident)
        gate.set()  # an ignored cancel: the run answers now
        try:
            outcome = client.result(ident, timeout=WAIT_S)
        except JobCancelled:
            assert client.status(ident).state == CANCELLED
        else:  # the last run answered anyway: the job is done and both runs are paid
            assert not honoured and during == ROLE_VERIFY
            assert outcome.paid == client.account.spent
    finally:
        client.close()
    assert len(flight.cancels) == 1  # the run in flight, and only it, got a signed cancel
    (request,) = flight.cancels
    assert isinstance(request, CancelRequest) and request.consumer == KIT_CONSUMER.address
    assert request.provider == flight.account.address
    account = client.account
    assert account.reserved == 0
    assert account.available + account.spent == credits
    returned = {p: p.jobs for p in (primary, verifier)}
    assert returned[flight] == (0 if honoured else 1)
    assert account.spent == sum(n * cost(p.price, fuel) for p, n in returned.items())
