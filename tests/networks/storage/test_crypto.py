"""Client-side encryption (crypto.py): round trips, and tampering never goes unnoticed."""

from __future__ import annotations

import io

import pytest
from hypothesis import given
from hypothesis import strategies as st

from depinkit.networks.storage.crypto import (
    TAG_BYTES,
    DecryptionError,
    decrypt_segment,
    decrypt_stream,
    encrypt_segment,
    encrypt_stream,
    new_file_id,
    new_key,
    plaintext_segments,
)

KEY = bytes(range(32))
FILE = bytes(32)


@given(st.binary(max_size=5000), st.integers(1, 1500))
def test_stream_round_trips(data: bytes, segment: int) -> None:
    sealed = list(encrypt_stream(KEY, FILE, io.BytesIO(data), segment))
    assert len(sealed) == plaintext_segments(len(data), segment)
    assert sum(len(s) for s in sealed) == len(data) + TAG_BYTES * len(sealed)
    assert b"".join(decrypt_stream(KEY, FILE, sealed)) == data


def test_each_file_gets_its_own_key_and_id() -> None:
    assert new_key() != new_key() and new_file_id() != new_file_id()
    assert len(new_key()) == 32


def test_tampering_reordering_truncation_and_wrong_key_fail() -> None:
    data = bytes(range(256)) * 40
    sealed = list(encrypt_stream(KEY, FILE, io.BytesIO(data), 3000))
    assert len(sealed) == 4
    flipped = bytearray(sealed[1])
    flipped[5] ^= 1
    cases = {
        "tampered": [sealed[0], bytes(flipped), *sealed[2:]],
        "reordered": [sealed[1], sealed[0], *sealed[2:]],
        "truncated": sealed[:3],  # segment 2 is not flagged final
        "extended": [*sealed, sealed[3]],
    }
    for name, segments in cases.items():
        with pytest.raises(DecryptionError):
            b"".join(decrypt_stream(KEY, FILE, segments))
        assert name
    with pytest.raises(DecryptionError):
        b"".join(decrypt_stream(bytes(32), FILE, sealed))
    with pytest.raises(DecryptionError):
        b"".join(decrypt_stream(KEY, b"\x01" * 32, sealed))
    with pytest.raises(DecryptionError):
        b"".join(decrypt_stream(KEY, FILE, []))


def test_segment_is_bound_to_its_index_and_finality() -> None:
    sealed = encrypt_segment(KEY, FILE, 7, b"hello", final=True)
    assert decrypt_segment(KEY, FILE, 7, sealed, final=True) == b"hello"
    with pytest.raises(DecryptionError):
        decrypt_segment(KEY, FILE, 8, sealed, final=True)
    with pytest.raises(DecryptionError):
        decrypt_segment(KEY, FILE, 7, sealed, final=False)
