"""Keys and signatures: our layout must interoperate with eth-account and ecrecover."""

from __future__ import annotations

import contextlib

import pytest
from eth_account import Account as EthAccount
from eth_keys import keys as eth_keys
from eth_utils import to_checksum_address
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from depinkit.core.errors import DepinkitError, InvalidAddress, InvalidKey, InvalidSignature
from depinkit.core.keys import (
    SECP256K1_HALF_N,
    SECP256K1_N,
    Account,
    address_bytes,
    is_address,
    is_checksummed,
    keccak256,
    recover_address,
    recover_address_bytes,
    to_checksum,
)

private_keys = st.integers(min_value=1, max_value=SECP256K1_N - 1).map(
    lambda k: k.to_bytes(32, "big")
)
digests = st.binary(min_size=32, max_size=32)


def _split(sig: bytes) -> tuple[int, int, int]:
    return int.from_bytes(sig[:32], "big"), int.from_bytes(sig[32:64], "big"), sig[64]


def _join(r: int, s: int, v: int) -> bytes:
    return r.to_bytes(32, "big") + s.to_bytes(32, "big") + bytes((v,))


def test_keccak256_is_ethereum_keccak_not_sha3() -> None:
    # The well-known keccak256 of the empty string (differs from NIST SHA3-256).
    assert keccak256(b"").hex() == (
        "c5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470"
    )


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(key=private_keys)
def test_address_and_public_key_match_eth_account(key: bytes) -> None:
    ours = Account.from_key(key)
    theirs = EthAccount.from_key(key)
    assert ours.address == theirs.address
    assert ours.public_key == b"\x04" + eth_keys.PrivateKey(key).public_key.to_bytes()
    assert ours.private_key == key
    assert Account.from_key("0x" + key.hex()) == ours
    assert Account.from_key(key.hex()) == ours


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(key=private_keys, digest=digests)
def test_our_signature_recovers_with_eth_account_and_eth_keys(key: bytes, digest: bytes) -> None:
    account = Account.from_key(key)
    sig = account.sign_digest(digest)
    assert len(sig) == 65
    r, s, v = _split(sig)
    assert v in (27, 28)
    assert 0 < s <= SECP256K1_HALF_N
    assert recover_address(digest, sig) == account.address
    assert EthAccount._recover_hash(digest, signature=sig) == account.address
    recovered = eth_keys.Signature(vrs=(v - 27, r, s)).recover_public_key_from_msg_hash(digest)
    assert recovered.to_checksum_address() == account.address


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(key=private_keys, digest=digests)
def test_eth_account_signature_recovers_with_ours(key: bytes, digest: bytes) -> None:
    signed = EthAccount.from_key(key).unsafe_sign_hash(digest)
    assert recover_address(digest, bytes(signed.signature)) == Account.from_key(key).address


def test_signatures_are_deterministic_rfc6979() -> None:
    account = Account.from_key(b"\x07" * 32)
    digest = keccak256(b"hello")
    assert account.sign_digest(digest) == account.sign_digest(digest)
    assert account.sign_digest(digest) == bytes(
        EthAccount.from_key(b"\x07" * 32).unsafe_sign_hash(digest).signature
    )


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(key=private_keys, digest=digests)
def test_high_s_twin_is_rejected_though_mathematically_valid(key: bytes, digest: bytes) -> None:
    sig = Account.from_key(key).sign_digest(digest)
    r, s, v = _split(sig)
    twin = _join(r, SECP256K1_N - s, 55 - v)  # the malleable twin: (r, n - s, flipped v)
    # eth_keys accepts the twin and recovers the same key: it is a real signature...
    twin_vrs = eth_keys.Signature(vrs=(twin[64] - 27, r, SECP256K1_N - s))
    assert twin_vrs.recover_public_key_from_msg_hash(digest).to_checksum_address() == (
        Account.from_key(key).address
    )
    # ...but we refuse it, as OpenZeppelin ECDSA does.
    with pytest.raises(InvalidSignature, match="high"):
        recover_address(digest, twin)


@pytest.mark.parametrize(
    "mutate",
    [
        pytest.param(lambda sig: sig[:64], id="64-bytes"),
        pytest.param(lambda sig: sig + b"\x00", id="66-bytes"),
        pytest.param(lambda sig: b"", id="empty"),
        pytest.param(lambda sig: sig[:64] + b"\x00", id="v=0"),
        pytest.param(lambda sig: sig[:64] + b"\x01", id="v=1"),
        pytest.param(lambda sig: sig[:64] + b"\x1d", id="v=29"),
        pytest.param(lambda sig: sig[:64] + b"\x25", id="v=37-eip155"),
        pytest.param(lambda sig: b"\x00" * 32 + sig[32:], id="r=0"),
        pytest.param(lambda sig: sig[:32] + b"\x00" * 32 + sig[64:], id="s=0"),
        pytest.param(lambda sig: SECP256K1_N.to_bytes(32, "big") + sig[32:], id="r=n"),
        pytest.param(lambda sig: b"\xff" * 32 + sig[32:], id="r>n"),
        pytest.param(lambda sig: sig[:32] + b"\xff" * 32 + sig[64:], id="s>n"),
    ],
)
def test_malformed_signatures_raise_invalid_signature(mutate) -> None:  # type: ignore[no-untyped-def]
    digest = keccak256(b"report")
    sig = Account.from_key(b"\x05" * 32).sign_digest(digest)
    with pytest.raises(InvalidSignature):
        recover_address(digest, mutate(sig))


def test_r_not_on_curve_fails_recovery_as_invalid_signature() -> None:
    digest = keccak256(b"report")
    sig = Account.from_key(b"\x05" * 32).sign_digest(digest)
    # x = 5 is not the x coordinate of any secp256k1 point (5^3 + 7 = 132 is a non-residue).
    bad = (5).to_bytes(32, "big") + sig[32:]
    with pytest.raises(InvalidSignature):
        recover_address(digest, bad)


def test_non_bytes_signature_is_invalid_signature() -> None:
    with pytest.raises(InvalidSignature):
        recover_address(b"\x00" * 32, "0x" + "00" * 65)  # type: ignore[arg-type]


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(digest=digests, other=digests)
def test_signature_over_another_digest_recovers_another_address(
    digest: bytes, other: bytes
) -> None:
    account = Account.from_key(b"\x09" * 32)
    sig = account.sign_digest(digest)
    if other == digest:
        return
    with contextlib.suppress(InvalidSignature):
        assert recover_address(other, sig) != account.address


def test_digest_must_be_32_bytes() -> None:
    account = Account.generate()
    with pytest.raises(ValueError):
        account.sign_digest(b"short")
    with pytest.raises(ValueError):
        recover_address(b"short", account.sign_digest(b"\x00" * 32))


@pytest.mark.parametrize(
    "key",
    [
        b"\x00" * 32,
        SECP256K1_N.to_bytes(32, "big"),
        b"\xff" * 32,
        b"\x01" * 31,
        b"\x01" * 33,
        "0xzz",
        "12" * 31,
        12345,
    ],
)
def test_invalid_private_keys_raise_invalid_key(key: object) -> None:
    with pytest.raises(InvalidKey):
        Account.from_key(key)  # type: ignore[arg-type]
    assert issubclass(InvalidKey, DepinkitError)


def test_generate_gives_distinct_valid_accounts() -> None:
    a, b = Account.generate(), Account.generate()
    assert a != b
    assert is_address(a.address) and to_checksum(a.address) == a.address
    assert a.private_key.hex() not in repr(a)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(raw=st.binary(min_size=20, max_size=20))
def test_checksum_matches_eth_utils(raw: bytes) -> None:
    lower = "0x" + raw.hex()
    expected = to_checksum_address(lower)
    assert to_checksum(lower) == expected
    assert to_checksum(lower.upper().replace("0X", "0x")) == expected
    assert is_address(expected) and is_address(lower)
    assert address_bytes(expected) == raw


def test_is_address_rejects_bad_checksum_and_shapes() -> None:
    good = to_checksum("0x" + "ab" * 20)
    letters = [i for i, c in enumerate(good) if i >= 2 and c.isalpha()]
    i = letters[0]
    typo = good[:i] + good[i].swapcase() + good[i + 1 :]
    assert not is_address(typo)
    for bad in ["", "0x", "ab" * 20, "0x" + "ab" * 19, "0x" + "ab" * 21, "0x" + "zz" * 20, None, 5]:
        assert not is_address(bad)
    for bad in [typo, "0x1234", "nope"]:
        with pytest.raises(InvalidAddress):
            to_checksum(bad)
        with pytest.raises(InvalidAddress):
            address_bytes(bad)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.binary(max_size=300))
def test_keccak256_matches_eth_hash(data: bytes) -> None:
    from eth_hash.auto import keccak

    assert keccak256(data) == keccak(data)


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(key=private_keys, digest=digests)
def test_recover_address_bytes_is_the_raw_address(key: bytes, digest: bytes) -> None:
    account = Account.from_key(key)
    raw = recover_address_bytes(digest, account.sign_digest(digest))
    assert raw == address_bytes(account.address) and len(raw) == 20


def test_is_checksummed_accepts_only_eip55() -> None:
    good = to_checksum("0x" + "ab" * 20)
    assert is_checksummed(good)
    assert not is_checksummed(good.lower())
    assert not is_checksummed(good.upper().replace("0X", "0x"))
    assert is_checksummed("0x" + "12" * 20)  # no letters: every form is the checksum form
    assert not is_checksummed(None)  # type: ignore[arg-type]
