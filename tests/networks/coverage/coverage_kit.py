"""Builders for coverage-network tests: a fixed epoch, hotspots on an integer grid, reports.

Hotspots are placed by H3 local IJ offsets from ORIGIN (res-11 cells, ~49.6 m apart), so
tests never go through floating-point coordinates.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import h3.api.basic_int as h3
import msgspec

from depinkit.core.envelope import ReportDomain, report_id, sign_report
from depinkit.core.keys import Account, keccak256
from depinkit.networks import DeviceInfo, DeviceView, EpochContext, ReceivedReport
from depinkit.networks.coverage import (
    NAME,
    Beacon,
    PacketReceipt,
    Witness,
    beacon_payload,
    beacon_window,
    module,
)
from depinkit.networks.coverage import parameters as P
from depinkit.networks.receipts import Receipt

DOMAIN = ReportDomain(chain_id=31337, registry="0x5FbDB2315678afecb367f032d93F642f64180aa3")
EPOCH = 3
START_MS = 1_700_000_000_000  # unix ms
EPOCH_MS = 3_600_000  # one hour
INTERVAL_S = 600  # six beacon slots per epoch
WINDOW_S = 60
ENTROPY = keccak256(b"start block of epoch 3")
FREQ = 868_100_000  # Hz: EU868 channel 1
ORIGIN = 626558102896488447  # a res-11 cell in Paris
_OI, _OJ = h3.cell_to_local_ij(ORIGIN, ORIGIN)
ACCOUNTS = tuple(Account.from_key(bytes([i + 1]) * 32) for i in range(12))
CONSUMER = Account.from_key(b"\x77" * 32)


def cell_at(i: int, j: int = 0) -> int:
    """The res-11 cell at IJ offset (i, j) from ORIGIN."""
    return h3.local_ij_to_cell(ORIGIN, _OI + i, _OJ + j)


def owner_of(account: Account) -> str:
    return Account.from_key(keccak256(account.private_key)).address


def params(**overrides: int) -> dict[str, int]:
    values = module().defaults()
    values.update({P.BEACON_INTERVAL_S: INTERVAL_S, P.ENTROPY_WINDOW_S: WINDOW_S})
    values.update(overrides)
    return values


def context(
    cells: Mapping[Account, int],
    *,
    parameters: Mapping[str, int] | None = None,
    prior: Mapping[str, Any] | None = None,
    credits: Mapping[str, int] | None = None,
    owners: Mapping[Account, str] | None = None,
    epoch: int = EPOCH,
) -> EpochContext:
    devices: dict[str, DeviceInfo] = {
        a.address: DeviceView(owner=(owners or {}).get(a, owner_of(a)), network=NAME, h3_cell=cell)
        for a, cell in cells.items()
    }
    return EpochContext(
        network=NAME,
        epoch=epoch,
        start_ms=START_MS,
        end_ms=START_MS + EPOCH_MS,
        entropy=ENTROPY,
        parameters=dict(parameters if parameters is not None else params()),
        devices=devices,
        prior=dict(prior or {}),
        credits=dict(credits or {}),
        domain=DOMAIN,
    )


def received(
    account: Account, kind: str, body: msgspec.Struct, timestamp_ms: int, epoch: int = EPOCH
) -> ReceivedReport:
    report = sign_report(
        account,
        DOMAIN,
        network=NAME,
        kind=kind,
        seq=0,
        timestamp_ms=timestamp_ms,
        epoch=epoch,
        body=body,
    )
    return ReceivedReport(id=report_id(DOMAIN, report), report=report)


def transmit_time(account: Account, slot: int) -> int:
    opens, _ = beacon_window(
        ENTROPY,
        account.address,
        slot,
        start_ms=START_MS,
        end_ms=START_MS + EPOCH_MS,
        interval_s=INTERVAL_S,
        window_s=WINDOW_S,
    )
    return opens + 1_000


def beacon_body(account: Account, slot: int = 0, **fields: Any) -> Beacon:
    values: dict[str, Any] = {
        "slot": slot,
        "payload": beacon_payload(ENTROPY, account.address, slot),
        "frequency_hz": FREQ,
        "tx_power_dbm": 14,
        "transmit_ms": transmit_time(account, slot),
    }
    values.update(fields)
    return Beacon(**values)


def beacon(account: Account, slot: int = 0, **fields: Any) -> ReceivedReport:
    body = beacon_body(account, slot, **fields)
    return received(account, "beacon", body, body.transmit_ms + 10)


def witness(
    account: Account, beaconer: Account, slot: int = 0, *, lag_ms: int = 300, **fields: Any
) -> ReceivedReport:
    sent = beacon_body(beaconer, slot)
    values: dict[str, Any] = {
        "beaconer": beaconer.address,
        "slot": slot,
        "payload": sent.payload,
        "rssi_dbm10": -1100,
        "snr_db10": 55,
        "frequency_hz": FREQ,
        "received_ms": sent.transmit_ms + lag_ms,
    }
    values.update(fields)
    body = Witness(**values)
    return received(account, "witness", body, body.received_ms + 10)


def receipt_report(
    account: Account, receipt: Receipt, timestamp_ms: int = START_MS + 1_000
) -> ReceivedReport:
    return received(account, "receipt", PacketReceipt(receipt=receipt), timestamp_ms)
