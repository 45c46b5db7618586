"""The worked example of docs/networks/README.md, loaded as written, through an entry point."""

from __future__ import annotations

import re
import sys
from importlib.metadata import EntryPoint
from pathlib import Path

import msgspec
import pytest

from depinkit.core.envelope import ReportDomain, report_id, sign_report
from depinkit.core.keys import Account, keccak256
from depinkit.networks import (
    ENTRY_POINT_GROUP,
    DeviceView,
    EpochContext,
    ReceivedReport,
    default_registry,
    run_module,
)

README = Path(__file__).resolve().parents[2] / "docs" / "networks" / "README.md"
DOMAIN = ReportDomain(chain_id=31337, registry="0x5FbDB2315678afecb367f032d93F642f64180aa3")
START_MS = 1_700_000_000_000


def example_source() -> str:
    """The first Python block of the worked example section."""
    section = README.read_text().split("## Worked example", 1)[1]
    match = re.search(r"```python\n(.*?)```", section, re.DOTALL)
    assert match is not None, "the worked example has no python block"
    return match.group(1)


def test_the_example_is_about_forty_lines() -> None:
    assert len(example_source().splitlines()) <= 45


def test_the_readme_example_registers_and_runs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "depinkit_weather.py").write_text(example_source())
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "depinkit_weather", raising=False)
    ep = EntryPoint(name="weather", value="depinkit_weather:WeatherModule", group=ENTRY_POINT_GROUP)
    registry = default_registry(plugins=lambda: [ep])
    assert registry.names() == ["uptime", "weather"]
    weather = registry.module("weather")
    assert weather.buckets == ("readings",)
    assert weather.resolve({}) == {"max_abs_mc": 60_000}
    reading = registry.body_type("weather", "reading")

    good, far, stranger = (Account.from_key(bytes([i]) * 32) for i in (7, 8, 9))

    def signed(account: Account, minute: int, mc: int, seq: int) -> ReceivedReport:
        report = sign_report(
            account,
            DOMAIN,
            network="weather",
            kind="reading",
            seq=seq,
            timestamp_ms=START_MS + minute * 60_000 + 1,
            epoch=7,
            body=reading(millicelsius=mc),
        )
        return ReceivedReport(id=report_id(DOMAIN, report), report=report)

    reports = [
        signed(good, 0, 21_500, 0),
        signed(good, 0, 21_600, 1),  # same minute: no extra point
        signed(good, 5, -3_000, 2),
        signed(far, 1, 99_000, 0),  # implausible
        signed(stranger, 2, 20_000, 0),  # not registered
    ]
    ctx = EpochContext(
        network="weather",
        epoch=7,
        start_ms=START_MS,
        end_ms=START_MS + 3_600_000,
        entropy=keccak256(b"block"),
        parameters=weather.resolve({"max_abs_mc": 0}),  # unset on chain: the default
        devices={a.address: DeviceView(owner=a.address, network="weather") for a in (good, far)},
    )
    verdicts, scores = run_module(weather, ctx, reports)
    assert scores == {"readings": {good.address: 2}}
    reasons = {v.report_id: v.reason for v in verdicts}
    assert reasons[reports[3].id] == "implausible"
    assert reasons[reports[4].id] == "unknown_device"
    assert run_module(weather, ctx, list(reversed(reports))) == (verdicts, scores)
    assert msgspec.json.encode(verdicts)  # verdicts serialise for the manifest as they are
