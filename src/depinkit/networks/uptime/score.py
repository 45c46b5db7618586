"""Scoring of uptime (docs/networks/uptime.md, "Formulas").

points(device) = |{ slot in [0, slot_count) : some accepted heartbeat of the
device is in that slot }|, in the single bucket ``uptime``. Counting distinct
slots (not verdicts) keeps the bound points <= slot_count even for verdicts a
caller assembled by hand.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

from depinkit.networks.context import EpochContext
from depinkit.networks.module import Scores, Verdict
from depinkit.networks.uptime.challenge import slot_count
from depinkit.networks.uptime.parameters import SLOT_S
from depinkit.networks.uptime.verify import FACT_SLOT

BUCKET: Final[str] = "uptime"  # the only reward bucket: split.uptime on chain


def score_uptime(ctx: EpochContext, verdicts: Sequence[Verdict]) -> Scores:
    """Distinct slots online per device; devices without a point are left out."""
    slots_in_epoch = slot_count(ctx.start_ms, ctx.end_ms, ctx.param(SLOT_S))
    online: dict[str, set[int]] = {}
    for verdict in verdicts:
        slot = verdict.facts.get(FACT_SLOT)
        if verdict.accepted and slot is not None and 0 <= slot < slots_in_epoch:
            online.setdefault(verdict.device, set()).add(slot)
    return {BUCKET: {device: len(online[device]) for device in sorted(online)}}
