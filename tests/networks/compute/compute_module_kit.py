"""Builders for compute-module tests: a fixed epoch, providers, a consumer, signed reports."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import msgspec

from depinkit.core.envelope import ReportDomain, report_id, sign_report
from depinkit.core.keys import Account, keccak256
from depinkit.networks import DeviceInfo, DeviceView, EpochContext, ReceivedReport
from depinkit.networks.compute.module import NAME, ComputeModule
from depinkit.networks.compute.schemas import (
    COMPLETION,
    DISPUTE,
    OFFER,
    ROLE_PRIMARY,
    Claim,
    Completion,
    Dispute,
    Offer,
    sign_claim,
)
from depinkit.networks.receipts import sign_receipt

DOMAIN = ReportDomain(chain_id=31337, registry="0x5FbDB2315678afecb367f032d93F642f64180aa3")
OWNER = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"
OTHER_OWNER = "0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC"
EPOCH = 3
START_MS = 1_700_000_000_000  # unix ms
EPOCH_MS = 60_000  # one-minute epochs
ENTROPY = keccak256(b"start block of epoch 3")
PROVIDERS = tuple(Account.from_key(bytes([i + 1]) * 32) for i in range(5))
CONSUMER = Account.from_key(b"\x42" * 32)
CREDITS = 10**12  # nanocredits the consumer has (1000 credits)
JOB = keccak256(b"job 1")
GOOD = keccak256(b"good output")
BAD = keccak256(b"bad output")
FUEL = 5_000_000


def parameters(**overrides: int) -> dict[str, int]:
    values = ComputeModule().defaults()
    values["availability_slot_s"] = 10  # six slots per one-minute epoch
    values.update(overrides)
    return values


def devices(owners: Mapping[str, str] | None = None) -> dict[str, DeviceInfo]:
    owners = owners or {}
    return {
        a.address: DeviceView(owner=owners.get(a.address, OWNER), network=NAME) for a in PROVIDERS
    }


def context(
    *,
    prior: Mapping[str, Any] | None = None,
    credits: Mapping[str, int] | None = None,
    device_map: Mapping[str, DeviceInfo] | None = None,
    **params: int,
) -> EpochContext:
    return EpochContext(
        network=NAME,
        epoch=EPOCH,
        start_ms=START_MS,
        end_ms=START_MS + EPOCH_MS,
        entropy=ENTROPY,
        parameters=parameters(**params),
        devices=devices() if device_map is None else dict(device_map),
        prior=dict(prior or {}),
        credits={CONSUMER.address: CREDITS} if credits is None else dict(credits),
        domain=DOMAIN,
    )


def received(
    account: Account,
    kind: str,
    body: msgspec.Struct,
    *,
    offset_ms: int = 1_000,
    seq: int = 0,
    epoch: int = EPOCH,
) -> ReceivedReport:
    report = sign_report(
        account,
        DOMAIN,
        network=NAME,
        kind=kind,
        seq=seq,
        timestamp_ms=START_MS + offset_ms,
        epoch=epoch,
        body=body,
    )
    return ReceivedReport(id=report_id(DOMAIN, report), report=report)


def lease_of(provider: Account, job: bytes = JOB) -> bytes:
    return keccak256(b"lease" + job + bytes.fromhex(provider.address[2:]))


def claim(provider: Account, output: bytes = GOOD, *, job: bytes = JOB, fuel: int = FUEL) -> Claim:
    return sign_claim(
        provider,
        DOMAIN,
        job_id=job,
        lease=lease_of(provider, job),
        output_hash=output,
        fuel_used=fuel,
    )


def completion(
    provider: Account,
    output: bytes = GOOD,
    *,
    job: bytes = JOB,
    fuel: int = FUEL,
    paid: int = 50,
    role: int = ROLE_PRIMARY,
    consumer: Account = CONSUMER,
    seq: int = 0,
    offset_ms: int = 1_000,
) -> ReceivedReport:
    receipt = sign_receipt(
        consumer,
        DOMAIN,
        network=NAME,
        payee=provider.address,
        channel=lease_of(provider, job),
        cumulative=paid,
    )
    body = Completion(claim=claim(provider, output, job=job, fuel=fuel), role=role, receipt=receipt)
    return received(provider, COMPLETION, body, seq=seq, offset_ms=offset_ms)


def dispute(reporter: Account, accused: Claim, *witnesses: Claim) -> ReceivedReport:
    return received(reporter, DISPUTE, Dispute(accused=accused, witnesses=tuple(witnesses)))


def offer(
    provider: Account,
    *,
    slots: int = 4,
    busy: int = 0,
    mfuel_per_s: int = 1_000,
    price: int = 100,
    offset_ms: int = 1_000,
    seq: int = 0,
) -> ReceivedReport:
    body = Offer(
        slots=slots,
        busy=busy,
        mfuel_per_s=mfuel_per_s,
        memory_mib=1024,
        price_per_mfuel=price,
        region="eu",
        capabilities=("wasi-p1",),
    )
    return received(provider, OFFER, body, offset_ms=offset_ms, seq=seq)
