"""`depinkit compute`: run, submit/status/result/cancel and bad input, against real provider
processes on 127.0.0.1 (``python -m depinkit.networks.compute.provider``), all stopped at the
end of the module."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from depinkit.cli.compute import app
from depinkit.core.keys import Account
from depinkit.core.keystore import save_keystore
from depinkit.networks.compute.example_modules import example_module
from depinkit.networks.compute.jobs import Job, JobLimits
from depinkit.networks.compute.provider_client import ProviderClient
from depinkit.networks.compute.provider_process import ProviderProcess, start_providers
from depinkit.networks.compute.runner import Runner

CHAIN = ("--chain-id", "31337", "--registry", "0x" + "00" * 20)  # the providers' default
NO_VERIFY = ("--verify-below-tier", "0", "--verify-ppm", "0")
FRAME = ["3", "48", "32", "150"]  # render: frame, width, height, iterations (~2e6 fuel)
WAIT_S = 120.0  # seconds a test waits for a worker at most (a loaded CI machine)


@pytest.fixture(scope="module")
def providers() -> Iterator[list[ProviderProcess]]:
    started = start_providers(2)
    try:
        yield started
    finally:
        for p in started:
            p.stop()


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("compute-cli")
    render = root / "render.wasm"
    render.write_bytes(example_module("render"))
    key = root / "consumer.hex"
    key.write_text(Account.generate().private_key.hex() + "\n")
    bad = root / "bad.wasm"
    bad.write_bytes(b"\0asm\x01\0\0\0\xff\xff garbage")
    text = root / "notes.txt"
    text.write_text("not a module")
    return {"render": render, "key": key, "bad": bad, "text": text, "root": root}


@pytest.fixture
def runner(monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    monkeypatch.delenv("DEPINKIT_PASSPHRASE", raising=False)
    return CliRunner()


def _direct(render: Path, args: list[str]) -> dict[str, bytes]:
    """The frame rendered in this process: what the network must reproduce byte for byte."""
    limits = JobLimits(
        fuel=10**10, memory_bytes=256 * 1024 * 1024, wall_ms=120_000, output_bytes=64 * 1024 * 1024
    )
    job = Job(module=render.read_bytes(), args=["render", *args], inputs={}, limits=limits)
    return dict(Runner().execute(job).outputs)


def _args(*values: str) -> list[str]:
    out: list[str] = []
    for v in values:
        out += ["--arg", v]
    return out


def _urls(providers: list[ProviderProcess]) -> list[str]:
    out: list[str] = []
    for p in providers:
        out += ["--provider", p.url]
    return out


def test_run_writes_the_frame_and_the_bill(
    runner: CliRunner, providers: list[ProviderProcess], files: dict[str, Path], tmp_path: Path
) -> None:
    out = tmp_path / "out"
    argv = ["run", str(files["render"]), *_args(*FRAME), "--key-file", str(files["key"])]
    argv += [*_urls(providers[:1]), "--out", str(out), *CHAIN, *NO_VERIFY]
    result = runner.invoke(app, argv)
    assert result.exit_code == 0, result.output
    expected = _direct(files["render"], FRAME)
    assert {p.name: p.read_bytes() for p in out.iterdir()} == expected
    assert "fuel used" in result.stderr and "paid" in result.stderr
    assert str(out / "frame-00003.ppm") in result.stdout
    # the CLI hands the provider its receipt (its agent reports it)
    with ProviderClient(providers[0].url, _domain()) as client:
        assert client.receipts(), "the provider holds no receipt"


def test_run_with_verification_uses_two_providers(
    runner: CliRunner, providers: list[ProviderProcess], files: dict[str, Path], tmp_path: Path
) -> None:
    out = tmp_path / "out"
    argv = ["run", str(files["render"]), *_args(*FRAME), "--key-file", str(files["key"])]
    argv += [*_urls(providers), "--out", str(out), *CHAIN, "--verify-ppm", "1000000"]
    result = runner.invoke(app, argv)
    assert result.exit_code == 0, result.output
    assert "verified by a re-run" in result.stderr
    assert (out / "frame-00003.ppm").read_bytes() == _direct(files["render"], FRAME)[
        "frame-00003.ppm"
    ]


def test_run_with_a_keystore(
    runner: CliRunner, providers: list[ProviderProcess], files: dict[str, Path], tmp_path: Path
) -> None:
    keystore = tmp_path / "consumer.json"
    save_keystore(Account.generate(), keystore, "pw", iterations=16)
    pw = tmp_path / "pw"
    pw.write_text("pw\n")
    argv = ["run", str(files["render"]), *_args(*FRAME), "--keystore", str(keystore)]
    argv += ["--passphrase-file", str(pw), *_urls(providers[:1]), "--out", str(tmp_path / "o")]
    result = runner.invoke(app, [*argv, *CHAIN, *NO_VERIFY])
    assert result.exit_code == 0, result.output


def _domain():  # type: ignore[no-untyped-def]
    from depinkit.networks.compute.provider import DEVNET_DOMAIN

    return DEVNET_DOMAIN


@pytest.mark.parametrize(
    ("case", "code", "message"),
    [
        ("not_wasm", 2, "is not a WebAssembly binary module"),
        ("invalid_wasm", 2, "is not a valid WebAssembly module"),
        ("missing_module", 2, "is not a file"),
        ("missing_input", 2, "input"),
        ("no_key", 2, "exactly one of --keystore or --key-file"),
        ("no_provider", 2, "no providers"),
        ("unreachable", 1, "no provider reachable"),
        ("ceiling", 1, "below every provider's price"),
        ("needs_second", 1, "second provider"),
        ("fuel", 1, "fuel_exhausted"),
    ],
)
def test_bad_input_is_one_clear_line(
    runner: CliRunner,
    providers: list[ProviderProcess],
    files: dict[str, Path],
    tmp_path: Path,
    case: str,
    code: int,
    message: str,
) -> None:
    module, key = str(files["render"]), ["--key-file", str(files["key"])]
    urls, extra = _urls(providers[:1]), [*NO_VERIFY]
    args = _args(*FRAME)
    if case == "not_wasm":
        module = str(files["text"])
    elif case == "invalid_wasm":
        module = str(files["bad"])
    elif case == "missing_module":
        module = str(tmp_path / "nope.wasm")
    elif case == "missing_input":
        extra += ["--input", str(tmp_path / "nope.csv")]
    elif case == "no_key":
        key = []
    elif case == "no_provider":
        urls = []
    elif case == "unreachable":
        urls = ["--provider", "http://127.0.0.1:9"]  # discard port: nobody listens
    elif case == "ceiling":
        extra += ["--max-price", "5"]  # the providers ask 100
    elif case == "needs_second":
        extra = []  # every provider is tier 0 to this client: all jobs are re-run
    elif case == "fuel":
        extra += ["--fuel", "100000"]
    argv = ["run", module, *args, *key, *urls, "--out", str(tmp_path / "o"), *CHAIN, *extra]
    result = runner.invoke(app, argv)
    assert result.exit_code == code, result.output
    assert message in result.stderr
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    if case == "fuel":  # ended cleanly: the consumer pays exactly the limit
        assert "fuel used 100,000, paid 10 nanocredits" in result.stderr


def _wait_state(runner: CliRunner, home: Path, ident: str, states: set[str]) -> dict[str, object]:
    deadline = time.monotonic() + WAIT_S
    while True:
        result = runner.invoke(app, ["status", ident, "--home", str(home), "--json"])
        assert result.exit_code == 0, result.output
        shown: dict[str, object] = json.loads(result.stdout)
        if shown["state"] in states:
            return shown
        assert time.monotonic() < deadline, f"job stuck in {shown['state']}"
        time.sleep(0.05)


def test_submit_status_result(
    runner: CliRunner, providers: list[ProviderProcess], files: dict[str, Path], tmp_path: Path
) -> None:
    home = tmp_path / "home"
    argv = ["submit", str(files["render"]), *_args("4", *FRAME[1:]), "--key-file"]
    argv += [str(files["key"]), *_urls(providers), "--home", str(home), *CHAIN, *NO_VERIFY]
    submitted = runner.invoke(app, argv)
    assert submitted.exit_code == 0, submitted.output
    ident = submitted.stdout.strip()
    assert len(ident) == 64
    again = runner.invoke(app, argv)  # the same job while it runs, or after: refused or rerun
    assert again.exit_code in (0, 1)
    shown = _wait_state(runner, home, ident[:10], {"done", "failed", "cancelled"})
    assert shown["state"] == "done", shown
    assert isinstance(shown["fuel_used"], int) and shown["fuel_used"] > 0
    assert isinstance(shown["paid"], int) and shown["paid"] > 0
    out = tmp_path / "out"
    fetched = runner.invoke(app, ["result", ident, "--home", str(home), "--out", str(out)])
    assert fetched.exit_code == 0, fetched.output
    expected = _direct(files["render"], ["4", *FRAME[1:]])
    assert {p.name: p.read_bytes() for p in out.iterdir()} == expected
    assert "paid" in fetched.stderr
    record = json.loads((home / "jobs" / f"{ident}.json").read_text())
    assert record["outcome"]["job_id"]  # the JobOutcome, as JSON
    missing = runner.invoke(app, ["status", "ab" * 8, "--home", str(home)])
    assert missing.exit_code == 1 and "no job" in missing.stderr
    garbage = runner.invoke(app, ["status", "xyz", "--home", str(home)])
    assert garbage.exit_code == 2 and "not a job id" in garbage.stderr


def test_cancel_stops_the_worker(
    runner: CliRunner, providers: list[ProviderProcess], files: dict[str, Path], tmp_path: Path
) -> None:
    home = tmp_path / "home"
    long = ["5", "640", "480", "100000"]  # runs until the 2-minute wall limit stops it
    argv = ["submit", str(files["render"]), *_args(*long), "--key-file", str(files["key"])]
    argv += [*_urls(providers[1:]), "--home", str(home), "--wall-ms", "120000"]
    argv += ["--fuel", str(10**13), *CHAIN, *NO_VERIFY]
    submitted = runner.invoke(app, argv)
    assert submitted.exit_code == 0, submitted.output
    ident = submitted.stdout.strip()
    _wait_state(runner, home, ident, {"running"})
    with ProviderClient(providers[1].url, _domain()) as client:
        deadline = time.monotonic() + WAIT_S
        while client.info().running == 0:  # the request may still be on its way
            assert time.monotonic() < deadline, "the job never reached the provider"
            time.sleep(0.05)
    pid = json.loads((home / "jobs" / f"{ident}.json").read_text())["pid"]
    cancelled = runner.invoke(app, ["cancel", ident, "--home", str(home)])
    assert cancelled.exit_code == 0, cancelled.output
    assert cancelled.stdout.strip() == f"{ident} cancelled"
    shown = _wait_state(runner, home, ident, {"cancelled"})
    assert shown["state"] == "cancelled"
    assert "stopped on its provider" in str(shown["error"])  # the provider confirmed it
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
    with ProviderClient(providers[1].url, _domain()) as client:
        assert client.info().running == 0  # the run was stopped on the provider
        assert all(c.job_id.hex() != ident for c in client.claims())  # nothing signed: unpaid
    result = runner.invoke(app, ["result", ident, "--home", str(home)])
    assert result.exit_code == 1 and "cancelled" in result.stderr
    twice = runner.invoke(app, ["cancel", ident, "--home", str(home)])
    assert twice.exit_code == 1 and "already ended" in twice.stderr


def test_ctrl_c_on_run_stops_the_run_on_the_provider(
    providers: list[ProviderProcess], files: dict[str, Path], tmp_path: Path
) -> None:
    long = ["6", "640", "480", "100000"]  # runs until the 2-minute wall limit stops it
    argv = [sys.executable, "-m", "depinkit", "compute", "run", str(files["render"])]
    argv += [*_args(*long), "--key-file", str(files["key"]), *_urls(providers[1:])]
    argv += ["--wall-ms", "120000", "--fuel", str(10**13), *CHAIN, *NO_VERIFY]
    argv += ["--out", str(tmp_path / "out")]
    with ProviderClient(providers[1].url, _domain()) as client:
        before = {c.lease for c in client.claims()}
        process = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        try:
            deadline = time.monotonic() + WAIT_S
            while client.info().running == 0:
                assert process.poll() is None, process.communicate()
                assert time.monotonic() < deadline, "the job never reached the provider"
                time.sleep(0.05)
            process.send_signal(signal.SIGINT)
            _, err = process.communicate(timeout=WAIT_S)
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()
        assert process.returncode != 0, err
        assert client.info().running == 0  # stopped on the provider, not left running
        assert {c.lease for c in client.claims()} == before  # nothing signed: unpaid
    assert not (tmp_path / "out").exists()


def test_provider_passes_arguments_through(runner: CliRunner) -> None:
    result = runner.invoke(app, ["provider", "--help"])
    assert result.exit_code == 0
    assert "--price-per-mfuel" in result.stdout
