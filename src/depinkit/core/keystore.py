"""Encrypted key files in the standard Ethereum keystore v3 format.

The standard format means a device or oracle key made by depinkit opens in
any Ethereum wallet tooling, and vice versa. Files are written 0600 and never
overwritten: losing a key to a mistyped ``--out`` would lose its rewards.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from depinkit.core.errors import KeystoreError

if TYPE_CHECKING:
    from depinkit.core.keys import Account

KEYSTORE_MODE = 0o600  # owner read/write only: the file guards a private key

MAX_KEYSTORE_BYTES = 64 * 1024  # bytes: a v3 keystore is under 1 KiB; refuse junk early

MAX_SCRYPT_N = 2**20  # work factor cap on load: 4x geth's standard 2**18, stops a hostile file
MAX_PBKDF2_ITERATIONS = 10_000_000  # same idea for pbkdf2 (geth-era files use 262,144)

Kdf = Literal["scrypt", "pbkdf2"]


def save_keystore(
    account: Account,
    path: str | os.PathLike[str],
    passphrase: str,
    *,
    kdf: Kdf = "scrypt",
    iterations: int | None = None,
) -> Path:
    """Encrypt ``account`` to ``path`` (mode 0600); refuse if ``path`` exists.

    ``iterations`` is the KDF work factor (scrypt ``n``, a power of two, or
    pbkdf2 rounds); ``None`` keeps eth-account's standard default. Only tests
    should lower it. The file appears atomically: it is written under a
    temporary name in the same directory and hard-linked into place, which
    fails rather than replaces when the target exists.
    """
    target = Path(path)
    if target.exists() or target.is_symlink():
        raise KeystoreError(f"refusing to overwrite existing file {target}")
    if not isinstance(passphrase, str):
        raise KeystoreError("passphrase must be text")
    from eth_account import Account as _EthAccount  # deferred: slow import, keys-only users

    try:
        document = _EthAccount.encrypt(
            account.private_key, passphrase, kdf=kdf, iterations=iterations
        )
    except ValueError as exc:  # bad kdf name or work factor
        raise KeystoreError(f"cannot encrypt keystore: {exc}") from exc
    data = json.dumps(document, sort_keys=True).encode("utf-8")

    directory = target.parent if str(target.parent) else Path(".")
    try:
        fd, tmp_name = tempfile.mkstemp(prefix=".keystore-", dir=directory)
    except OSError as exc:
        raise KeystoreError(f"cannot write keystore in {directory}: {exc}") from exc
    try:
        with os.fdopen(fd, "wb") as fh:
            os.fchmod(fh.fileno(), KEYSTORE_MODE)
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        try:
            os.link(tmp_name, target)
        except FileExistsError:
            raise KeystoreError(f"refusing to overwrite existing file {target}") from None
        except OSError as exc:
            raise KeystoreError(f"cannot write keystore {target}: {exc}") from exc
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp_name)
    return target


def load_keystore(path: str | os.PathLike[str], passphrase: str) -> Account:
    """Decrypt the keystore at ``path``; KeystoreError on any failure.

    Wrong passphrase, unreadable or corrupt file, unsupported version and
    absurd KDF work factors all raise KeystoreError, never a library error.
    """
    from depinkit.core.keys import Account  # deferred: keys re-exports this module

    target = Path(path)
    try:
        with target.open("rb") as fh:
            raw = fh.read(MAX_KEYSTORE_BYTES + 1)
    except OSError as exc:
        raise KeystoreError(f"cannot read keystore {target}: {exc}") from exc
    if len(raw) > MAX_KEYSTORE_BYTES:
        raise KeystoreError(f"keystore {target} is larger than {MAX_KEYSTORE_BYTES} bytes")
    try:
        document = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise KeystoreError(f"keystore {target} is not JSON") from exc
    _check_document(document)
    from eth_account import Account as _EthAccount  # deferred: slow import

    try:
        secret = _EthAccount.decrypt(document, passphrase)
    except Exception as exc:  # eth-keyfile raises ValueError, KeyError, TypeError, ...
        if "MAC mismatch" in str(exc):
            raise KeystoreError(f"wrong passphrase for keystore {target}") from exc
        raise KeystoreError(f"keystore {target} is corrupt: {exc}") from exc
    account = Account.from_key(bytes(secret))
    stored = document.get("address")
    if isinstance(stored, str) and stored.lower().removeprefix("0x") != account.address[2:].lower():
        raise KeystoreError(f"keystore {target} address does not match its key")
    return account


def read_keystore_address(path: str | os.PathLike[str]) -> str | None:
    """The address a keystore declares, without decrypting it (may be absent)."""
    target = Path(path)
    try:
        with target.open("rb") as fh:
            document = json.loads(fh.read(MAX_KEYSTORE_BYTES + 1))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise KeystoreError(f"cannot read keystore {target}: {exc}") from exc
    if not isinstance(document, dict):
        raise KeystoreError(f"keystore {target} is not a JSON object")
    stored = document.get("address")
    return stored if isinstance(stored, str) else None


def _check_document(document: Any) -> None:
    """Reject structurally wrong files and work factors that would hang us."""
    if not isinstance(document, dict) or document.get("version") != 3:
        raise KeystoreError("not an Ethereum v3 keystore")
    crypto = document.get("crypto", document.get("Crypto"))
    if not isinstance(crypto, dict):
        raise KeystoreError("keystore has no crypto section")
    params = crypto.get("kdfparams")
    if not isinstance(params, dict):
        raise KeystoreError("keystore has no kdfparams")
    kdf = crypto.get("kdf")
    if kdf == "scrypt":
        n = params.get("n")
        if not isinstance(n, int) or not 1 < n <= MAX_SCRYPT_N:
            raise KeystoreError(f"scrypt n must be an int in (1, {MAX_SCRYPT_N}]")
        r, p = params.get("r"), params.get("p")
        if not isinstance(r, int) or not isinstance(p, int) or not (0 < r <= 64 and 0 < p <= 16):
            raise KeystoreError("scrypt r/p out of range")
    elif kdf == "pbkdf2":
        c = params.get("c")
        if not isinstance(c, int) or not 0 < c <= MAX_PBKDF2_ITERATIONS:
            raise KeystoreError(f"pbkdf2 c must be an int in (0, {MAX_PBKDF2_ITERATIONS}]")
    else:
        raise KeystoreError(f"unsupported keystore kdf {kdf!r}")
