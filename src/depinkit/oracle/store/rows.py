"""Plain row values passed between the store and the services."""

from __future__ import annotations

from typing import Final

import msgspec


class ReportRow(msgspec.Struct, frozen=True):
    """One accepted report, with the fields the epoch pipeline queries by."""

    id: bytes  # report digest, 32 bytes
    device: str
    network: str
    kind: str
    seq: int
    epoch: int
    timestamp_ms: int
    received_ms: int
    raw: bytes  # the encoded signed report


class DeviceStatus:
    """Device lifecycle states, mirroring DeviceRegistry's status enum."""

    ACTIVE: Final = "active"
    UNBONDING: Final = "unbonding"
    WITHDRAWN: Final = "withdrawn"


class DeviceRow(msgspec.Struct, frozen=True):
    """A device as the chain says it is, ``confirmations`` blocks deep."""

    address: str
    owner: str
    network_id: str  # 0x-prefixed bytes32 hex
    network: str | None  # the name, when a known network hashes to network_id
    h3_cell: int
    status: str
    stake: int
    unbonding_ends: int
    last_block: int


class InsertOutcome(msgspec.Struct, frozen=True):
    """Which rows of a batch were written, and why the others were not."""

    inserted: frozenset[bytes]  # ids written now
    duplicates: frozenset[bytes]  # ids already stored (same report)
    conflicts: frozenset[bytes]  # ids refused: another report holds the same (device, seq)
