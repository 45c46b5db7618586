"""The consumer client over in-process providers: auction, verification, rescheduling, money."""

from __future__ import annotations

import threading

import pytest
from compute_client_kit import LIMITS, LocalProvider, LocalTransport, render_job
from compute_module_kit import CONSUMER, DOMAIN, context, received

from depinkit.networks import DeviceView, run_module
from depinkit.networks.compute import ComputeModule
from depinkit.networks.compute.client import (
    CANCELLED,
    DONE,
    ComputeClient,
    ComputeClientError,
    JobCancelled,
    JobOutcome,
    JobStatus,
)
from depinkit.networks.compute.jobs import STATUS_FUEL_EXHAUSTED, STATUS_OK, JobLimits
from depinkit.networks.compute.market import cost
from depinkit.networks.compute.module import WRONG_OUTPUT
from depinkit.networks.compute.runner import Runner
from depinkit.networks.compute.schemas import COMPLETION, DISPUTE, Completion
from depinkit.networks.compute.score import FACT_SLASHED, USAGE
from depinkit.networks.receipts import FACT_CREDITS

CREDITS = 10**9  # nanocredits: one credit
TRUSTED = 100  # reputation points: tier 1 with the default thresholds


def client(providers: list[LocalProvider], *, trusted: bool = False, **kw: object) -> ComputeClient:
    transport = LocalTransport({f"local://{i}": p for i, p in enumerate(providers)})
    reputation = {p.account.address: TRUSTED for p in providers} if trusted else {}
    return ComputeClient(
        CONSUMER,
        DOMAIN,
        list(transport.providers),
        credits=CREDITS,
        transport=transport,
        reputation=reputation,
        **kw,  # type: ignore[arg-type]
    )


def assert_money(c: ComputeClient, outcomes: list[JobOutcome]) -> None:
    for o in outcomes:
        for run in o.runs:
            assert run.paid + run.refund == run.reserved
            assert run.receipt is None or run.receipt.cumulative == run.paid <= run.reserved
    assert c.account.reserved == 0
    assert c.account.spent == sum(o.paid for o in outcomes)
    assert c.account.available + c.account.spent == CREDITS


def test_verified_job_matches_a_direct_run_and_pays_both_runs() -> None:
    providers = [LocalProvider(i + 1, price=100 + i) for i in range(3)]
    job = render_job(2)
    with client(providers) as c:  # unknown providers are tier 0: always verified
        outcome = c.run(job, max_price_per_mfuel=200)
        assert c.status(outcome.job_id).state == DONE
    direct = Runner().execute(job)
    assert outcome.result == direct
    assert outcome.verified and len(outcome.runs) == 2 and not outcome.disputes
    assert outcome.provider == providers[0].account.address  # the cheapest bid won
    assert outcome.paid == cost(100, direct.fuel_used) + cost(101, direct.fuel_used)
    assert_money(c, [outcome])
    assert len(providers[0].receipts) == 1
    # an outcome is plain data: a CLI can store it and print it later
    import msgspec

    assert msgspec.json.decode(msgspec.json.encode(outcome), type=JobOutcome) == outcome


def test_frames_spread_over_providers_and_are_byte_identical() -> None:
    providers = [LocalProvider(i + 1, price=100, slots=1) for i in range(3)]
    jobs = [render_job(f) for f in range(6)]
    with client(providers, trusted=True, parameters={"verify_ppm": 0}) as c:
        outcomes = c.run_many(jobs, max_price_per_mfuel=100)
    runner = Runner()
    for job, outcome in zip(jobs, outcomes, strict=True):
        assert outcome.result.outputs == runner.execute(job).outputs
    assert len({o.provider for o in outcomes}) >= 2
    assert_money(c, outcomes)


def test_a_cheat_is_outvoted_refunded_and_slashed_by_the_module() -> None:
    cheat = LocalProvider(1, price=50, cheat=True)
    honest = [LocalProvider(2, price=100), LocalProvider(3, price=120)]
    job = render_job(5)
    with client([cheat, *honest], trusted=True, parameters={"verify_ppm": 1_000_000}) as c:
        outcome = c.run(job, max_price_per_mfuel=200)
    assert outcome.result == Runner().execute(job)  # the consumer still gets the right frame
    wrong = [r for r in outcome.runs if r.wrong]
    assert [r.provider for r in wrong] == [cheat.account.address]
    assert wrong[0].paid == 0 and wrong[0].refund == wrong[0].reserved
    assert len(outcome.disputes) == 1
    assert_money(c, [outcome])

    # The providers report; the tiebreak provider files the dispute; the oracles settle.
    devices = {
        p.account.address: DeviceView(owner=CONSUMER.address, network="compute")
        for p in (cheat, *honest)
    }
    ctx = context(device_map=devices, credits={CONSUMER.address: CREDITS})
    by = {p.account.address: p for p in (cheat, *honest)}
    reports = []
    for i, run in enumerate(outcome.runs):
        if run.receipt is not None:
            assert run.claim is not None
            body = Completion(claim=run.claim, role=run.role, receipt=run.receipt)
            reports.append(received(by[run.provider].account, COMPLETION, body, seq=i))
    tiebreaker = by[outcome.runs[-1].provider].account
    reports.append(received(tiebreaker, DISPUTE, outcome.disputes[0], seq=9))
    verdicts, scores = run_module(ComputeModule(), ctx, reports)
    slashing = [v for v in verdicts if FACT_SLASHED in v.facts]
    assert [v.facts[FACT_SLASHED] for v in slashing] == [int(cheat.account.address, 16)]
    assert sum(v.facts.get(FACT_CREDITS, 0) for v in verdicts) == outcome.paid
    assert cheat.account.address not in scores[USAGE]


def test_a_cheat_presenting_a_receipt_is_still_refunded() -> None:
    """Even if a consumer paid the cheat on delivery, its completion spends nothing."""
    cheat = LocalProvider(1, price=50, cheat=True)
    honest = [LocalProvider(2, price=100), LocalProvider(3, price=120)]
    with client([cheat, *honest], trusted=True, parameters={"verify_ppm": 1_000_000}) as c:
        outcome = c.run(render_job(1), max_price_per_mfuel=200)
    from depinkit.networks.receipts import sign_receipt

    bad = next(r for r in outcome.runs if r.wrong)
    assert bad.claim is not None
    receipt = sign_receipt(
        CONSUMER,
        DOMAIN,
        network="compute",
        payee=bad.provider,
        channel=bad.lease,
        cumulative=bad.reserved,
    )
    report = received(cheat.account, COMPLETION, Completion(bad.claim, bad.role, receipt))
    others = [
        received(
            next(p for p in honest if p.account.address == r.provider).account,
            COMPLETION,
            Completion(r.claim, r.role, r.receipt),
            seq=1,
        )
        for r in outcome.runs
        if r.receipt is not None and r.claim is not None
    ]
    devices = {
        p.account.address: DeviceView(owner=CONSUMER.address, network="compute")
        for p in (cheat, *honest)
    }
    verdicts, _ = run_module(ComputeModule(), context(device_map=devices), [report, *others])
    mine = next(v for v in verdicts if v.report_id == report.id)
    assert mine.reason == WRONG_OUTPUT and FACT_CREDITS not in mine.facts


def test_a_dead_provider_is_rescheduled_and_refunded() -> None:
    dead = LocalProvider(1, price=10, dead=True)
    alive = LocalProvider(2, price=100)
    with client([dead, alive], trusted=True, parameters={"verify_ppm": 0}) as c:
        outcome = c.run(render_job(3), max_price_per_mfuel=200)
    assert outcome.provider == alive.account.address
    first = outcome.runs[0]
    assert first.provider == dead.account.address and first.error and first.paid == 0
    assert first.refund == first.reserved
    assert_money(c, [outcome])


def test_a_busy_provider_is_skipped_but_not_banned() -> None:
    busy = LocalProvider(1, price=10, refuse=1)
    other = LocalProvider(2, price=100)
    with client([busy, other], trusted=True, parameters={"verify_ppm": 0}) as c:
        first = c.run(render_job(6), max_price_per_mfuel=200)
        second = c.run(render_job(7), max_price_per_mfuel=200)
    assert first.provider == other.account.address and "refused" in first.runs[0].error
    assert second.provider == busy.account.address  # still the cheapest, and asked again
    assert_money(c, [first, second])


def test_fuel_exhaustion_ends_the_job_and_pays_only_fuel_used() -> None:
    limits = JobLimits(
        fuel=1_000_000,
        memory_bytes=LIMITS.memory_bytes,
        wall_ms=LIMITS.wall_ms,
        output_bytes=LIMITS.output_bytes,
    )
    providers = [LocalProvider(i + 1, price=100) for i in range(2)]
    with client(providers, trusted=True, parameters={"verify_ppm": 0}) as c:
        outcome = c.run(render_job(4, limits=limits), max_price_per_mfuel=300)
    assert outcome.result.status == STATUS_FUEL_EXHAUSTED
    assert outcome.result.fuel_used == limits.fuel
    (run,) = outcome.runs
    assert run.paid == cost(100, limits.fuel) and run.reserved == cost(100, limits.fuel)
    assert_money(c, [outcome])


def test_reserve_at_the_bid_price_refunds_unused_fuel() -> None:
    providers = [LocalProvider(1, price=100)]
    with client(providers, trusted=True, parameters={"verify_ppm": 0}) as c:
        outcome = c.run(render_job(0), max_price_per_mfuel=300)
    assert outcome.result.status == STATUS_OK
    (run,) = outcome.runs
    assert run.reserved == cost(100, LIMITS.fuel)
    assert run.paid == cost(100, outcome.result.fuel_used) < run.reserved
    assert_money(c, [outcome])


def test_no_eligible_provider_and_insufficient_credits_fail_cleanly() -> None:
    c = client([LocalProvider(1, price=500)], trusted=True)
    with c, pytest.raises(ComputeClientError, match="no eligible provider"):
        c.run(render_job(0), max_price_per_mfuel=100)
    poor = client([LocalProvider(1, price=100)], trusted=True)
    poor.account.available = 10  # not enough for any lease
    with poor, pytest.raises(ComputeClientError, match="cannot reserve"):
        poor.run(render_job(0), max_price_per_mfuel=100)


def test_bad_orders_fail_at_submit() -> None:
    with client([LocalProvider(1)]) as c:
        with pytest.raises(ComputeClientError, match="invalid order"):
            c.submit(render_job(0), max_price_per_mfuel=100, colour="blue")
        with pytest.raises(ComputeClientError, match="invalid order"):
            c.submit(render_job(0), max_price_per_mfuel=-1)
        with pytest.raises(ComputeClientError, match="unknown job"):
            c.status(b"\x00" * 32)


def test_verification_without_a_second_provider_fails_and_refunds() -> None:
    with client([LocalProvider(1)]) as c, pytest.raises(ComputeClientError):
        c.run(render_job(0), max_price_per_mfuel=200)
    assert c.account.reserved == 0 and c.account.spent == 0


def test_cancel_stops_further_dispatch() -> None:
    gate = threading.Event()
    events: list[JobStatus] = []
    providers = [LocalProvider(1, price=50, gate=gate), LocalProvider(2)]  # the gated one wins
    started = threading.Event()

    def on_event(status: JobStatus) -> None:
        events.append(status)
        if status.state == "running":
            started.set()

    with client(providers, on_event=on_event) as c:  # tier 0: a verify run would follow
        ident = c.submit(render_job(0), max_price_per_mfuel=200)
        assert started.wait(30)
        assert c.cancel(ident)
        gate.set()
        with pytest.raises(JobCancelled):
            c.result(ident)
        assert c.status(ident).state == CANCELLED
        assert not c.cancel(ident)
    assert [e.state for e in events][-1] == CANCELLED
    assert c.account.reserved == 0 and c.account.spent > 0  # the run that returned is paid


def test_load_job_and_write_outputs(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from compute_client_kit import EXAMPLES

    from depinkit.networks.compute.client import load_job, write_outputs

    data = tmp_path / "a.csv"
    data.write_bytes(b"city,amount\nrome,3\n")
    job = load_job(EXAMPLES / "csvagg.wasm", inputs=[data], args=["csvagg", "city", "amount"])
    assert job.inputs == {"a.csv": data.read_bytes()} and job.args[0] == "csvagg"
    assert load_job(EXAMPLES / "render.wasm").args == ["render"]
    with pytest.raises(ComputeClientError):
        load_job(EXAMPLES / "csvagg.wasm", inputs=[data, data])
    result = Runner().execute(job)
    written = write_outputs(result, tmp_path / "out")
    assert [p.name for p in written] == sorted(result.outputs)
    assert (tmp_path / "out" / "summary.csv").read_bytes() == result.outputs["summary.csv"]
    import msgspec

    evil = msgspec.structs.replace(result, outputs={"../escape": b"x"})
    with pytest.raises(ComputeClientError):
        write_outputs(evil, tmp_path / "out")
