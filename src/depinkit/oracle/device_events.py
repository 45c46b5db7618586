"""DeviceRegistry events -> device rows: the pure half of the chain indexer.

Each event moves one device's row the way the contract moved its storage, so
the devices table equals ``DeviceRegistry.devices(address)`` as of the last
indexed block (tested against a real anvil). No I/O here: the indexer feeds
decoded events in (block, log index) order.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import msgspec

from depinkit.core.keys import keccak256, to_checksum
from depinkit.oracle.errors import IndexerError
from depinkit.oracle.store import DeviceRow, DeviceStatus

DEVICE_EVENTS = (
    "DeviceOnboarded",
    "LocationUpdated",
    "DeviceTransferred",
    "DeviceDeactivated",
    "StakeWithdrawn",
    "DeviceSlashed",
)


class DeviceEvent(msgspec.Struct, frozen=True):
    """One decoded DeviceRegistry event (web3's ``args`` with its position)."""

    name: str
    args: Mapping[str, Any]
    block: int
    log_index: int


def network_names(names: Iterable[str]) -> dict[str, str]:
    """bytes32 network id (0x hex) -> name, for the networks this oracle knows."""
    return {"0x" + keccak256(n.encode()).hex(): n for n in names}


def _hex32(value: Any) -> str:
    raw = bytes(value)
    if len(raw) != 32:
        raise IndexerError(f"expected a bytes32, got {len(raw)} bytes")
    return "0x" + raw.hex()


def apply_event(
    current: DeviceRow | None, event: DeviceEvent, names: Mapping[str, str]
) -> DeviceRow:
    """The device's row after ``event``; IndexerError if the event cannot apply."""
    args = event.args
    if event.name == "DeviceOnboarded":
        network_id = _hex32(args["network"])
        return DeviceRow(
            address=to_checksum(args["device"]),
            owner=to_checksum(args["owner"]),
            network_id=network_id,
            network=names.get(network_id),
            h3_cell=int(args["h3Cell"]),
            status=DeviceStatus.ACTIVE,
            stake=int(args["stake"]),
            unbonding_ends=0,
            last_block=event.block,
        )
    if event.name not in DEVICE_EVENTS:
        raise IndexerError(f"not a device event: {event.name}")
    if current is None:
        raise IndexerError(
            f"{event.name} at block {event.block} for {args['device']}, which was never "
            "onboarded: the indexer must start at the registry's deployment block"
        )
    if event.name == "LocationUpdated":
        changes: dict[str, Any] = {"h3_cell": int(args["h3Cell"])}
    elif event.name == "DeviceTransferred":
        changes = {"owner": to_checksum(args["to"])}
    elif event.name == "DeviceDeactivated":
        changes = {"status": DeviceStatus.UNBONDING, "unbonding_ends": int(args["unbondingEnds"])}
    elif event.name == "StakeWithdrawn":
        changes = {
            "status": DeviceStatus.WITHDRAWN,
            "stake": max(0, current.stake - int(args["amount"])),
        }
    else:  # DeviceSlashed: the slashed stake is burned
        changes = {"stake": max(0, current.stake - int(args["amount"]))}
    return msgspec.structs.replace(current, last_block=event.block, **changes)


def apply_events(
    rows: Mapping[str, DeviceRow], events: Iterable[DeviceEvent], names: Mapping[str, str]
) -> dict[str, DeviceRow]:
    """Rows of every device touched by ``events`` (applied in order) after them."""
    state = dict(rows)
    touched: dict[str, DeviceRow] = {}
    for event in events:
        address = to_checksum(event.args["device"])
        row = apply_event(state.get(address), event, names)
        state[address] = touched[address] = row
    return touched
