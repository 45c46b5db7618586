"""The provider's piece store on a real disk: what a put leaves behind, and concurrent puts."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest
from storage_provider_kit import CONSUMER, DOMAIN, STRANGER

from depinkit.core.keys import Account
from depinkit.networks.storage.pieces import CHUNK_BYTES, piece_root
from depinkit.networks.storage.provider import (
    OutOfCapacity,
    PieceMismatch,
    PieceStore,
    ProviderSettings,
)

PROVIDER = Account.from_key("0x" + "e5" * 32)


def make_store(data: Path, capacity: int = 1 << 30) -> PieceStore:
    return PieceStore(
        ProviderSettings(account=PROVIDER, data=data, capacity=capacity, domain=DOMAIN)
    )


def leftovers(store: PieceStore) -> list[Path]:
    return sorted(store.tmp_dir.iterdir())


def test_a_put_leaves_the_piece_and_its_owners_and_no_temporary_file(tmp_path: Path) -> None:
    store = make_store(tmp_path)
    data = os.urandom(5 * CHUNK_BYTES + 17)
    root = piece_root(data)
    assert store.put(root, data, CONSUMER.address, b"\x01" * 32) is True
    assert store.read(root) == data
    assert store.owners(root) == [(CONSUMER.address, b"\x01" * 32)]
    assert store.used() == len(data) and leftovers(store) == []
    # Survives a restart: what was acknowledged is on disk with its metadata.
    again = make_store(tmp_path)
    assert again.has(root) and again.read(root) == data and again.used() == len(data)


def test_refused_pieces_leave_nothing_behind(tmp_path: Path) -> None:
    store = make_store(tmp_path, capacity=8 * CHUNK_BYTES)
    data = os.urandom(4 * CHUNK_BYTES)
    with pytest.raises(PieceMismatch):
        store.put(piece_root(os.urandom(4 * CHUNK_BYTES)), data, CONSUMER.address, b"\x01" * 32)
    big = os.urandom(9 * CHUNK_BYTES)
    with pytest.raises(OutOfCapacity):
        store.put(piece_root(big), big, CONSUMER.address, b"\x01" * 32)
    assert store.roots() == [] and store.used() == 0 and leftovers(store) == []


def test_concurrent_puts_of_one_piece_keep_every_owner_and_count_it_once(tmp_path: Path) -> None:
    store = make_store(tmp_path)
    data = os.urandom(64 * CHUNK_BYTES)
    root = piece_root(data)
    owners = [(CONSUMER.address, bytes([i]) * 32) for i in range(4)]
    owners += [(STRANGER.address, bytes([i]) * 32) for i in range(4)]
    start = threading.Barrier(len(owners))
    created: list[bool] = []

    def put(consumer: str, deal: bytes) -> None:
        start.wait()
        created.append(store.put(root, data, consumer, deal))

    threads = [threading.Thread(target=put, args=owner) for owner in owners]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert created.count(True) == 1 and len(created) == len(owners)
    assert store.owners(root) == sorted(owners)
    assert store.used() == len(data) and leftovers(store) == []
    assert make_store(tmp_path).used() == len(data)
