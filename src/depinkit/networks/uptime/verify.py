"""Verification of heartbeats (docs/networks/uptime.md, "Checks").

A heartbeat counts for its device and slot when it passes the common checks
(network, kind, body, epoch label, timestamp inside the epoch, device active on
this network: :func:`depinkit.networks.checks.precheck`) and carries the
challenge of its slot. Of several such heartbeats in one slot the earliest
(by timestamp, then report id) is accepted and the rest are ``duplicate_slot``:
a slot is worth one point however often a device speaks in it.
"""

from __future__ import annotations

from collections.abc import Sequence
from types import MappingProxyType
from typing import Final

from depinkit.core.envelope import report_id_hex
from depinkit.networks.checks import distinct_by_id, precheck
from depinkit.networks.context import EpochContext
from depinkit.networks.module import COMMON_REASONS, ReceivedReport, Verdict, accept, reject
from depinkit.networks.uptime.challenge import expected_challenge, slot_of
from depinkit.networks.uptime.parameters import SLOT_S
from depinkit.networks.uptime.schemas import HEARTBEAT, Heartbeat

KINDS: Final = MappingProxyType({HEARTBEAT: Heartbeat})

# Reason codes of this network (beyond the common ones in depinkit.networks.module).
MISSING_CHALLENGE: Final[str] = "missing_challenge"  # empty challenge: an agent that predates them
BAD_CHALLENGE: Final[str] = "bad_challenge"  # not the challenge of its slot
DUPLICATE_SLOT: Final[str] = "duplicate_slot"  # its slot is already counted by another heartbeat
REASONS: Final[tuple[str, ...]] = (
    *COMMON_REASONS,
    MISSING_CHALLENGE,
    BAD_CHALLENGE,
    DUPLICATE_SLOT,
)

FACT_SLOT: Final[str] = "slot"  # Verdict.facts key: slot index within the epoch


def verify_heartbeats(ctx: EpochContext, reports: Sequence[ReceivedReport]) -> list[Verdict]:
    """One verdict per distinct report id, sorted by id, whatever the input order."""
    slot_s = ctx.param(SLOT_S)
    verdicts: dict[bytes, Verdict] = {}
    answered: list[tuple[str, int, int, bytes, ReceivedReport]] = []
    for item in distinct_by_id(reports):
        checked = precheck(ctx, item, KINDS)
        if isinstance(checked, Verdict):
            verdicts[item.id] = checked
            continue
        assert isinstance(checked, Heartbeat)
        report = item.report
        slot = slot_of(report.timestamp_ms, ctx.start_ms, slot_s)
        if not checked.challenge:
            verdicts[item.id] = reject(item, MISSING_CHALLENGE, f"no challenge for slot {slot}")
        elif checked.challenge != expected_challenge(ctx.entropy, report.device, slot):
            verdicts[item.id] = reject(
                item, BAD_CHALLENGE, f"challenge is not the one for slot {slot} of this epoch"
            )
        else:
            answered.append((report.device, slot, report.timestamp_ms, item.id, item))
    counted: dict[tuple[str, int], bytes] = {}
    for device, slot, _, rid, item in sorted(answered, key=lambda a: a[:4]):
        first = counted.setdefault((device, slot), rid)
        if first == rid:
            verdicts[rid] = accept(item, **{FACT_SLOT: slot})
        else:
            verdicts[rid] = reject(
                item, DUPLICATE_SLOT, f"slot {slot} already counted by {report_id_hex(first)}"
            )
    return [verdicts[rid] for rid in sorted(verdicts)]
