"""Challenges: deterministic, distinct, in range, and different for every input."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from storage_protocol_kit import PROVIDERS, entropy

from depinkit.core.keys import keccak256
from depinkit.networks.errors import NetworkError
from depinkit.networks.storage.challenge import challenged_chunks

ROOT = keccak256(b"a piece root")
P0, P1 = PROVIDERS[0].address, PROVIDERS[1].address


@given(st.integers(1, 5_000), st.integers(0, 16), st.integers(0, 1_000))
def test_challenges_are_distinct_indices_in_range(chunks: int, count: int, epoch: int) -> None:
    picked = challenged_chunks(entropy(epoch), ROOT, P0, chunks, count)
    assert len(picked) == min(count, chunks)
    assert len(set(picked)) == len(picked)
    assert all(0 <= i < chunks for i in picked)
    assert picked == challenged_chunks(entropy(epoch), ROOT, P0, chunks, count)


def test_a_piece_smaller_than_the_challenge_is_proven_whole() -> None:
    assert sorted(challenged_chunks(entropy(0), ROOT, P0, 3, 16)) == [0, 1, 2]


def test_entropy_root_and_provider_each_change_the_challenge() -> None:
    base = challenged_chunks(entropy(0), ROOT, P0, 1 << 20, 4)
    assert challenged_chunks(entropy(1), ROOT, P0, 1 << 20, 4) != base
    assert challenged_chunks(entropy(0), keccak256(b"other"), P0, 1 << 20, 4) != base
    assert challenged_chunks(entropy(0), ROOT, P1, 1 << 20, 4) != base


def test_bad_inputs_are_errors() -> None:
    with pytest.raises(NetworkError):
        challenged_chunks(b"short", ROOT, P0, 4, 1)
    with pytest.raises(NetworkError):
        challenged_chunks(entropy(0), b"short", P0, 4, 1)
    with pytest.raises(NetworkError):
        challenged_chunks(entropy(0), ROOT, P0, 0, 1)
