"""The runtime: roles on their schedule, signed reports, seqs that survive restarts."""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path

import msgspec
import pytest

from depinkit.agent.clock import ManualClock
from depinkit.agent.errors import RoleError
from depinkit.agent.roles import HeartbeatRole, ReportDraft, RoleContext
from depinkit.agent.runtime import epoch_at
from depinkit.core.envelope import Report, decode_body, decode_report, verify_report
from depinkit.networks.uptime import Heartbeat

from .conftest import DOMAIN, Harness


def stored_reports(h: Harness, oracle: str = "a") -> list[Report]:
    reports = [decode_report(raw) for raw in h.oracles[oracle].stored.values()]
    return sorted(reports, key=lambda r: r.seq)


def test_heartbeats_follow_the_schedule(harness_factory: Callable[..., Harness]) -> None:
    clock = ManualClock(start_ms=1_700_000_000_000)
    h = harness_factory(roles=[HeartbeatRole(Heartbeat, interval_s=60)], clock=clock)
    h.runtime.run(max_ticks=2000)  # ManualClock.sleep advances time: minutes in milliseconds
    elapsed_s = (clock.now_ms() - 1_700_000_000_000) / 1000
    reports = stored_reports(h)
    assert len(reports) == int(elapsed_s // 60) + 1
    assert [r.seq for r in reports] == list(range(len(reports)))
    uptimes = [decode_body(r, Heartbeat).uptime_s for r in reports]
    assert uptimes == [60 * i for i in range(len(reports))]
    for report in reports:
        assert verify_report(DOMAIN, report) and report.device == h.runtime.signer.account.address
    assert stored_reports(h, "b") == reports


def test_late_role_runs_once_not_once_per_missed_interval(
    harness_factory: Callable[..., Harness],
) -> None:
    h = harness_factory(roles=[HeartbeatRole(Heartbeat, interval_s=10)])
    assert h.runtime.run_due_roles() == 1
    h.clock.advance(95)  # the device slept through nine intervals
    assert h.runtime.run_due_roles() == 1
    h.clock.advance(9.999)
    assert h.runtime.run_due_roles() == 0
    h.clock.advance(0.001)
    assert h.runtime.run_due_roles() == 1


def test_seqs_continue_across_restarts(harness_factory: Callable[..., Harness]) -> None:
    first = harness_factory(roles=[HeartbeatRole(Heartbeat, interval_s=1)])
    first.runtime.run(max_ticks=5)
    made = first.runtime.outbox.next_seq()
    first.runtime.close()
    second = harness_factory(roles=[HeartbeatRole(Heartbeat, interval_s=1)], clock=first.clock)
    second.runtime.run(max_ticks=5)
    seqs = [r.seq for r in stored_reports(second)]
    assert seqs[0] == made and seqs == list(range(made, made + len(seqs)))


def test_epoch_label() -> None:
    assert epoch_at(0, genesis_ms=1000, length_s=60) == 0
    assert epoch_at(61_000, genesis_ms=1000, length_s=60) == 1
    assert epoch_at(60_999, genesis_ms=1000, length_s=60) == 0


class BadRole:
    name = "bad"
    interval_s = 1.0

    def __init__(self, draft: object) -> None:
        self.draft = draft

    def produce(self, ctx: RoleContext) -> list[ReportDraft]:
        return [ReportDraft("uptime", "heartbeat", Heartbeat(uptime_s=1)), self.draft]  # type: ignore[list-item]


class Huge(msgspec.Struct):
    blob: bytes


@pytest.mark.parametrize(
    "draft",
    [
        ("uptime", "heartbeat", {"uptime_s": 1}),  # body not a Struct
        ("uptime", Heartbeat(uptime_s=1)),  # not a triple
        ReportDraft("Bad Name!", "heartbeat", Heartbeat(uptime_s=1)),
        ReportDraft("uptime", "heartbeat", Huge(blob=b"x" * 20_000)),
    ],
)
def test_invalid_draft_stores_nothing(
    harness_factory: Callable[..., Harness], draft: object
) -> None:
    h = harness_factory(roles=[BadRole(draft)])
    with pytest.raises(RoleError):
        h.runtime.run_due_roles()
    assert h.runtime.outbox.report_count() == 0 and h.runtime.outbox.next_seq() == 0


def test_plain_tuples_are_drafts(harness_factory: Callable[..., Harness]) -> None:
    class TupleRole:
        name = "tuples"
        interval_s = 1.0

        def produce(self, ctx: RoleContext) -> list[tuple[str, str, msgspec.Struct]]:
            return [("uptime", "heartbeat", Heartbeat(uptime_s=7))]

    h = harness_factory(roles=[TupleRole()])
    assert h.runtime.run_due_roles() == 1


def test_run_until_delivered_and_stop(harness_factory: Callable[..., Harness]) -> None:
    h = harness_factory()
    h.runtime.enqueue([ReportDraft("uptime", "heartbeat", Heartbeat(uptime_s=0))] * 3)
    h.runtime.run(until_delivered=True)
    assert h.runtime.outbox.pending_total() == 0
    stop = threading.Event()
    stop.set()
    h.runtime.run(stop=stop)  # returns at once


def test_metrics_textfile(harness_factory: Callable[..., Harness], tmp_path: Path) -> None:
    from depinkit.agent.metrics import AgentMetrics

    h = harness_factory()
    h.runtime.metrics = AgentMetrics()
    h.runtime.config = msgspec.structs.replace(
        h.runtime.config,
        metrics=msgspec.structs.replace(
            h.runtime.config.metrics, textfile=str(tmp_path / "m.prom")
        ),
    )
    h.runtime.enqueue([ReportDraft("uptime", "heartbeat", Heartbeat(uptime_s=0))] * 3)
    h.runtime.refresh_metrics(force=True)
    text = (tmp_path / "m.prom").read_text()
    assert 'depinkit_agent_reports_pending{oracle="a"} 3.0' in text
    assert "depinkit_agent_next_seq 3.0" in text


def test_delivered_reports_are_pruned_after_retention(
    harness_factory: Callable[..., Harness],
) -> None:
    h = harness_factory()
    h.runtime.config = msgspec.structs.replace(
        h.runtime.config,
        outbox=msgspec.structs.replace(
            h.runtime.config.outbox, retention_s=60, prune_interval_s=30
        ),
    )
    h.runtime.enqueue([ReportDraft("uptime", "heartbeat", Heartbeat(uptime_s=0))] * 3)
    h.runtime.tick()  # delivered, but young
    assert h.runtime.outbox.report_count() == 3
    h.clock.advance(61)
    h.runtime.tick()
    assert h.runtime.outbox.report_count() == 0 and h.runtime.outbox.next_seq() == 3
