"""The data bucket: packet-relay receipts (docs/networks/coverage.md, "Data transfer").

A hotspot that relays a consumer's packets keeps the newest receipt per channel and hands
it in as a ``receipt`` report. A receipt counts when it is signed by its consumer for this
deployment and this network, names the reporting hotspot as payee, and pays more than the
channel's previous receipt within what the consumer still has (:class:`ReceiptBook` over
``ctx.prior["receipts"]`` and ``ctx.credits``). Receipts are applied in a fixed order
(consumer, channel, payee, cumulative, report id), so when credits run out every oracle
refuses the same ones.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Final

from depinkit.networks.context import EpochContext
from depinkit.networks.coverage.schemas import PacketReceipt
from depinkit.networks.module import ReceivedReport, Verdict, accept, reject
from depinkit.networks.receipts import (
    FACT_CREDITS,
    FACT_PAYER,
    InsufficientCredits,
    ReceiptBook,
    ReceiptError,
    ReplayedReceipt,
    verify_receipt,
)

BAD_RECEIPT: Final[str] = "bad_receipt"  # malformed or not signed by its consumer here
WRONG_PAYEE: Final[str] = "wrong_payee"  # the receipt pays another device
RECEIPT_NETWORK: Final[str] = "receipt_network"  # the receipt pays for another network
REPLAYED_RECEIPT: Final[str] = "replayed_receipt"  # pays nothing beyond the channel's last one
INSUFFICIENT_CREDITS: Final[str] = "insufficient_credits"  # the consumer cannot pay that much
REASONS: Final[tuple[str, ...]] = (
    BAD_RECEIPT,
    RECEIPT_NETWORK,
    WRONG_PAYEE,
    REPLAYED_RECEIPT,
    INSUFFICIENT_CREDITS,
)
PRIOR_KEY: Final[str] = "receipts"  # ctx.prior entry holding ReceiptBook.state()


def receipt_book(ctx: EpochContext) -> ReceiptBook:
    """The book at the start of the epoch (an empty history when the prior is malformed)."""
    state = ctx.prior.get(PRIOR_KEY, {})
    try:
        return ReceiptBook.from_state(state if isinstance(state, Mapping) else {}, ctx.credits)
    except ReceiptError:
        return ReceiptBook(ctx.credits)


def verify_receipts(
    ctx: EpochContext, items: Sequence[tuple[ReceivedReport, PacketReceipt]]
) -> tuple[dict[bytes, Verdict], ReceiptBook]:
    """A verdict per receipt report, and the book after applying the accepted ones."""
    book = receipt_book(ctx)
    verdicts: dict[bytes, Verdict] = {}
    valid = []
    for item, body in items:
        receipt = body.receipt
        if receipt.network != ctx.network:
            verdicts[item.id] = reject(
                item, RECEIPT_NETWORK, f"receipt pays for {receipt.network!r}"
            )
            continue
        if receipt.payee != item.report.device:
            verdicts[item.id] = reject(item, WRONG_PAYEE, f"receipt pays {receipt.payee}")
            continue
        try:
            verify_receipt(ctx.domain, receipt)
        except ReceiptError as exc:
            verdicts[item.id] = reject(item, BAD_RECEIPT, str(exc))
            continue
        order = (receipt.consumer, receipt.channel, receipt.payee, receipt.cumulative, item.id)
        valid.append((order, item, receipt))
    for _, item, receipt in sorted(valid, key=lambda v: v[0]):
        try:
            spent = book.apply(receipt)
        except ReplayedReceipt as exc:
            verdicts[item.id] = reject(item, REPLAYED_RECEIPT, str(exc))
        except InsufficientCredits as exc:
            verdicts[item.id] = reject(item, INSUFFICIENT_CREDITS, str(exc))
        else:
            payer = int(receipt.consumer, 16)
            verdicts[item.id] = accept(item, **{FACT_CREDITS: spent, FACT_PAYER: payer})
    return verdicts, book
