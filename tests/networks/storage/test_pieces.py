"""Piece roots and chunk inclusion proofs (pieces.py)."""

from __future__ import annotations

import os

import pytest
from hypothesis import given
from hypothesis import strategies as st

from depinkit.networks.storage.pieces import (
    CHUNK_BYTES,
    EMPTY_LEAF,
    HASH_BYTES,
    chunk,
    chunk_count,
    depth,
    leaf_hash,
    levels,
    piece_root,
    proof_bytes,
    prove,
    verify_chunk,
)

pieces = st.binary(min_size=1, max_size=9 * CHUNK_BYTES + 7)


def test_one_chunk_piece_root_is_its_leaf() -> None:
    data = b"x" * 100
    assert piece_root(data) == leaf_hash(data)
    assert prove(data, 0) == []
    assert verify_chunk(piece_root(data), 0, data, [])


def test_every_chunk_of_an_odd_sized_piece_proves() -> None:
    data = os.urandom(5 * CHUNK_BYTES + 3)  # 6 chunks, the last one 3 bytes: padded to 8
    root = piece_root(data)
    assert chunk_count(len(data)) == 6 and depth(6) == 3
    for i in range(6):
        proof = prove(data, i)
        assert len(proof) == 3 and proof_bytes(6) == 3 * HASH_BYTES
        assert verify_chunk(root, i, chunk(data, i), proof, chunks=6)
    assert len(levels(data)) == 4


def test_padding_leaf_never_verifies_as_a_chunk() -> None:
    data = os.urandom(3 * CHUNK_BYTES)
    root = piece_root(data)
    proof = prove(data, 2)
    # Index 3 is padding: no chunk data hashes to EMPTY_LEAF, whatever the proof says.
    assert not verify_chunk(root, 3, EMPTY_LEAF, proof)
    assert not verify_chunk(root, 3, chunk(data, 2), proof)


def test_malformed_inputs_are_refused_not_raised() -> None:
    data = os.urandom(4 * CHUNK_BYTES)
    root, proof, c = piece_root(data), prove(data, 1), chunk(data, 1)
    assert verify_chunk(root, 1, c, proof)
    assert not verify_chunk(root[:31], 1, c, proof)
    assert not verify_chunk(root, -1, c, proof)
    assert not verify_chunk(root, 1, b"", proof)
    assert not verify_chunk(root, 1, c + b"x" * CHUNK_BYTES, proof)
    assert not verify_chunk(root, 1, c, [*proof[:-1], b"short"])
    assert not verify_chunk(root, 1, c, proof, chunks=5)  # depth 3 for 5 chunks, proof has 2
    assert not verify_chunk(root, 1, c, proof[:-1])
    with pytest.raises(ValueError):
        chunk_count(0)
    with pytest.raises(IndexError):
        prove(data, 4)


@given(pieces, st.data())
def test_proof_for_one_index_verifies_only_there(data: bytes, draw: st.DataObject) -> None:
    count = chunk_count(len(data))
    i = draw.draw(st.integers(0, count - 1))
    root = piece_root(data)
    proof = prove(data, i)
    assert verify_chunk(root, i, chunk(data, i), proof, chunks=count)
    j = draw.draw(st.integers(0, 2 ** (len(proof) + 1)).filter(lambda j: j != i))
    assert not verify_chunk(root, j, chunk(data, i), proof)


@given(pieces, pieces, st.data())
def test_proof_never_verifies_against_another_root(a: bytes, b: bytes, draw: st.DataObject) -> None:
    if piece_root(a) == piece_root(b):
        assert a == b
        return
    i = draw.draw(st.integers(0, chunk_count(len(a)) - 1))
    assert not verify_chunk(piece_root(b), i, chunk(a, i), prove(a, i))


@given(pieces, st.data())
def test_any_changed_byte_changes_the_root(data: bytes, draw: st.DataObject) -> None:
    position = draw.draw(st.integers(0, len(data) - 1))
    flipped = bytearray(data)
    flipped[position] ^= 1 + draw.draw(st.integers(0, 254))
    assert piece_root(bytes(flipped)) != piece_root(data)
    i = position // CHUNK_BYTES
    assert not verify_chunk(piece_root(data), i, chunk(bytes(flipped), i), prove(data, i))
