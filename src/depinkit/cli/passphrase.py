"""The one way every command unlocks a keystore: a file, the environment, or a prompt."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Final

import typer

from depinkit.core.errors import DepinkitError

PASSPHRASE_ENV: Final[str] = "DEPINKIT_PASSPHRASE"  # read when no passphrase file is given
MAX_PASSPHRASE_FILE_BYTES: Final[int] = 4096  # bytes: a passphrase file is one line, not a document


class PassphraseError(DepinkitError):
    """The passphrase file cannot be used."""


def read_passphrase(passphrase_file: Path | None, *, confirm: bool = False) -> str:
    """First line of ``passphrase_file``; else $DEPINKIT_PASSPHRASE; else a hidden prompt."""
    if passphrase_file is not None:
        try:
            with passphrase_file.open("rb") as fh:
                raw = fh.read(MAX_PASSPHRASE_FILE_BYTES + 1)
        except OSError as exc:
            raise PassphraseError(f"cannot read passphrase file {passphrase_file}: {exc}") from exc
        if len(raw) > MAX_PASSPHRASE_FILE_BYTES:
            raise PassphraseError(
                f"passphrase file is larger than {MAX_PASSPHRASE_FILE_BYTES} bytes"
            )
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise PassphraseError("passphrase file is not UTF-8") from exc
        lines = text.splitlines()
        return lines[0] if lines else ""
    from_env = os.environ.get(PASSPHRASE_ENV)
    if from_env is not None:
        return from_env
    value: str = typer.prompt("Passphrase", hide_input=True, confirmation_prompt=confirm, err=True)
    return value
