"""The witness checks split with a real worker process give exactly the one-process verdicts."""

from __future__ import annotations

import logging
import os

import msgspec
import pytest
from coverage_kit import ACCOUNTS, beacon, cell_at, context, received, witness

from depinkit.networks import ReceivedReport, Verdict
from depinkit.networks.coverage import module, split
from depinkit.networks.coverage.schemas import Witness
from depinkit.networks.coverage.sim import CityConfig, run_city

A = ACCOUNTS
CELLS = {a: cell_at(20 * (i % 4), 20 * (i // 4)) for i, a in enumerate(A[:8])}


def _reports() -> list[ReceivedReport]:
    """Beacons of four hotspots and witnesses of every kind of outcome, accepted or not."""
    reports = [beacon(a) for a in A[:4]]
    for beaconer in A[:4]:
        for i, listener in enumerate(A[:8]):
            if listener is beaconer:
                reports.append(witness(listener, beaconer))  # self_witness
                continue
            reports.append(witness(listener, beaconer, lag_ms=100 + i))
    reports.append(witness(A[5], A[0], lag_ms=50))  # a duplicate, earlier
    reports.append(witness(A[6], A[1], lag_ms=9_000))  # too late
    reports.append(witness(A[7], A[2], rssi_dbm10=-100))  # too strong
    reports.append(witness(A[1], A[9]))  # unknown beacon (and no location)
    late = witness(A[2], A[3])
    reports.append(
        received(
            A[2],
            "witness",
            Witness(
                *msgspec.structs.astuple(msgspec.msgpack.decode(late.report.body, type=Witness))
            ),
            10,
            epoch=99,
        )
    )  # wrong epoch
    malformed = msgspec.structs.replace(late.report, body=late.report.body[:-1])
    reports.append(ReceivedReport(id=b"\x01" * 32, report=malformed))
    return reports


def _die(payload: bytes) -> bytes:
    """Stands in for the worker's function: the process exits without an answer."""
    os._exit(3)


def _verdicts(reports: list[ReceivedReport]) -> list[Verdict]:
    return module().verify(context(CELLS), reports)


def test_split_verdicts_equal_the_single_process_ones(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    reports = _reports()
    alone = _verdicts(reports)
    assert {v.reason for v in alone} >= {
        "",
        "self_witness",
        "duplicate_witness",
        "witness_too_late",
        "unknown_beacon",
        "wrong_epoch",
        "malformed_body",
    }
    monkeypatch.setattr(split, "SPLIT_MIN_REPORTS", 2)  # a real spawned worker takes half
    with caplog.at_level(logging.WARNING, logger=split.__name__):
        assert _verdicts(list(reversed(reports))) == alone
    assert not caplog.records  # the worker answered: no fallback to checking here


def test_a_dead_worker_falls_back_to_checking_here(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    reports = _reports()
    alone = _verdicts(reports)
    monkeypatch.setattr(split, "SPLIT_MIN_REPORTS", 2)
    monkeypatch.setattr(split, "_check_in_worker", _die)  # the worker process dies
    with caplog.at_level(logging.WARNING, logger=split.__name__):
        assert _verdicts(reports) == alone
    assert "witness worker failed" in caplog.text


def test_cheater_detection_in_the_worker_gives_the_one_process_verdicts(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """A city with spoofers, a ring and a relayer: the worker's flags re-judge the beacons."""
    city = CityConfig(
        seed=5, honest=40, city_radius_m=5_000, spoofers=2, ring_size=4, relayers=1, epochs=2
    )
    alone = run_city(city).figures()
    assert alone["recall"] > 0.5  # new flags: beacons judged first without them are redone
    monkeypatch.setattr(split, "SPLIT_MIN_REPORTS", 2)
    with caplog.at_level(logging.WARNING, logger=split.__name__):
        assert run_city(city).figures() == alone
    assert not caplog.records


def test_a_worker_dying_before_detection_leaves_the_verdicts_unchanged(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    city = CityConfig(seed=5, honest=40, city_radius_m=5_000, spoofers=2, ring_size=4, epochs=1)
    alone = run_city(city).figures()
    monkeypatch.setattr(split, "SPLIT_MIN_REPORTS", 2)
    monkeypatch.setattr(split, "_graph_in_worker", _die)
    with caplog.at_level(logging.WARNING, logger=split.__name__):
        assert run_city(city).figures() == alone
    assert "witness worker failed" in caplog.text
