"""Consumer receipts: signed for one domain only, cumulative, never spent twice or overdrawn."""

from __future__ import annotations

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st

from depinkit.core.envelope import ReportDomain
from depinkit.core.keys import Account
from depinkit.networks.receipts import (
    InsufficientCredits,
    Receipt,
    ReceiptBook,
    ReceiptError,
    ReplayedReceipt,
    sign_receipt,
    verify_receipt,
)

DOMAIN = ReportDomain(chain_id=31337, registry="0x5FbDB2315678afecb367f032d93F642f64180aa3")
CONSUMER = Account.from_key(b"\x11" * 32)
OTHER = Account.from_key(b"\x12" * 32)
PAYEE = Account.from_key(b"\x13" * 32).address
CHANNEL = b"\x07" * 32


def receipt(cumulative: int, *, channel: bytes = CHANNEL, by: Account = CONSUMER) -> Receipt:
    return sign_receipt(
        by, DOMAIN, network="storage", payee=PAYEE, channel=channel, cumulative=cumulative
    )


def test_a_signed_receipt_verifies_and_round_trips_on_the_wire() -> None:
    r = receipt(1_000)
    verify_receipt(DOMAIN, r)
    again = msgspec.msgpack.decode(msgspec.msgpack.encode(r), type=Receipt)
    assert again == r
    verify_receipt(DOMAIN, again)


@pytest.mark.parametrize(
    "change",
    [
        {"network": "compute"},
        {"payee": OTHER.address},
        {"channel": b"\x08" * 32},
        {"cumulative": 1_001},
        {"consumer": OTHER.address},
    ],
)
def test_any_changed_field_breaks_the_signature(change: dict[str, object]) -> None:
    forged = msgspec.structs.replace(receipt(1_000), **change)
    with pytest.raises(ReceiptError, match=r"signed by|signature"):
        verify_receipt(DOMAIN, forged)


@given(
    chain_id=st.integers(min_value=0, max_value=2**64 - 1),
    registry=st.binary(min_size=20, max_size=20),
)
def test_no_receipt_is_accepted_out_of_its_domain(chain_id: int, registry: bytes) -> None:
    from depinkit.core.keys import to_checksum

    other = ReportDomain(chain_id=chain_id, registry=to_checksum("0x" + registry.hex()))
    r = receipt(5)
    if other == DOMAIN:
        verify_receipt(other, r)
    else:
        with pytest.raises(ReceiptError):
            verify_receipt(other, r)


@pytest.mark.parametrize(
    "fields",
    [
        {"cumulative": 0},
        {"cumulative": 2**63},
        {"channel": b"\x01" * 31},
        {"payee": PAYEE.lower()},
        {"payee": CONSUMER.address},
        {"network": ""},
    ],
)
def test_malformed_fields_are_refused_before_signing(fields: dict[str, object]) -> None:
    args: dict[str, object] = {
        "network": "storage",
        "payee": PAYEE,
        "channel": CHANNEL,
        "cumulative": 10,
    }
    args.update(fields)
    with pytest.raises(ReceiptError):
        sign_receipt(CONSUMER, DOMAIN, **args)  # type: ignore[arg-type]


def test_a_garbage_signature_is_a_clear_error() -> None:
    bad = msgspec.structs.replace(receipt(3), signature=b"\x00" * 65)
    with pytest.raises(ReceiptError, match="signature"):
        verify_receipt(DOMAIN, bad)
    with pytest.raises(ReceiptError, match="domain"):
        verify_receipt(None, receipt(3))


def test_replay_and_overdraft_change_nothing() -> None:
    book = ReceiptBook({CONSUMER.address: 100})
    assert book.apply(receipt(60)) == 60
    with pytest.raises(ReplayedReceipt):
        book.apply(receipt(60))
    with pytest.raises(ReplayedReceipt):
        book.apply(receipt(10))
    with pytest.raises(InsufficientCredits):
        book.apply(receipt(161))
    assert book.balance(CONSUMER.address) == 40
    assert book.last(CONSUMER.address, PAYEE, CHANNEL) == 60
    assert book.apply(receipt(100)) == 40
    assert book.balance(CONSUMER.address) == 0


def test_state_round_trips_and_rejects_garbage() -> None:
    book = ReceiptBook({CONSUMER.address: 100})
    book.apply(receipt(30))
    again = ReceiptBook.from_state(book.state(), {CONSUMER.address: 70})
    assert again.last(CONSUMER.address, PAYEE, CHANNEL) == 30
    with pytest.raises(ReplayedReceipt):
        again.apply(receipt(30))
    for garbage in ({"channels": 5}, {"channels": [[1, 2]]}, {"channels": [["a", "b", "c", 1]]}):
        with pytest.raises(ReceiptError):
            ReceiptBook.from_state(garbage, {})


@given(
    balance=st.integers(min_value=0, max_value=10**6),
    steps=st.lists(
        st.tuples(st.integers(min_value=0, max_value=2), st.integers(min_value=1, max_value=10**6)),
        max_size=30,
    ),
)
def test_spent_never_exceeds_balance_and_nothing_is_paid_twice(
    balance: int, steps: list[tuple[int, int]]
) -> None:
    channels = [bytes([c]) * 32 for c in (1, 2, 3)]
    book = ReceiptBook({CONSUMER.address: balance})
    spent = 0
    for channel_index, cumulative in steps:
        channel = channels[channel_index]
        before = book.last(CONSUMER.address, PAYEE, channel)
        try:
            spent += book.apply(receipt(cumulative, channel=channel))
        except ReceiptError:
            assert book.last(CONSUMER.address, PAYEE, channel) == before
    paid = sum(book.last(CONSUMER.address, PAYEE, c) for c in channels)
    assert spent == paid <= balance
    assert book.balance(CONSUMER.address) == balance - spent


def test_decoding_refuses_out_of_range_cumulative() -> None:
    good = receipt(5)
    fields = list(msgspec.structs.astuple(good))
    fields[4] = 2**63
    raw = msgspec.msgpack.encode(fields)
    with pytest.raises(msgspec.ValidationError, match="9223372036854775807"):
        msgspec.msgpack.decode(raw, type=Receipt)


def test_nanocredits_round_down_and_refuse_garbage() -> None:
    from depinkit.networks.receipts import nanocredits

    assert nanocredits(10**18) == 10**9
    assert nanocredits(10**9 - 1) == 0
    for bad in (-1, 1.5, "7"):
        with pytest.raises(ReceiptError):
            nanocredits(bad)  # type: ignore[arg-type]
