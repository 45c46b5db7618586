"""The device directory ingest consults: which devices exist and are active.

The chain indexer keeps the ``devices`` table in step with DeviceRegistry; the
directory reads it, one query per batch.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Protocol

from depinkit.oracle.store import DeviceRow, Store


class DeviceDirectory(Protocol):
    """Look devices up by checksummed address; absent means unknown."""

    def lookup(self, addresses: Iterable[str]) -> Mapping[str, DeviceRow]: ...


class StoreDirectory:
    """The directory backed by the store's ``devices`` table."""

    def __init__(self, store: Store) -> None:
        self._store = store

    def lookup(self, addresses: Iterable[str]) -> Mapping[str, DeviceRow]:
        return self._store.get_devices(addresses)
