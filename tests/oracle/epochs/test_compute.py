"""Network state carried between epochs and credits spent through receipts (pure epoch step)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from types import MappingProxyType
from typing import Any

import msgspec
import pytest

from depinkit.core.canonical import canonical_encode
from depinkit.core.envelope import ReportDomain, encode_report, report_id, sign_report
from depinkit.core.keys import Account
from depinkit.networks import (
    EpochContext,
    NetworkModule,
    NetworkRegistry,
    ReceivedReport,
    Scores,
    Verdict,
    accept,
    distinct_by_id,
    precheck,
    reject,
)
from depinkit.networks.errors import NetworkError
from depinkit.networks.receipts import (
    FACT_CREDITS,
    FACT_PAYER,
    Receipt,
    ReceiptBook,
    ReceiptError,
    sign_receipt,
    verify_receipt,
)
from depinkit.oracle.epochs.compute import CreditBalances, EpochOutcome, decode_state, epoch_rewards
from depinkit.oracle.epochs.inputs import EpochParameters, RegistryDevice
from depinkit.oracle.rewards import EmissionSchedule, decode_manifest, encode_manifest
from depinkit.oracle.store import ReportRow

DOMAIN = ReportDomain(chain_id=31337, registry="0x5FbDB2315678afecb367f032d93F642f64180aa3")
CONSUMER = Account.from_key(b"\x21" * 32)
OWNER = Account.from_key(b"\x22" * 32).address
DEVICES = (Account.from_key(b"\x23" * 32), Account.from_key(b"\x24" * 32))
CHANNEL = b"\x05" * 32
EPOCH_MS = 60_000


class Paid(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    receipt: Receipt


class Meter(NetworkModule):
    """A toy paid network: a device reports its newest receipt; points = nanocredits earned."""

    kinds = MappingProxyType({"paid": Paid})
    buckets = ("usage",)

    def __init__(self, name: str) -> None:
        self.name = name

    def _book(self, ctx: EpochContext) -> ReceiptBook:
        return ReceiptBook.from_state(ctx.prior.get("receipts", {}), ctx.credits)

    def verify(self, ctx: EpochContext, reports: Sequence[ReceivedReport]) -> list[Verdict]:
        book = self._book(ctx)
        out = []
        for item in distinct_by_id(reports):
            body = precheck(ctx, item, self.kinds)
            if isinstance(body, Verdict):
                out.append(body)
                continue
            assert isinstance(body, Paid)
            try:
                verify_receipt(ctx.domain, body.receipt)
                if body.receipt.payee != item.report.device:
                    raise ReceiptError("paid to another device")
                spent = book.apply(body.receipt)
            except ReceiptError as exc:
                out.append(reject(item, "bad_receipt", str(exc)))
                continue
            payer = int(body.receipt.consumer, 16)
            out.append(accept(item, **{FACT_CREDITS: spent, FACT_PAYER: payer}))
        return out

    def score(self, ctx: EpochContext, verdicts: Sequence[Verdict]) -> Scores:
        points: dict[str, int] = {}
        for v in verdicts:
            if v.accepted:
                points[v.device] = points.get(v.device, 0) + v.facts[FACT_CREDITS]
        return {"usage": dict(sorted(points.items()))}

    def next_prior(
        self, ctx: EpochContext, reports: Sequence[ReceivedReport], verdicts: Sequence[Verdict]
    ) -> dict[str, Any]:
        book = self._book(ctx)
        accepted = {v.report_id for v in verdicts if v.accepted}
        for item in distinct_by_id(reports):
            if item.id in accepted:
                body = msgspec.msgpack.decode(item.report.body, type=Paid)
                book.apply(body.receipt)
        return {"receipts": book.state()}


def registry(*names: str) -> NetworkRegistry:
    networks = NetworkRegistry()
    for name in names:
        networks.register(Meter(name))
    return networks


def row(device: Account, network: str, epoch: int, cumulative: int, seq: int) -> ReportRow:
    receipt = sign_receipt(
        CONSUMER,
        DOMAIN,
        network=network,
        payee=device.address,
        channel=CHANNEL,
        cumulative=cumulative,
    )
    ts = epoch * EPOCH_MS + 1_000 + seq
    report = sign_report(
        device,
        DOMAIN,
        network=network,
        kind="paid",
        seq=seq,
        timestamp_ms=ts,
        epoch=epoch,
        body=Paid(receipt),
    )
    rid = report_id(DOMAIN, report)
    return ReportRow(
        rid, device.address, network, "paid", seq, epoch, ts, ts, encode_report(report)
    )


def run(
    networks: NetworkRegistry,
    epoch: int,
    rows: list[ReportRow],
    *,
    bought: int,
    spent_before: Mapping[str, int],
    states: Mapping[str, bytes],
) -> EpochOutcome:
    names = networks.names()
    return epoch_rewards(
        epoch=epoch,
        start_ms=epoch * EPOCH_MS,
        end_ms=(epoch + 1) * EPOCH_MS,
        entropy=bytes([epoch]) * 32,
        rows=rows,
        networks=networks,
        parameters=EpochParameters(
            schedule=EmissionSchedule(initial=10**21, halving_epochs=0, cap=10**30),
            network_values={n: {"weight": 1, "split.usage": 1} for n in names},
            module_values={},
        ),
        devices={
            d.address: RegistryDevice(
                owner=OWNER, network=names[i % len(names)], h3_cell=0, status="active"
            )
            for i, d in enumerate(DEVICES)
        },
        previous={},
        carry_in=0,
        prior_states=states,
        credits=CreditBalances(lambda c: bought if c == CONSUMER.address else 0, spent_before),
        domain=DOMAIN,
    )


def test_state_and_spends_carry_from_one_epoch_to_the_next() -> None:
    networks = registry("meter")
    device = DEVICES[0]
    first = run(
        networks, 1, [row(device, "meter", 1, 60, 1)], bought=100, spent_before={}, states={}
    )
    assert first.spent == {(CONSUMER.address, "meter"): 60}
    manifest = decode_manifest(encode_manifest(first.rewards.manifest))
    assert [(c.consumer, c.network, c.amount) for c in manifest.credits] == [
        (CONSUMER.address, "meter", 60)
    ]
    state = decode_state(first.states["meter"])
    assert state["receipts"]["channels"][0][3] == 60

    # Epoch 2: a replay of 60 pays nothing, 90 pays 30 more, 200 would overdraw what is left.
    rows = [
        row(device, "meter", 2, 60, 2),
        row(device, "meter", 2, 90, 3),
        row(device, "meter", 2, 200, 4),
    ]
    second = run(networks, 2, rows, bought=100, spent_before={CONSUMER.address: 60},
                 states=first.states)  # fmt: skip
    assert second.spent == {(CONSUMER.address, "meter"): 30}
    (entry,) = second.rewards.manifest.devices
    assert entry.accepted == 1
    assert sorted(r.reason for r in entry.rejections) == ["bad_receipt", "bad_receipt"]
    assert decode_state(second.states["meter"])["receipts"]["channels"][0][3] == 90


def test_networks_share_a_consumers_credits_in_name_order() -> None:
    networks = registry("zeta", "alpha")
    a, z = DEVICES  # device 0 is on "alpha" (names are sorted), device 1 on "zeta"
    rows = [row(a, "alpha", 1, 70, 1), row(z, "zeta", 1, 70, 1)]
    out = run(networks, 1, rows, bought=100, spent_before={}, states={})
    assert out.spent == {(CONSUMER.address, "alpha"): 70}, "zeta saw only 30 left"
    rejected = [r.reason for d in out.rewards.manifest.devices for r in d.rejections]
    assert rejected == ["bad_receipt"]


def test_no_credits_no_spending_and_a_state_that_is_not_plain_data_is_refused() -> None:
    networks = registry("meter")
    out = run(
        networks, 1, [row(DEVICES[0], "meter", 1, 5, 1)], bought=0, spent_before={}, states={}
    )
    assert out.spent == {}

    class Bad(Meter):
        def next_prior(self, ctx: EpochContext, reports: Any, verdicts: Any) -> dict[str, Any]:
            return {"x": object()}

    bad = NetworkRegistry()
    bad.register(Bad("meter"))
    with pytest.raises(NetworkError, match="plain data"):
        run(bad, 1, [], bought=0, spent_before={}, states={})
    with pytest.raises(NetworkError, match="does not decode"):
        decode_state(canonical_encode([1, 2]))


def test_credit_balances_are_looked_up_never_listed() -> None:
    balances = CreditBalances(lambda c: 50, {"0xabc": 20})
    assert balances["0xabc"] == 30
    balances.spend("0xabc", 40)
    assert balances["0xabc"] == 0
    with pytest.raises(TypeError):
        list(balances)
