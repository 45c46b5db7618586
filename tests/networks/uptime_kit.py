"""Builders for uptime-network tests: a fixed epoch, fixed devices, signed heartbeats."""

from __future__ import annotations

from collections.abc import Mapping

import msgspec

from depinkit.core.envelope import ReportDomain, report_id, sign_report
from depinkit.core.keys import Account, keccak256
from depinkit.networks import DeviceInfo, DeviceView, EpochContext, ReceivedReport
from depinkit.networks.uptime import NAME, SLOT_S, Heartbeat, expected_challenge

DOMAIN = ReportDomain(chain_id=31337, registry="0x5FbDB2315678afecb367f032d93F642f64180aa3")
OWNER = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"
EPOCH = 7
START_MS = 1_700_000_000_000  # unix ms
SLOT = 10  # seconds per slot in these tests (a devnet-like setting)
EPOCH_MS = 60_000  # one-minute epochs: six slots
ENTROPY = keccak256(b"start block of epoch 7")
ACCOUNTS = tuple(Account.from_key(bytes([i + 1]) * 32) for i in range(4))


def devices(status: str = "active") -> dict[str, DeviceInfo]:
    return {a.address: DeviceView(owner=OWNER, network=NAME, status=status) for a in ACCOUNTS}


def context(
    *,
    device_map: Mapping[str, DeviceInfo] | None = None,
    slot_s: int = SLOT,
    epoch_ms: int = EPOCH_MS,
    entropy: bytes = ENTROPY,
) -> EpochContext:
    return EpochContext(
        network=NAME,
        epoch=EPOCH,
        start_ms=START_MS,
        end_ms=START_MS + epoch_ms,
        entropy=entropy,
        parameters={SLOT_S: slot_s},
        devices=devices() if device_map is None else dict(device_map),
    )


def heartbeat(
    account: Account,
    slot: int = 0,
    *,
    offset_ms: int = 0,
    challenge: bytes | None = None,
    challenge_slot: int | None = None,
    epoch: int = EPOCH,
    timestamp_ms: int | None = None,
    seq: int = 0,
    network: str = NAME,
    kind: str = "heartbeat",
    body: msgspec.Struct | None = None,
    slot_s: int = SLOT,
) -> ReceivedReport:
    """A signed heartbeat in ``slot``, answering the challenge of ``challenge_slot`` (default:
    its own slot) unless ``challenge`` is given."""
    if challenge is None:
        answered = slot if challenge_slot is None else challenge_slot
        challenge = expected_challenge(ENTROPY, account.address, answered)
    if timestamp_ms is None:
        timestamp_ms = START_MS + slot * slot_s * 1000 + offset_ms
    report = sign_report(
        account,
        DOMAIN,
        network=network,
        kind=kind,
        seq=seq,
        timestamp_ms=timestamp_ms,
        epoch=epoch,
        body=body if body is not None else Heartbeat(uptime_s=60, challenge=challenge),
    )
    return ReceivedReport(id=report_id(DOMAIN, report), report=report)
