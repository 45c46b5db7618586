"""The sender: retries until every oracle acknowledges; backoff; permanent rejections."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

import httpx
import pytest

from depinkit.agent.roles import ReportDraft
from depinkit.networks.uptime import Heartbeat

from .conftest import Harness, ScriptedOracle


def heartbeats(n: int) -> list[ReportDraft]:
    return [ReportDraft("uptime", "heartbeat", Heartbeat(uptime_s=i)) for i in range(n)]


def drain(h: Harness, *, max_steps: int = 200) -> int:
    """Step and sleep as the runtime would until nothing is pending; returns steps."""
    for steps in range(1, max_steps + 1):
        h.runtime.sender.step()
        if h.runtime.outbox.pending_total() == 0:
            return steps
        h.runtime.sleep_until_due()
    raise AssertionError("still pending")


def test_every_oracle_gets_every_report(harness_factory: Callable[..., Harness]) -> None:
    h = harness_factory(("a", "b", "c"))
    h.runtime.enqueue(heartbeats(250))
    drain(h)
    ids = set(h.runtime.outbox.report_ids())
    assert len(ids) == 250
    for oracle in h.oracles.values():
        assert set(oracle.stored) == ids
        assert oracle.requests == [100, 100, 50]  # batched by sender.batch_size


def test_down_oracle_is_retried_with_growing_capped_backoff(
    harness_factory: Callable[..., Harness],
) -> None:
    down = ScriptedOracle("a", script=["down"] * 7)
    h = harness_factory(oracles=[down, ScriptedOracle("b")])
    sender = h.runtime.sender
    h.runtime.enqueue(heartbeats(3))

    waits = []
    for _ in range(7):
        before = h.clock.now_ms()
        report = sender.step()
        assert report.unavailable == ["a"]
        waits.append(sender.blocked_until_ms("a") - before)
        h.clock.advance((sender.blocked_until_ms("a") - h.clock.now_ms()) / 1000)
    # initial 1000 ms, doubling, capped at 16000 ms; equal jitter keeps each in [base/2, base]
    for wait, base in zip(waits, [1000, 2000, 4000, 8000, 16000, 16000, 16000], strict=True):
        assert base // 2 <= wait <= base
    assert len(h.oracles["b"].stored) == 3  # the healthy oracle was not held back
    assert sender.oracle_backoff("a").failures == 7
    assert "ConnectError" in sender.last_error("a")

    report = sender.step()  # the oracle is back
    assert report.acked == 3 and sender.oracle_backoff("a").failures == 0
    assert set(down.stored) == set(h.runtime.outbox.report_ids())
    counts = {c.oracle: c for c in h.runtime.outbox.counts()}
    assert counts["a"].acked == 3 and counts["a"].pending == 0


def test_backoff_resets_after_success(harness_factory: Callable[..., Harness]) -> None:
    flaky = ScriptedOracle("a", script=["down", "down", "down", "ok", "down"])
    h = harness_factory(oracles=[flaky])
    sender = h.runtime.sender
    h.runtime.enqueue(heartbeats(1))
    for _ in range(3):
        sender.step()
        h.clock.advance((sender.blocked_until_ms("a") - h.clock.now_ms()) / 1000)
    assert sender.oracle_backoff("a").failures == 3
    sender.step()
    assert sender.oracle_backoff("a").failures == 0
    h.runtime.enqueue(heartbeats(1))
    before = h.clock.now_ms()
    sender.step()  # fails again: back to the initial delay, not 8 s
    assert 500 <= sender.blocked_until_ms("a") - before <= 1000


def test_server_errors_are_transient(harness_factory: Callable[..., Harness]) -> None:
    h = harness_factory(oracles=[ScriptedOracle("a", script=[503, 500, 429])])
    h.runtime.enqueue(heartbeats(2))
    drain(h)
    assert len(h.oracles["a"].stored) == 2
    assert h.runtime.outbox.counts()[0].failed == 0


def test_permanent_rejection_is_marked_failed_not_retried(
    harness_factory: Callable[..., Harness],
) -> None:
    bad: set[bytes] = set()
    oracle = ScriptedOracle("a", default=lambda rid: "bad_body" if rid in bad else None)
    h = harness_factory(oracles=[oracle])
    h.runtime.enqueue(heartbeats(5))
    bad.add(h.runtime.outbox.report_ids()[2])
    drain(h)
    h.clock.advance(3600)
    h.runtime.sender.step()
    assert oracle.requests == [5]  # never sent again
    (counts,) = h.runtime.outbox.counts()
    assert (counts.acked, counts.failed, counts.pending) == (4, 1, 0)
    (rejection,) = h.runtime.outbox.rejections()
    assert (rejection.error_code, rejection.seq) == ("bad_body", 2)


def test_retryable_code_is_retried_until_accepted(
    harness_factory: Callable[..., Harness],
) -> None:
    answers = iter(["unknown_device", "unknown_device"])
    oracle = ScriptedOracle("a", default=lambda rid: next(answers, None))
    h = harness_factory(oracles=[oracle])
    h.runtime.enqueue(heartbeats(1))
    drain(h)
    assert oracle.requests == [1, 1, 1] and len(oracle.stored) == 1
    (counts,) = h.runtime.outbox.counts()
    assert (counts.acked, counts.failed) == (1, 0)


def test_whole_batch_refusal_is_isolated_per_report(
    harness_factory: Callable[..., Harness],
) -> None:
    # 413 for the batch of 3; halves [r0] ok and [r1, r2] refused; [r1] refused, [r2] ok
    oracle = ScriptedOracle("a", script=[413, "ok", 422, 422, "ok"])
    h = harness_factory(oracles=[oracle])
    h.runtime.enqueue(heartbeats(3))
    h.runtime.sender.step()
    assert oracle.requests == [3, 1, 2, 1, 1]
    (counts,) = h.runtime.outbox.counts()
    assert (counts.acked, counts.failed, counts.pending) == (2, 1, 0)
    (rejection,) = h.runtime.outbox.rejections()
    assert (rejection.error_code, rejection.seq) == ("status_422", 1)


def test_batch_above_the_oracle_limit_is_halved(harness_factory: Callable[..., Harness]) -> None:
    oracle = ScriptedOracle("a", max_batch=30)
    h = harness_factory(oracles=[oracle])
    h.runtime.enqueue(heartbeats(100))
    h.runtime.sender.step()
    assert oracle.requests[0] == 100 and h.runtime.outbox.counts()[0].acked == 100
    assert oracle.requests == [100, 50, 25, 25, 50, 25, 25] and len(oracle.stored) == 100
    h.runtime.enqueue(heartbeats(60))
    h.runtime.sender.step()  # the learnt limit holds: no more refusals
    assert oracle.requests[7:] == [25]


def test_duplicate_counts_as_acknowledged(harness_factory: Callable[..., Harness]) -> None:
    oracle = ScriptedOracle("a")
    h = harness_factory(oracles=[oracle])
    h.runtime.enqueue(heartbeats(2))
    for rid in h.runtime.outbox.report_ids():  # as if stored before the agent crashed
        oracle.stored[rid] = b""
    h.runtime.sender.step()
    assert h.runtime.outbox.counts()[0].acked == 2


def test_unreadable_success_is_retried(harness_factory: Callable[..., Harness]) -> None:
    oracle = ScriptedOracle("a", script=[204, 204, 204])
    h = harness_factory(oracles=[oracle])
    h.runtime.enqueue(heartbeats(1))
    sender = h.runtime.sender
    for _ in range(3):
        assert sender.step().unavailable == ["a"]
        h.clock.advance((sender.blocked_until_ms("a") - h.clock.now_ms()) / 1000)
    assert sender.oracle_backoff("a").failures == 3  # grows like any outage
    drain(h)
    assert oracle.requests == [1, 1, 1, 1]
    assert h.runtime.sender.oracle_backoff("a").failures == 0
    assert len(oracle.stored) == 1


def test_an_outage_is_logged_once_and_its_end_too(
    harness_factory: Callable[..., Harness], caplog: pytest.LogCaptureFixture
) -> None:
    h = harness_factory(oracles=[ScriptedOracle("a", script=["down"] * 4)])
    h.runtime.enqueue(heartbeats(1))
    with caplog.at_level(logging.WARNING, logger="depinkit.agent.sender"):
        drain(h)
    messages = [r.getMessage() for r in caplog.records]
    assert len(messages) == 2
    assert "unavailable" in messages[0] and "after 4 failures" in messages[1]


def test_hostile_error_body_is_survived(harness_factory: Callable[..., Harness]) -> None:
    """A deeply nested body must not crash the agent (eth-account raises the recursion limit)."""
    import eth_account  # noqa: F401  # the agent process has it loaded (keystore)

    nested = b'{"code": ' + b"[" * 90_000 + b"]" * 90_000 + b"}"

    def hostile(request: httpx.Request) -> httpx.Response:
        return httpx.Response(400, content=nested, headers={"content-type": "application/json"})

    oracle = ScriptedOracle("a")
    oracle.handle = hostile  # type: ignore[method-assign]
    h = harness_factory(oracles=[oracle])
    h.runtime.enqueue(heartbeats(1))
    h.runtime.sender.step()
    assert h.runtime.outbox.rejections()[0].error_code == "http_400"


def test_a_slow_oracle_does_not_hold_back_the_others(
    harness_factory: Callable[..., Harness],
) -> None:
    """Oracle ``slow`` answers only once ``fast`` has been asked: a happens-before check."""
    fast_asked = threading.Event()
    slow, fast = ScriptedOracle("slow"), ScriptedOracle("fast")
    slow_handle, fast_handle = slow.handle, fast.handle

    def slow_handler(request: httpx.Request) -> httpx.Response:
        assert fast_asked.wait(timeout=60), "posts to oracles ran one after another"
        return slow_handle(request)

    def fast_handler(request: httpx.Request) -> httpx.Response:
        fast_asked.set()
        return fast_handle(request)

    slow.handle = slow_handler  # type: ignore[method-assign]
    fast.handle = fast_handler  # type: ignore[method-assign]
    h = harness_factory(oracles=[slow, fast])
    h.runtime.enqueue(heartbeats(3))
    report = h.runtime.sender.step()
    assert report.acked == 6 and len(slow.stored) == len(fast.stored) == 3
