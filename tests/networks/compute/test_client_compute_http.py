"""The consumer client against real provider processes on 127.0.0.1 (issue 6, must-show).

Providers are ``python -m depinkit.networks.compute.provider`` subprocesses; the cheat is a
real provider behind ``cheat_proxy.py``, a process that fakes its outputs and signs them
with the provider's key. Every process is stopped at the end of the module.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from compute_client_kit import LIMITS, render_job
from compute_module_kit import CONSUMER, DOMAIN, context, received
from compute_provider_kit import ProviderProcess, free_port, start_provider

from depinkit.core.keys import Account
from depinkit.networks import DeviceView, run_module
from depinkit.networks.compute import ComputeModule
from depinkit.networks.compute.client import (
    ComputeClient,
    HttpTransport,
    JobOutcome,
    provider_reports,
)
from depinkit.networks.compute.jobs import STATUS_FUEL_EXHAUSTED, JobLimits
from depinkit.networks.compute.market import cost
from depinkit.networks.compute.runner import Runner
from depinkit.networks.compute.schemas import DISPUTE
from depinkit.networks.compute.score import FACT_SLASHED, USAGE
from depinkit.networks.receipts import FACT_CREDITS

CREDITS = 10**10  # nanocredits: ten credits
DEPLOYMENT = ("--chain-id", str(DOMAIN.chain_id), "--registry", DOMAIN.registry)
PROXY = Path(__file__).resolve().parent / "cheat_proxy.py"
READY_TIMEOUT_S = 60.0


def wait_until(predicate, timeout_s: float = READY_TIMEOUT_S) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError("condition not reached")
        time.sleep(0.02)


def answers(url: str) -> bool:
    try:
        return httpx.get(url + "/v1/info", timeout=1.0).status_code == 200
    except httpx.TransportError:
        return False


class Fleet:
    """Two honest providers, a victim to kill and a cheat (a provider behind the proxy),
    started together: each process takes seconds to import and start its sandbox."""

    def __init__(self) -> None:
        self.processes: list[ProviderProcess] = []
        try:
            self._start()
        except BaseException:
            self.stop()  # never leak the processes that did start
            raise

    def _start(self) -> None:
        with ThreadPoolExecutor(max_workers=4) as pool:
            futures = [pool.submit(start_provider, *DEPLOYMENT) for _ in range(4)]
        errors = [f.exception() for f in futures if f.exception() is not None]
        self.processes.extend(f.result() for f in futures if f.exception() is None)
        if errors:
            raise RuntimeError(f"a provider did not start: {errors[0]}")
        started = list(self.processes)
        self.honest = started[:2]
        self.victim = started[2]
        backend = started[3]
        port = free_port()
        env = {**os.environ, "DEPINKIT_PROVIDER_KEY": backend.account.private_key.hex()}
        proxy = subprocess.Popen(
            [
                sys.executable,
                str(PROXY),
                "--upstream",
                backend.url,
                "--port",
                str(port),
                *DEPLOYMENT,
            ],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        self.cheat = ProviderProcess(backend.account, f"http://127.0.0.1:{port}", proxy)
        self.processes.append(self.cheat)
        wait_until(lambda: proxy.poll() is not None or answers(self.cheat.url))
        if proxy.poll() is not None:
            raise RuntimeError(f"cheat proxy exited with {proxy.returncode}")

    def stop(self) -> None:
        for p in self.processes:
            p.stop()


@pytest.fixture(scope="module")
def fleet() -> Iterator[Fleet]:
    started = Fleet()
    try:
        yield started
    finally:
        started.stop()


@pytest.fixture(scope="module")
def honest(fleet: Fleet) -> list[ProviderProcess]:
    return fleet.honest


@pytest.fixture(scope="module")
def cheat(fleet: Fleet) -> ProviderProcess:
    return fleet.cheat


def make_client(
    providers: list[ProviderProcess], prices: dict[str, int], *, verify_ppm: int
) -> ComputeClient:
    urls = [p.url for p in providers]
    return ComputeClient(
        CONSUMER,
        DOMAIN,
        urls,
        credits=CREDITS,
        transport=HttpTransport(DOMAIN, prices=prices),
        reputation={p.account.address: 100 for p in providers},  # trusted: the coin decides
        parameters={"verify_ppm": verify_ppm},
    )


def assert_money(c: ComputeClient, outcomes: list[JobOutcome]) -> None:
    for o in outcomes:
        for run in o.runs:
            assert run.paid + run.refund == run.reserved
    assert c.account.reserved == 0
    assert c.account.spent == sum(o.paid for o in outcomes)
    assert c.account.available + c.account.spent == CREDITS


def test_render_split_over_providers_is_byte_identical(honest: list[ProviderProcess]) -> None:
    jobs = [render_job(frame, 64, 48) for frame in range(6)]
    prices = {p.url: 100 for p in honest}  # equal bids: ties spread the frames
    with make_client(honest, prices, verify_ppm=0) as c:
        outcomes = c.run_many(jobs, max_price_per_mfuel=150)
    runner = Runner()
    direct = [runner.execute(job) for job in jobs]
    assert [o.result.outputs for o in outcomes] == [d.outputs for d in direct]
    assert [o.result.stdout for o in outcomes] == [d.stdout for d in direct]
    assert len({o.provider for o in outcomes}) >= 2
    assert_money(c, outcomes)


def test_cheat_is_caught_slashed_and_consumer_refunded(
    honest: list[ProviderProcess], cheat: ProviderProcess
) -> None:
    providers = [cheat, *honest]
    prices = {cheat.url: 10, honest[0].url: 100, honest[1].url: 120}  # the cheat bids lowest
    job = render_job(11, 64, 48)
    with make_client(providers, prices, verify_ppm=1_000_000) as c:
        outcome = c.run(job, max_price_per_mfuel=150)
    assert outcome.result == Runner().execute(job)
    (bad,) = [r for r in outcome.runs if r.wrong]
    assert bad.provider == cheat.account.address and bad.role == 0
    assert bad.paid == 0 and bad.refund == bad.reserved and bad.receipt is None
    assert len(outcome.runs) == 3 and len(outcome.disputes) == 1
    assert_money(c, [outcome])

    # Providers report what they were paid; the tiebreak provider files the dispute.
    accounts = {p.account.address: p.account for p in (cheat, *honest)}
    pending = provider_reports(outcome)
    reports = [received(accounts[p.device], p.kind, p.body, seq=i) for i, p in enumerate(pending)]
    tiebreaker: Account = accounts[pending[-1].device]
    assert pending[-1].kind == DISPUTE and outcome.runs[-1].provider == tiebreaker.address
    devices = {a: DeviceView(owner=a, network="compute") for a in accounts}
    ctx = context(device_map=devices, credits={CONSUMER.address: CREDITS})
    verdicts, scores = run_module(ComputeModule(), ctx, reports)
    slashing = [v for v in verdicts if FACT_SLASHED in v.facts]
    assert [v.facts[FACT_SLASHED] for v in slashing] == [int(cheat.account.address, 16)]
    assert [v.device for v in slashing] == [tiebreaker.address]
    assert sum(v.facts.get(FACT_CREDITS, 0) for v in verdicts if v.accepted) == outcome.paid
    assert cheat.account.address not in scores[USAGE]
    prior = ComputeModule().next_prior(ctx, reports, verdicts)
    assert cheat.account.address not in prior["reputation"]


def test_provider_killed_mid_job_is_rescheduled(fleet: Fleet) -> None:
    victim, honest = fleet.victim, fleet.honest
    providers = [victim, honest[1]]
    prices = {victim.url: 10, honest[1].url: 100}
    job = render_job(1, 640, 480)  # ~6e8 fuel: long enough to be killed while it runs
    with make_client(providers, prices, verify_ppm=0) as c:
        ident = c.submit(job, max_price_per_mfuel=150)

        def victim_running() -> bool:
            try:
                info = httpx.get(victim.url + "/v1/info", timeout=1.0).json()
            except (httpx.TransportError, ValueError):
                return False
            return int(info["running"]) >= 1

        wait_until(victim_running)
        victim.process.kill()
        outcome = c.result(ident, timeout=120)
    assert outcome.provider == honest[1].account.address
    first = outcome.runs[0]
    assert first.provider == victim.account.address and first.error
    assert first.paid == 0 and first.refund == first.reserved
    assert outcome.result == Runner().execute(job)
    assert_money(c, [outcome])


def test_fuel_exhaustion_pays_only_fuel_used(honest: list[ProviderProcess]) -> None:
    limits = JobLimits(
        fuel=3_000_000,
        memory_bytes=LIMITS.memory_bytes,
        wall_ms=LIMITS.wall_ms,
        output_bytes=LIMITS.output_bytes,
    )
    job = render_job(2, 64, 48, limits=limits)
    with make_client(honest[:1], {honest[0].url: 100}, verify_ppm=0) as c:
        outcome = c.run(job, max_price_per_mfuel=150)
    assert outcome.result.status == STATUS_FUEL_EXHAUSTED
    (run,) = outcome.runs
    assert outcome.result.fuel_used == limits.fuel
    assert run.paid == cost(100, outcome.result.fuel_used) == run.receipt.cumulative  # type: ignore[union-attr]
    assert_money(c, [outcome])
