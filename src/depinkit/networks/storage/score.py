"""Scoring of the storage network (docs/networks/storage.md, "Formulas").

Three buckets, each split by its governed share ``netKey("storage", "split.<bucket>")``:

- ``capacity``: bytes of pieces proven this epoch (one epoch of proven storage is one
  byte-epoch; GiB-epochs are this / 2^30), at most the provider's declared capacity,
  nothing while the provider is suspended;
- ``usage``: nanocredits consumers spent on the provider (stored and retrieved bytes,
  paid by receipts);
- ``repair``: bytes of rebuilt pieces whose first proof passed this epoch.

Only accepted verdicts count and only their facts are read; each bucket is bounded by
something the provider cannot inflate with more reports (deals, credits, repair queue).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

from depinkit.networks.context import EpochContext
from depinkit.networks.module import MAX_POINTS, Scores, Verdict
from depinkit.networks.receipts import FACT_CREDITS
from depinkit.networks.storage.state import decode_state
from depinkit.networks.storage.verify import (
    FACT_CAPACITY,
    FACT_PROVEN_BYTES,
    FACT_REPAIR_BYTES,
    FACT_SUSPENDED,
)

CAPACITY_BUCKET: Final[str] = "capacity"  # proven GiB-epochs
USAGE_BUCKET: Final[str] = "usage"  # credits spent by consumers
REPAIR_BUCKET: Final[str] = "repair"  # redundancy restored
BUCKETS: Final[tuple[str, ...]] = (CAPACITY_BUCKET, USAGE_BUCKET, REPAIR_BUCKET)
USAGE_POINT: Final[int] = 1  # nanocredits per usage point (receipts count nanocredits)


def _add(points: dict[str, int], device: str, value: int) -> None:
    if value > 0:
        points[device] = min(points.get(device, 0) + value, MAX_POINTS)


def score_storage(ctx: EpochContext, verdicts: Sequence[Verdict]) -> Scores:
    """Points per bucket per device from accepted verdicts' facts (see the module docstring)."""
    state = decode_state(ctx.prior)
    declared: dict[str, int] = {}
    proven: dict[str, int] = {}
    credits: dict[str, int] = {}
    repair: dict[str, int] = {}
    for v in sorted(verdicts, key=lambda v: v.report_id):
        if not v.accepted:
            continue
        facts = v.facts
        if FACT_CAPACITY in facts:
            declared[v.device] = max(declared.get(v.device, 0), facts[FACT_CAPACITY])
        if FACT_PROVEN_BYTES in facts and not facts.get(FACT_SUSPENDED, 0):
            _add(proven, v.device, facts[FACT_PROVEN_BYTES])
            _add(repair, v.device, facts.get(FACT_REPAIR_BYTES, 0))
        if FACT_CREDITS in facts:
            credits[v.device] = credits.get(v.device, 0) + max(facts[FACT_CREDITS], 0)
    usage: dict[str, int] = {}
    for device in sorted(credits):
        _add(usage, device, credits[device] // USAGE_POINT)
    capacity: dict[str, int] = {}
    for device in sorted(proven):
        record = state.providers.get(device)
        limit = declared.get(device, record.capacity_bytes if record is not None else 0)
        _add(capacity, device, min(proven[device], limit))
    return {
        CAPACITY_BUCKET: capacity,
        USAGE_BUCKET: {d: usage[d] for d in sorted(usage)},
        REPAIR_BUCKET: {d: repair[d] for d in sorted(repair)},
    }
