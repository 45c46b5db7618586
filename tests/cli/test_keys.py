"""`depinkit keys new|show`: passphrase sources, file safety, no private key output."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from depinkit.cli.keys import PASSPHRASE_ENV, app
from depinkit.core.keystore import load_keystore

FAST = ["--kdf-work", "16"]  # scrypt n for throwaway test keys; the CLI default is 2**18


@pytest.fixture
def runner(monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    monkeypatch.delenv(PASSPHRASE_ENV, raising=False)
    return CliRunner()


def _new(runner: CliRunner, out: Path, *args: str, **kwargs: object) -> dict[str, str]:
    result = runner.invoke(app, ["new", "--out", str(out), *FAST, "--json", *args], **kwargs)  # type: ignore[arg-type]
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)  # type: ignore[no-any-return]


def test_new_with_passphrase_file_then_show(runner: CliRunner, tmp_path: Path) -> None:
    pw = tmp_path / "pw.txt"
    pw.write_text("correct horse battery staple\n")
    out = tmp_path / "device.json"
    created = _new(runner, out, "--passphrase-file", str(pw))
    assert created["path"] == str(out)
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    account = load_keystore(out, "correct horse battery staple")  # newline stripped
    assert account.address == created["address"]

    shown = runner.invoke(app, ["show", str(out), "--passphrase-file", str(pw), "--json"])
    assert shown.exit_code == 0, shown.output
    assert json.loads(shown.stdout) == {
        "address": account.address,
        "public_key": "0x" + account.public_key.hex(),
    }
    text = runner.invoke(app, ["show", str(out), "--passphrase-file", str(pw)])
    assert account.address in text.stdout
    for output in (shown.output, text.output):
        assert account.private_key.hex() not in output


def test_passphrase_from_environment(runner: CliRunner, tmp_path: Path) -> None:
    out = tmp_path / "k.json"
    created = _new(runner, out, env={PASSPHRASE_ENV: "from-env"})
    assert load_keystore(out, "from-env").address == created["address"]


def test_passphrase_file_wins_over_environment(runner: CliRunner, tmp_path: Path) -> None:
    pw = tmp_path / "pw"
    pw.write_text("from-file")
    out = tmp_path / "k.json"
    _new(runner, out, "--passphrase-file", str(pw), env={PASSPHRASE_ENV: "from-env"})
    load_keystore(out, "from-file")


def test_interactive_prompt_with_confirmation(runner: CliRunner, tmp_path: Path) -> None:
    out = tmp_path / "k.json"
    result = runner.invoke(app, ["new", "--out", str(out), *FAST], input="s3cret\ns3cret\n")
    assert result.exit_code == 0, result.output
    assert "s3cret" not in result.output  # hidden input is not echoed
    load_keystore(out, "s3cret")
    shown = runner.invoke(app, ["show", str(out)], input="s3cret\n")
    assert shown.exit_code == 0 and "address:" in shown.stdout


def test_prompt_mismatch_is_asked_again(runner: CliRunner, tmp_path: Path) -> None:
    out = tmp_path / "k.json"
    result = runner.invoke(app, ["new", "--out", str(out), *FAST], input="one\ntwo\nthree\nthree\n")
    assert result.exit_code == 0, result.output
    load_keystore(out, "three")


def test_refuses_to_overwrite(runner: CliRunner, tmp_path: Path) -> None:
    out = tmp_path / "k.json"
    _new(runner, out, env={PASSPHRASE_ENV: "a"})
    before = out.read_bytes()
    result = runner.invoke(app, ["new", "--out", str(out), *FAST], env={PASSPHRASE_ENV: "b"})
    assert result.exit_code == 1
    assert "refusing to overwrite" in result.stderr
    assert out.read_bytes() == before


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--kdf-work", "1000"], "power of two"),
        (["--passphrase-file", "{tmp}/absent"], "cannot read passphrase file"),
    ],
)
def test_new_bad_options(runner: CliRunner, tmp_path: Path, args: list[str], message: str) -> None:
    out = tmp_path / "k.json"
    argv = ["new", "--out", str(out), *[a.format(tmp=tmp_path) for a in args]]
    result = runner.invoke(app, argv, env={PASSPHRASE_ENV: "x"})
    assert result.exit_code == 1
    assert message in result.stderr
    assert not out.exists()


def test_empty_passphrase_is_refused(runner: CliRunner, tmp_path: Path) -> None:
    out = tmp_path / "k.json"
    result = runner.invoke(app, ["new", "--out", str(out), *FAST], env={PASSPHRASE_ENV: ""})
    assert result.exit_code == 1 and "empty" in result.stderr
    assert not out.exists()


def test_show_wrong_passphrase_and_bad_files(runner: CliRunner, tmp_path: Path) -> None:
    out = tmp_path / "k.json"
    _new(runner, out, env={PASSPHRASE_ENV: "right"})
    wrong = runner.invoke(app, ["show", str(out)], env={PASSPHRASE_ENV: "wrong"})
    assert wrong.exit_code == 1 and "wrong passphrase" in wrong.stderr
    missing = runner.invoke(app, ["show", str(tmp_path / "nope.json")], env={PASSPHRASE_ENV: "x"})
    assert missing.exit_code == 1 and "not a file" in missing.stderr
    junk = tmp_path / "junk.json"
    junk.write_text("{}")
    corrupt = runner.invoke(app, ["show", str(junk)], env={PASSPHRASE_ENV: "x"})
    assert corrupt.exit_code == 1 and "v3 keystore" in corrupt.stderr


def test_real_process_through_the_mounted_command(tmp_path: Path) -> None:
    # One real process (importing the whole CLI is slow); CliRunner covers the rest.
    env = {**os.environ, PASSPHRASE_ENV: "proc-pass"}
    out = tmp_path / "k.json"
    created = subprocess.run(
        [sys.executable, "-m", "depinkit", "keys", "new", "--out", str(out), *FAST, "--json"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    assert json.loads(created.stdout)["address"] == load_keystore(out, "proc-pass").address
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
