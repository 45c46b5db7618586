"""Erasure coding (erasure.py): any k of n pieces rebuild a segment."""

from __future__ import annotations

import itertools
import os

import pytest
from hypothesis import given
from hypothesis import strategies as st

from depinkit.networks.storage.erasure import (
    ErasureError,
    decode,
    encode,
    encode_some,
    piece_size,
)
from depinkit.networks.storage.pieces import CHUNK_BYTES


def test_every_k_subset_of_3_of_5_decodes() -> None:
    segment = os.urandom(100_000)
    pieces = encode(segment, 3, 5)
    assert len(pieces) == 5 and {len(p) for p in pieces} == {piece_size(len(segment), 3)}
    assert all(len(p) % CHUNK_BYTES == 0 for p in pieces)
    for chosen in itertools.combinations(range(5), 3):
        assert decode({j: pieces[j] for j in chosen}, 3, 5, len(segment)) == segment


def test_systematic_pieces_are_the_segment() -> None:
    segment = os.urandom(3 * CHUNK_BYTES)
    pieces = encode(segment, 3, 5)
    assert b"".join(pieces[:3]) == segment


def test_padding_is_deterministic_so_repairs_rebuild_the_same_bytes() -> None:
    segment = os.urandom(12_345)
    pieces = encode(segment, 4, 7)
    assert pieces == encode(segment, 4, 7)
    survivors = {j: pieces[j] for j in (1, 3, 5, 6)}
    rebuilt = encode_some(decode(survivors, 4, 7, len(segment)), 4, 7, [0, 2, 4])
    assert rebuilt == {0: pieces[0], 2: pieces[2], 4: pieces[4]}


def test_too_few_or_wrong_sized_pieces_are_refused() -> None:
    segment = os.urandom(5000)
    pieces = encode(segment, 3, 5)
    with pytest.raises(ErasureError, match="3 needed"):
        decode({0: pieces[0], 4: pieces[4]}, 3, 5, len(segment))
    with pytest.raises(ErasureError, match="bytes"):
        decode({0: pieces[0], 1: pieces[1], 2: pieces[2][:-1]}, 3, 5, len(segment))
    with pytest.raises(ErasureError):
        encode(segment, 6, 5)
    with pytest.raises(ErasureError):
        encode(segment, 0, 5)


@given(
    st.binary(max_size=20_000),
    st.integers(1, 8).flatmap(lambda k: st.tuples(st.just(k), st.integers(k, 12))),
    st.randoms(use_true_random=False),
)
def test_any_k_of_n_pieces_decode(segment: bytes, kn: tuple[int, int], rng) -> None:  # type: ignore[no-untyped-def]
    k, n = kn
    pieces = encode(segment, k, n)
    chosen = rng.sample(range(n), k)
    assert decode({j: pieces[j] for j in chosen}, k, n, len(segment)) == segment


def test_tiny_segments_of_different_files_share_no_piece() -> None:
    """Padding comes from the segment, so no piece is padding alone and equal across files."""
    first, second = encode(b"\x01" * 100, 3, 5), encode(b"\x02" * 100, 3, 5)
    assert not set(first) & set(second)
    assert encode_some(b"\x01" * 100, 3, 5, [2, 4]) == {2: first[2], 4: first[4]}
