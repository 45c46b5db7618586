"""Keystores: standard Ethereum v3 files, 0600, never overwritten, clear errors."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest
from eth_account import Account as EthAccount

from depinkit.core.errors import KeystoreError
from depinkit.core.keys import Account, load_keystore, save_keystore
from depinkit.core.keystore import read_keystore_address

FAST_N = 2**4  # scrypt work factor for tests only: milliseconds instead of seconds
STANDARD_SCRYPT_N = 2**18  # eth-account / geth standard, what the CLI writes


def test_round_trip_and_file_mode(tmp_path: Path) -> None:
    account = Account.generate()
    path = save_keystore(account, tmp_path / "device.json", "correct horse", iterations=FAST_N)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert load_keystore(path, "correct horse") == account
    assert load_keystore(path, "correct horse").private_key == account.private_key
    assert read_keystore_address(path) is not None
    assert list(tmp_path.iterdir()) == [path]  # no temporary file left behind


def test_file_is_standard_v3_readable_by_eth_account(tmp_path: Path) -> None:
    account = Account.generate()
    path = save_keystore(account, tmp_path / "k.json", "pw", iterations=FAST_N)
    document = json.loads(path.read_text())
    assert document["version"] == 3
    assert document["crypto"]["kdf"] == "scrypt"
    assert document["crypto"]["kdfparams"]["n"] == FAST_N
    assert bytes(EthAccount.decrypt(document, "pw")) == account.private_key


def test_eth_account_keystore_loads(tmp_path: Path) -> None:
    key = b"\x42" * 32
    for kdf in ("scrypt", "pbkdf2"):
        path = tmp_path / f"{kdf}.json"
        path.write_text(json.dumps(EthAccount.encrypt(key, "pw", kdf=kdf, iterations=16)))
        assert load_keystore(path, "pw") == Account.from_key(key)


def test_pbkdf2_round_trip(tmp_path: Path) -> None:
    account = Account.generate()
    path = save_keystore(account, tmp_path / "k.json", "pw", kdf="pbkdf2", iterations=16)
    assert json.loads(path.read_text())["crypto"]["kdf"] == "pbkdf2"
    assert load_keystore(path, "pw") == account


@pytest.mark.slow
def test_default_work_factor_is_standard_scrypt(tmp_path: Path) -> None:
    path = save_keystore(Account.generate(), tmp_path / "k.json", "pw")
    assert json.loads(path.read_text())["crypto"]["kdfparams"]["n"] == STANDARD_SCRYPT_N


def test_wrong_passphrase_raises_keystore_error(tmp_path: Path) -> None:
    path = save_keystore(Account.generate(), tmp_path / "k.json", "right", iterations=FAST_N)
    with pytest.raises(KeystoreError, match="wrong passphrase"):
        load_keystore(path, "wrong")


def test_never_overwrites(tmp_path: Path) -> None:
    first = Account.generate()
    path = save_keystore(first, tmp_path / "k.json", "pw", iterations=FAST_N)
    before = path.read_bytes()
    with pytest.raises(KeystoreError, match="overwrite"):
        save_keystore(Account.generate(), path, "pw", iterations=FAST_N)
    assert path.read_bytes() == before
    assert load_keystore(path, "pw") == first


def test_never_overwrites_any_existing_file_or_symlink(tmp_path: Path) -> None:
    other = tmp_path / "precious.txt"
    other.write_text("keep me")
    with pytest.raises(KeystoreError):
        save_keystore(Account.generate(), other, "pw", iterations=FAST_N)
    link = tmp_path / "link.json"
    link.symlink_to(tmp_path / "dangling-target")
    with pytest.raises(KeystoreError):
        save_keystore(Account.generate(), link, "pw", iterations=FAST_N)
    assert other.read_text() == "keep me"
    assert not (tmp_path / "dangling-target").exists()


def test_missing_directory_raises_keystore_error(tmp_path: Path) -> None:
    with pytest.raises(KeystoreError):
        save_keystore(Account.generate(), tmp_path / "no" / "k.json", "pw", iterations=FAST_N)


def test_bad_work_factor_raises_keystore_error(tmp_path: Path) -> None:
    with pytest.raises(KeystoreError):
        save_keystore(Account.generate(), tmp_path / "k.json", "pw", iterations=3)
    assert not (tmp_path / "k.json").exists()


def _valid_document(tmp_path: Path) -> dict:  # type: ignore[type-arg]
    path = save_keystore(Account.generate(), tmp_path / "v.json", "pw", iterations=FAST_N)
    return json.loads(path.read_text())  # type: ignore[no-any-return]


@pytest.mark.parametrize(
    "corrupt",
    [
        pytest.param(lambda d: b"", id="empty"),
        pytest.param(lambda d: b"\xff\xfe not json", id="not-utf8"),
        pytest.param(lambda d: b"{", id="truncated-json"),
        pytest.param(lambda d: b"[]", id="json-array"),
        pytest.param(lambda d: b" " * (65 * 1024), id="oversized"),
        pytest.param(lambda d: {**d, "version": 2}, id="version-2"),
        pytest.param(lambda d: {k: v for k, v in d.items() if k != "crypto"}, id="no-crypto"),
        pytest.param(lambda d: {**d, "crypto": {**d["crypto"], "kdf": "argon2"}}, id="kdf"),
        pytest.param(
            lambda d: {**d, "crypto": {**d["crypto"], "kdfparams": None}}, id="no-kdfparams"
        ),
        pytest.param(
            lambda d: {
                **d,
                "crypto": {**d["crypto"], "kdfparams": {**d["crypto"]["kdfparams"], "n": 2**30}},
            },
            id="absurd-scrypt-n",
        ),
        pytest.param(
            lambda d: {**d, "crypto": {**d["crypto"], "ciphertext": "zz"}}, id="bad-ciphertext"
        ),
        pytest.param(lambda d: {**d, "crypto": {**d["crypto"], "mac": "00" * 32}}, id="bad-mac"),
        pytest.param(lambda d: {**d, "address": "11" * 20}, id="address-mismatch"),
    ],
)
def test_corrupt_keystore_raises_keystore_error(tmp_path: Path, corrupt) -> None:  # type: ignore[no-untyped-def]
    content = corrupt(_valid_document(tmp_path))
    path = tmp_path / "bad.json"
    path.write_bytes(content if isinstance(content, bytes) else json.dumps(content).encode())
    with pytest.raises(KeystoreError):
        load_keystore(path, "pw")


def test_missing_file_raises_keystore_error(tmp_path: Path) -> None:
    with pytest.raises(KeystoreError):
        load_keystore(tmp_path / "absent.json", "pw")
    with pytest.raises(KeystoreError):
        read_keystore_address(tmp_path / "absent.json")
