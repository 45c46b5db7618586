"""`depinkit coverage router | send`: bad input is one clear line and exit code 1.

Both commands working, as processes against anvil and the medium, are in
tests/networks/coverage/test_data_transfer.py.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from depinkit.cli import app

runner = CliRunner()
KEY_HEX = "00" * 15 + "01"


@pytest.mark.parametrize(
    ("devices", "message"),
    [
        ("[1, 2]", "must hold a JSON object"),
        (json.dumps({"26011f00": "0011"}), "16 bytes"),
        (json.dumps({"2601": KEY_HEX}), "devaddr must be 4 bytes"),
        ("{not json", "Expecting property name"),
    ],
)
def test_router_refuses_a_bad_devices_file(tmp_path: Path, devices: str, message: str) -> None:
    (tmp_path / "devices.json").write_text(devices)
    (tmp_path / "consumer.key").write_text("11" * 32)
    result = runner.invoke(
        app,
        [
            "coverage", "router", "--rpc", "http://127.0.0.1:9", "--deployment",
            str(tmp_path / "none.json"), "--devices", str(tmp_path / "devices.json"),
            "--key-file", str(tmp_path / "consumer.key"),
        ],
    )  # fmt: skip
    assert result.exit_code == 1 and message in result.output, result.output


def test_router_needs_exactly_one_consumer_key(tmp_path: Path) -> None:
    result = runner.invoke(
        app,
        [
            "coverage", "router", "--rpc", "http://127.0.0.1:9", "--deployment", "d.json",
            "--devices", "x.json",
        ],
    )  # fmt: skip
    assert result.exit_code == 1 and "exactly one of --keystore or --key-file" in result.output


def test_send_refuses_a_bad_key_and_never_reuses_a_frame_counter(tmp_path: Path) -> None:
    fcnt = tmp_path / "fcnt"
    base = ["coverage", "send", "--medium", "http://127.0.0.1:9", "--devaddr", "26011f00"]
    result = runner.invoke(app, [*base, "--key", "00" * 15, "--fcnt-file", str(fcnt)])
    assert result.exit_code == 1 and "session key must be 16 bytes" in result.output
    assert not fcnt.exists()
    # the medium is unreachable: the uplink is lost, its counter is spent all the same
    result = runner.invoke(app, [*base, "--key", KEY_HEX, "--fcnt-file", str(fcnt)])
    assert result.exit_code == 1 and "medium unreachable" in result.output
    assert fcnt.read_text().strip() == "1"
    result = runner.invoke(app, [*base, "--key", KEY_HEX, "--fcnt-file", str(fcnt)])
    assert fcnt.read_text().strip() == "2"
