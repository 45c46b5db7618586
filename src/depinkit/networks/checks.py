"""The checks every network runs before its own: shared, so each module need not.

Order (the first failing check names the reason): network, kind, body,
epoch label, timestamp window, registry (known, on this network, active).
The envelope signature is not checked here: ingest verified it before the
report was stored, and an oracle only verifies what its store holds.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import msgspec

from depinkit.core.canonical import canonical_encode
from depinkit.core.envelope import decode_body
from depinkit.core.errors import DecodeError
from depinkit.networks.context import DEVICE_ACTIVE, EpochContext
from depinkit.networks.module import (
    INACTIVE_DEVICE,
    MALFORMED_BODY,
    NETWORK_MISMATCH,
    OUTSIDE_EPOCH,
    UNKNOWN_DEVICE,
    UNKNOWN_KIND,
    WRONG_EPOCH,
    WRONG_NETWORK,
    ReceivedReport,
    Verdict,
    reject,
)


def distinct_by_id(reports: Iterable[ReceivedReport]) -> list[ReceivedReport]:
    """Reports sorted by id, one per id (a second copy of a report adds nothing).

    Sorting first is what makes every module's result independent of the
    order reports arrived in.
    """
    unique = distinct_reports(reports)
    return [unique[i] for i in sorted(unique)]


def distinct_reports(reports: Iterable[ReceivedReport]) -> dict[bytes, ReceivedReport]:
    """One report per id, by id, in the order the ids first came (not sorted).

    Which report an id keeps does not depend on the order: a second copy of a report adds
    nothing, and of two different reports under one (forged) id the one with the smaller
    canonical encoding stays. For steps whose result does not depend on the order they
    walk the reports in, and that walk them faster in the order they were loaded.
    """
    unique: dict[bytes, ReceivedReport] = {}
    for item in reports:
        kept = unique.setdefault(item.id, item)
        if kept is not item and kept != item:  # a forged id: keep one by content, not by order
            unique[item.id] = min(kept, item, key=lambda r: canonical_encode(r.report))
    return unique


def precheck(
    ctx: EpochContext, item: ReceivedReport, kinds: Mapping[str, type[msgspec.Struct]]
) -> Verdict | msgspec.Struct:
    """A rejection verdict, or the decoded body when every common check passes."""
    report = item.report
    if report.network != ctx.network:
        return reject(item, WRONG_NETWORK, f"report is for network {report.network!r}")
    body_type = kinds.get(report.kind)
    if body_type is None:
        return reject(item, UNKNOWN_KIND, f"{ctx.network} has no report kind {report.kind!r}")
    try:
        body = decode_body(report, body_type)
    except DecodeError as exc:
        return reject(item, MALFORMED_BODY, f"body is not a valid {report.kind}: {exc}")
    return _after_body(ctx, item, body)


def precheck_many(
    ctx: EpochContext, items: Sequence[ReceivedReport], kinds: Mapping[str, type[msgspec.Struct]]
) -> list[Verdict | msgspec.Struct]:
    """``[precheck(ctx, item, kinds) for item in items]``, with the bodies decoded in bulk.

    A million reports make a million Python-level decode calls in :func:`precheck`; here the
    bodies of one kind are decoded as one msgpack array, and each value's canonical encoding
    is compared with its body in C-level loops. Any body that is malformed or not canonical
    makes its whole kind fall back to :func:`precheck`, so the verdicts are the same either
    way, and so is the order of the checks.
    """
    out: list[Verdict | msgspec.Struct | None] = [None] * len(items)
    by_kind: dict[str, list[int]] = {}
    for index, item in enumerate(items):
        report = item.report
        if report.network == ctx.network and report.kind in kinds:
            by_kind.setdefault(report.kind, []).append(index)
        else:
            out[index] = precheck(ctx, item, kinds)
    for kind in sorted(by_kind):
        indices = by_kind[kind]
        bodies = _decode_bodies([items[i].report.body for i in indices], kinds[kind])
        if bodies is None:
            for i in indices:
                out[i] = precheck(ctx, items[i], kinds)
            continue
        for i, body in zip(indices, bodies, strict=True):
            out[i] = _after_body(ctx, items[i], body)
    return out  # type: ignore[return-value]  # every slot was filled above


def _decode_bodies(bodies: list[bytes], body_type: type[msgspec.Struct]) -> list[Any] | None:
    """Every body decoded as ``body_type`` when all are valid and canonical; else None."""
    if not bodies:
        return []
    # the array header canonical msgpack gives a list of this length: encode as many
    # one-byte zeros and drop them
    header = canonical_encode([0] * len(bodies))[: -len(bodies)]
    packed = header + b"".join(bodies)
    try:
        values = msgspec.msgpack.decode(packed, type=list[body_type])  # type: ignore[valid-type]
    except (msgspec.MsgspecError, UnicodeError, RecursionError, ValueError, TypeError):
        return None
    # Each body must be exactly its value's canonical encoding: this also pins the element
    # boundaries (a body carrying one value and a half, completed by the next, fails here).
    if not all(map(bytes.__eq__, map(canonical_encode, values), bodies)):
        return None
    return values


def _after_body(
    ctx: EpochContext, item: ReceivedReport, body: msgspec.Struct
) -> Verdict | msgspec.Struct:
    """The checks :func:`precheck` runs once the body decoded (same order, same reasons)."""
    report = item.report
    if report.epoch != ctx.epoch:
        return reject(item, WRONG_EPOCH, f"labelled epoch {report.epoch}, settling {ctx.epoch}")
    if not ctx.start_ms <= report.timestamp_ms < ctx.end_ms:
        return reject(
            item,
            OUTSIDE_EPOCH,
            f"timestamp {report.timestamp_ms} outside [{ctx.start_ms}, {ctx.end_ms})",
        )
    device = ctx.devices.get(report.device)
    if device is None:
        return reject(item, UNKNOWN_DEVICE, f"device {report.device} is not registered")
    if device.network != ctx.network:
        return reject(item, NETWORK_MISMATCH, f"device is registered on {device.network!r}")
    if device.status != DEVICE_ACTIVE:
        return reject(item, INACTIVE_DEVICE, f"device is {device.status}")
    return body
