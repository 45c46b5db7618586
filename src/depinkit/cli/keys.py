"""`depinkit keys ...`: create and inspect encrypted secp256k1 keystores.

The passphrase never appears on the command line (it would land in shell
history and ``ps``): it comes from ``--passphrase-file``, the
``DEPINKIT_PASSPHRASE`` environment variable, or a hidden prompt, in that
order. The private key is never printed.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from depinkit.cli.passphrase import PASSPHRASE_ENV, PassphraseError, read_passphrase
from depinkit.core.errors import KeystoreError
from depinkit.core.keys import Account
from depinkit.core.keystore import load_keystore, save_keystore

STANDARD_SCRYPT_N = 2**18  # geth/eth-account standard: about a second per unlock, by design

app = typer.Typer(no_args_is_help=True)

PassphraseFile = Annotated[
    Path | None,
    typer.Option(
        "--passphrase-file",
        help=f"Read the passphrase from this file (first line). Else ${PASSPHRASE_ENV}, "
        "else a hidden prompt.",
        dir_okay=False,
    ),
]
JsonOutput = Annotated[bool, typer.Option("--json", help="Print JSON instead of text.")]


def _fail(message: str) -> typer.Exit:
    typer.secho(f"error: {message}", fg=typer.colors.RED, err=True)
    return typer.Exit(code=1)


def _read_passphrase(passphrase_file: Path | None, *, confirm: bool) -> str:
    try:
        return read_passphrase(passphrase_file, confirm=confirm)
    except PassphraseError as exc:
        raise _fail(str(exc)) from exc


@app.command()
def new(
    out: Annotated[
        Path,
        typer.Option(
            "--out", "-o", help="Where to write the keystore (must not exist).", dir_okay=False
        ),
    ],
    passphrase_file: PassphraseFile = None,
    kdf_work: Annotated[
        int,
        typer.Option(
            "--kdf-work",
            help="scrypt work factor n (a power of two). Keep the standard default "
            "except for throwaway keys.",
            min=2,
        ),
    ] = STANDARD_SCRYPT_N,
    as_json: JsonOutput = False,
) -> None:
    """Generate a new key and save it as an encrypted Ethereum v3 keystore (mode 0600)."""
    if kdf_work & (kdf_work - 1):
        raise _fail("--kdf-work must be a power of two")
    if out.exists() or out.is_symlink():
        raise _fail(f"{out} already exists; refusing to overwrite a keystore")
    passphrase = _read_passphrase(passphrase_file, confirm=True)
    if not passphrase:
        raise _fail("the passphrase must not be empty")
    account = Account.generate()
    try:
        path = save_keystore(account, out, passphrase, iterations=kdf_work)
    except KeystoreError as exc:
        raise _fail(str(exc)) from exc
    if as_json:
        typer.echo(json.dumps({"address": account.address, "path": str(path)}))
    else:
        typer.echo(f"address: {account.address}")
        typer.echo(f"keystore: {path}")


@app.command()
def show(
    path: Annotated[Path, typer.Argument(help="Keystore file.", dir_okay=False)],
    passphrase_file: PassphraseFile = None,
    as_json: JsonOutput = False,
) -> None:
    """Decrypt a keystore and print its address and public key (never the private key)."""
    if not path.is_file():
        raise _fail(f"{path} is not a file")
    passphrase = _read_passphrase(passphrase_file, confirm=False)
    try:
        account = load_keystore(path, passphrase)
    except KeystoreError as exc:
        raise _fail(str(exc)) from exc
    public_key = "0x" + account.public_key.hex()
    if as_json:
        typer.echo(json.dumps({"address": account.address, "public_key": public_key}))
    else:
        typer.echo(f"address: {account.address}")
        typer.echo(f"public key: {public_key}")
