"""Helpers to run the real oracle ingest service for the agent's tests.

The device is written into the oracle's ``devices`` table directly through
the oracle store API: the chain indexer that normally fills it is tested on
its own (tests/oracle), and these tests are about delivery.
"""

from __future__ import annotations

from pathlib import Path

from depinkit.core.keys import keccak256
from depinkit.oracle.store import DeviceRow, DeviceStatus, Store

UPTIME_NETWORK_ID = "0x" + keccak256(b"uptime").hex()
OWNER = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"  # anvil's second account
CELL = 0x8928308280FFFFF  # any valid H3 cell


def sqlite_url(path: Path) -> str:
    return f"sqlite:///{path}"


def seed_device(
    url: str, device: str, *, network_id: str = UPTIME_NETWORK_ID, status: str = DeviceStatus.ACTIVE
) -> None:
    """Create the oracle database (migrated) and register ``device`` in it."""
    store = Store.open(url, migrate=True)
    try:
        store.upsert_devices(
            [
                DeviceRow(
                    address=device,
                    owner=OWNER,
                    network_id=network_id,
                    network="uptime" if network_id == UPTIME_NETWORK_ID else None,
                    h3_cell=CELL,
                    status=status,
                    stake=10**18,
                    unbonding_ends=0,
                    last_block=1,
                )
            ]
        )
    finally:
        store.close()


def stored_ids(url: str) -> list[bytes]:
    """Every report id in the oracle's store (a list: duplicates would show)."""
    store = Store.open(url)
    try:
        ids: list[bytes] = []
        after = None
        while True:
            page = store.list_reports(after=after, limit=1000)
            if not page:
                return ids
            ids.extend(row.id for row in page)
            after = page[-1].id
    finally:
        store.close()
