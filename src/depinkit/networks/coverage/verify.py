"""Verification of beacons, witnesses and receipts (docs/networks/coverage.md, "Checks").

Every report first passes the common checks (:func:`depinkit.networks.checks.precheck`).
Then, per kind, the checks below run in order and the first failure names the reason.

Beacon: ``no_location``, ``off_schedule``, ``stale_entropy``, ``bad_payload``,
``bad_frequency``, ``duplicate_beacon``.
Witness: ``no_location``, ``self_witness``, ``same_owner``, ``unknown_beacon``,
``payload_mismatch``, ``witness_too_early``, ``witness_too_late``, ``frequency_mismatch``,
``too_close``, ``too_far``, ``duplicate_witness``; then, over the whole epoch, the cheater
detectors (:mod:`depinkit.networks.coverage.cheaters`) and the denylist
(``denylisted``, ``beaconer_denied``), ``signal_too_strong``, and the selection of at most
``max_witnesses_per_beacon`` witnesses per beacon with the entropy (``not_selected``).
Receipt: see :mod:`depinkit.networks.coverage.data`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import Final, NamedTuple

import msgspec

from depinkit.core.envelope import report_id_hex
from depinkit.core.keys import keccak256
from depinkit.networks.checks import distinct_by_id, precheck
from depinkit.networks.context import EpochContext
from depinkit.networks.coverage import data
from depinkit.networks.coverage import parameters as P
from depinkit.networks.coverage.beacon import beacon_payload, beacon_window, slot_count
from depinkit.networks.coverage.cheaters import DETECTOR_REASONS, Flag, Link, detect_cheaters
from depinkit.networks.coverage.geo import (
    distance_mm,
    fspl_db10,
    hex_distance,
    ij_delta,
    lattice_q,
    location_cell,
)
from depinkit.networks.coverage.schemas import (
    BEACON,
    RECEIPT,
    WITNESS,
    Beacon,
    PacketReceipt,
    Witness,
)
from depinkit.networks.module import COMMON_REASONS, ReceivedReport, Verdict, accept, reject

KINDS: Final[Mapping[str, type[msgspec.Struct]]] = MappingProxyType(
    {BEACON: Beacon, WITNESS: Witness, RECEIPT: PacketReceipt}
)

# LoRaWAN regional bands (Hz, inclusive), by the ``region`` parameter's code.
REGION_BANDS_HZ: Final[Mapping[int, tuple[str, int, int]]] = MappingProxyType(
    {
        1: ("EU868", 863_000_000, 870_000_000),
        2: ("US915", 902_000_000, 928_000_000),
        3: ("AU915", 915_000_000, 928_000_000),
        4: ("AS923", 915_000_000, 928_000_000),
        5: ("KR920", 920_900_000, 923_300_000),
        6: ("IN865", 865_000_000, 867_000_000),
        7: ("CN470", 470_000_000, 510_000_000),
        8: ("EU433", 433_050_000, 434_790_000),
    }
)

# Reason codes of this network (beyond the common ones), in the order they are checked.
NO_LOCATION: Final[str] = "no_location"  # no asserted location at resolution >= 11
OFF_SCHEDULE: Final[str] = "off_schedule"  # not a slot of this epoch, or sent before its window
STALE_ENTROPY: Final[str] = "stale_entropy"  # sent after its window closed
BAD_PAYLOAD: Final[str] = "bad_payload"  # payload is not the one of this epoch, hotspot, slot
BAD_FREQUENCY: Final[str] = "bad_frequency"  # outside the region's band
DUPLICATE_BEACON: Final[str] = "duplicate_beacon"  # the slot is already counted
SELF_WITNESS: Final[str] = "self_witness"  # a hotspot cannot witness itself
SAME_OWNER: Final[str] = "same_owner"  # one owner's hotspots prove nothing to each other
UNKNOWN_BEACON: Final[str] = "unknown_beacon"  # no accepted beacon of that hotspot and slot
PAYLOAD_MISMATCH: Final[str] = "payload_mismatch"  # heard a different payload
WITNESS_TOO_EARLY: Final[str] = "witness_too_early"  # received before the beacon was sent
WITNESS_TOO_LATE: Final[str] = "witness_too_late"  # received later than the lag allows
FREQUENCY_MISMATCH: Final[str] = "frequency_mismatch"  # not the beacon's frequency
TOO_CLOSE: Final[str] = "too_close"  # nearer than min_witness_distance_cells
TOO_FAR: Final[str] = "too_far"  # farther than max_witness_distance_m
DUPLICATE_WITNESS: Final[str] = "duplicate_witness"  # this hotspot already witnessed the beacon
DENYLISTED: Final[str] = "denylisted"  # on the governance or the algorithmic denylist
BEACONER_DENIED: Final[str] = "beaconer_denied"  # the beacon's hotspot is denied
SIGNAL_TOO_STRONG: Final[str] = "signal_too_strong"  # RSSI above the free-space bound
NOT_SELECTED: Final[str] = "not_selected"  # valid, but beyond the per-beacon cap
REASONS: Final[tuple[str, ...]] = (
    *COMMON_REASONS,
    NO_LOCATION,
    OFF_SCHEDULE,
    STALE_ENTROPY,
    BAD_PAYLOAD,
    BAD_FREQUENCY,
    DUPLICATE_BEACON,
    SELF_WITNESS,
    SAME_OWNER,
    UNKNOWN_BEACON,
    PAYLOAD_MISMATCH,
    WITNESS_TOO_EARLY,
    WITNESS_TOO_LATE,
    FREQUENCY_MISMATCH,
    TOO_CLOSE,
    TOO_FAR,
    DUPLICATE_WITNESS,
    DENYLISTED,
    *DETECTOR_REASONS,
    BEACONER_DENIED,
    SIGNAL_TOO_STRONG,
    NOT_SELECTED,
    *data.REASONS,
)

FACT_SLOT: Final[str] = "slot"  # Verdict.facts: the beacon's slot
FACT_WITNESSES: Final[str] = "witnesses"  # Verdict.facts: witnesses selected for that beacon
FACT_BEACONER: Final[str] = "beaconer"  # Verdict.facts (witness): the beaconer's address as int
SELECT_TAG: Final[bytes] = b"depinkit/coverage/select/v1"  # domain separation of the selection
DENYLIST_KEY: Final[str] = "denylist"  # ctx.prior: governance denylist (addresses)
FLAGGED_KEY: Final[str] = "flagged"  # ctx.prior: {address: [until_epoch, reason]}


@dataclass(frozen=True)
class _Beacon:
    item: ReceivedReport
    body: Beacon


@dataclass(frozen=True)
class _Witness:
    item: ReceivedReport
    body: Witness
    link: Link


def prior_denials(ctx: EpochContext) -> dict[str, Flag]:
    """Hotspots denied before the epoch: governance's list, then unexpired algorithmic flags."""
    denied: dict[str, Flag] = {}
    flagged = ctx.prior.get(FLAGGED_KEY, {})
    if isinstance(flagged, Mapping):
        for hotspot in sorted(flagged):
            entry = flagged[hotspot]
            if (
                isinstance(entry, list | tuple)
                and len(entry) == 2
                and type(entry[0]) is int
                and entry[0] >= ctx.epoch
            ):
                denied[hotspot] = Flag(
                    DENYLISTED, f"algorithmic denylist ({entry[1]}) until epoch {entry[0]}"
                )
    governance = ctx.prior.get(DENYLIST_KEY, [])
    if isinstance(governance, list | tuple):
        for hotspot in sorted(h for h in governance if isinstance(h, str)):
            denied[hotspot] = Flag(DENYLISTED, "on the governance denylist")
    return denied


def asserted_cells(ctx: EpochContext) -> dict[str, int]:
    """res-11 asserted cell of every device that has one (the others cannot take part)."""
    cells = {}
    for address in sorted(ctx.devices):
        cell = location_cell(ctx.devices[address].h3_cell)
        if cell is not None:
            cells[address] = cell
    return cells


def _check_beacon(
    ctx: EpochContext, item: ReceivedReport, body: Beacon, cells: Mapping[str, int]
) -> Verdict | None:
    device = item.report.device
    if device not in cells:
        return reject(item, NO_LOCATION, "no asserted location at resolution 11 or finer")
    interval, window = ctx.param(P.BEACON_INTERVAL_S), ctx.param(P.ENTROPY_WINDOW_S)
    if body.slot >= slot_count(ctx.start_ms, ctx.end_ms, interval):
        return reject(item, OFF_SCHEDULE, f"slot {body.slot} is not a beacon slot of this epoch")
    opens, closes = beacon_window(
        ctx.entropy,
        device,
        body.slot,
        start_ms=ctx.start_ms,
        end_ms=ctx.end_ms,
        interval_s=interval,
        window_s=window,
    )
    if body.transmit_ms < opens:
        return reject(item, OFF_SCHEDULE, f"sent at {body.transmit_ms}, window opens at {opens}")
    if body.transmit_ms >= closes:
        return reject(item, STALE_ENTROPY, f"sent at {body.transmit_ms}, window closed {closes}")
    if body.payload != beacon_payload(ctx.entropy, device, body.slot):
        return reject(item, BAD_PAYLOAD, f"payload is not the one of slot {body.slot}")
    name, low, high = REGION_BANDS_HZ[ctx.param(P.REGION)]
    if not low <= body.frequency_hz <= high:
        return reject(item, BAD_FREQUENCY, f"{body.frequency_hz} Hz is outside {name}")
    return None


class _Limits(NamedTuple):
    """The witness checks' parameters, read once per epoch (not once per report)."""

    skew_ms: int
    lag_ms: int
    tolerance_hz: int
    min_cells: int
    max_m: int
    margin_db10: int

    @classmethod
    def of(cls, ctx: EpochContext) -> _Limits:
        return cls(
            ctx.param(P.CLOCK_SKEW_MS),
            ctx.param(P.WITNESS_LAG_MS),
            ctx.param(P.FREQUENCY_TOLERANCE_HZ),
            ctx.param(P.MIN_WITNESS_DISTANCE_CELLS),
            ctx.param(P.MAX_WITNESS_DISTANCE_M),
            ctx.param(P.FSPL_MARGIN_DB10),
        )


def _check_witness(
    ctx: EpochContext,
    item: ReceivedReport,
    body: Witness,
    cells: Mapping[str, int],
    beacons: Mapping[tuple[str, int], Beacon],
    limits: _Limits,
) -> Verdict | Link:
    device = item.report.device
    if device not in cells:
        return reject(item, NO_LOCATION, "no asserted location at resolution 11 or finer")
    if body.beaconer == device:
        return reject(item, SELF_WITNESS, "a hotspot cannot witness its own beacon")
    beaconer = ctx.devices.get(body.beaconer)
    if beaconer is not None and beaconer.owner == ctx.devices[device].owner:
        return reject(item, SAME_OWNER, f"{body.beaconer} has the same owner")
    beacon = beacons.get((body.beaconer, body.slot))
    if beacon is None:
        return reject(item, UNKNOWN_BEACON, f"no accepted beacon of slot {body.slot}")
    if body.payload != beacon.payload:
        return reject(item, PAYLOAD_MISMATCH, "payload differs from the beacon's")
    lag = body.received_ms - beacon.transmit_ms
    if lag < -limits.skew_ms:
        return reject(item, WITNESS_TOO_EARLY, f"received {-lag} ms before it was sent")
    if lag > limits.lag_ms:
        return reject(item, WITNESS_TOO_LATE, f"received {lag} ms after it was sent")
    if abs(body.frequency_hz - beacon.frequency_hz) > limits.tolerance_hz:
        return reject(
            item, FREQUENCY_MISMATCH, f"{body.frequency_hz} Hz, beacon {beacon.frequency_hz} Hz"
        )
    delta = ij_delta(cells[body.beaconer], cells[device])
    if delta is not None and hex_distance(*delta) < limits.min_cells:
        return reject(item, TOO_CLOSE, f"{hex_distance(*delta)} res-11 cells from the beaconer")
    q = lattice_q(*delta) if delta is not None else 0
    meters = distance_mm(q) // 1000
    if delta is None or meters > limits.max_m:
        shown = "beyond local coordinates" if delta is None else f"{meters} m"
        return reject(item, TOO_FAR, f"{shown} from the beaconer (limit {limits.max_m} m)")
    bound = beacon.tx_power_dbm * 10 + limits.margin_db10
    strong = body.rssi_dbm10 > bound - fspl_db10(q, beacon.frequency_hz)
    return Link(device, body.beaconer, body.slot, meters, strong)


def _tenths(value: int) -> str:
    """An integer in tenths as a decimal string, without floating point: -1234 -> "-123.4"."""
    sign = "-" if value < 0 else ""
    return f"{sign}{abs(value) // 10}.{abs(value) % 10}"


def selection_rank(entropy: bytes, beaconer: str, slot: int, witness: str) -> bytes:
    """Sort key choosing which witnesses of a beacon are rewarded: unknowable in advance."""
    # Both addresses passed the envelope's and the schema's checks: decode them directly.
    return keccak256(
        SELECT_TAG
        + entropy
        + bytes.fromhex(beaconer[2:])
        + slot.to_bytes(8, "big")
        + bytes.fromhex(witness[2:])
    )


def verify_coverage(ctx: EpochContext, reports: Sequence[ReceivedReport]) -> list[Verdict]:
    """One verdict per distinct report id, sorted by id, whatever the input order."""
    verdicts: dict[bytes, Verdict] = {}
    beacon_items: list[tuple[ReceivedReport, Beacon]] = []
    witness_items: list[tuple[ReceivedReport, Witness]] = []
    receipt_items: list[tuple[ReceivedReport, PacketReceipt]] = []
    for item in distinct_by_id(reports):
        body = precheck(ctx, item, KINDS)
        if isinstance(body, Verdict):
            verdicts[item.id] = body
        elif isinstance(body, Beacon):
            beacon_items.append((item, body))
        elif isinstance(body, Witness):
            witness_items.append((item, body))
        elif isinstance(body, PacketReceipt):
            receipt_items.append((item, body))
    cells = asserted_cells(ctx)

    # Beacons: per-report checks, then the earliest (transmit time, id) per slot.
    candidates: list[tuple[tuple[str, int, int, bytes], _Beacon]] = []
    for item, beacon in beacon_items:
        failed = _check_beacon(ctx, item, beacon, cells)
        if failed is not None:
            verdicts[item.id] = failed
        else:
            key = (item.report.device, beacon.slot, beacon.transmit_ms, item.id)
            candidates.append((key, _Beacon(item, beacon)))
    beacons: dict[tuple[str, int], _Beacon] = {}
    for (device, slot, _, _), sent in sorted(candidates, key=lambda c: c[0]):
        first = beacons.setdefault((device, slot), sent)
        if first is not sent:
            counted = report_id_hex(first.item.id)
            verdicts[sent.item.id] = reject(
                sent.item, DUPLICATE_BEACON, f"slot {slot} counted by {counted}"
            )
    bodies = {key: b.body for key, b in beacons.items()}

    # Witnesses: per-report checks, then one per (witness, beacon): the earliest.
    heard: list[tuple[tuple[str, str, int, int, bytes], _Witness]] = []
    limits = _Limits.of(ctx)
    for item, witness in witness_items:
        checked = _check_witness(ctx, item, witness, cells, bodies, limits)
        if isinstance(checked, Verdict):
            verdicts[item.id] = checked
        else:
            order = (checked.witness, checked.beaconer, checked.slot, witness.received_ms, item.id)
            heard.append((order, _Witness(item, witness, checked)))
    witnesses: dict[tuple[str, str, int], _Witness] = {}
    for (device, beaconer, slot, _, _), cand in sorted(heard, key=lambda h: h[0]):
        kept = witnesses.setdefault((device, beaconer, slot), cand)
        if kept is not cand:
            verdicts[cand.item.id] = reject(
                cand.item, DUPLICATE_WITNESS, f"already counted by {report_id_hex(kept.item.id)}"
            )

    # The epoch's witness graph: cheaters, then the denylist, then the per-beacon selection.
    flags = detect_cheaters(ctx, [w.link for _, w in sorted(witnesses.items())], cells)
    denied = {**prior_denials(ctx), **flags}
    for (device, _), sent in sorted(beacons.items()):
        if device in denied:
            flag = denied[device]
            verdicts[sent.item.id] = reject(sent.item, flag.reason, flag.detail)
    valid: dict[tuple[str, int], list[_Witness]] = {}
    for (device, beaconer, slot), cand in sorted(witnesses.items()):
        if device in denied:
            flag = denied[device]
            verdicts[cand.item.id] = reject(cand.item, flag.reason, flag.detail)
        elif beaconer in denied:
            verdicts[cand.item.id] = reject(
                cand.item, BEACONER_DENIED, f"{beaconer} is denied: {denied[beaconer].reason}"
            )
        elif cand.link.strong:
            verdicts[cand.item.id] = reject(
                cand.item,
                SIGNAL_TOO_STRONG,
                f"RSSI {_tenths(cand.body.rssi_dbm10)} dBm is impossible over "
                f"{cand.link.distance_m} m in free space",
            )
        else:
            valid.setdefault((beaconer, slot), []).append(cand)
    cap = ctx.param(P.MAX_WITNESSES_PER_BEACON)
    for (device, slot), sent in sorted(beacons.items()):
        if device in denied:
            continue
        ranked = sorted(
            valid.get((device, slot), []),
            key=lambda w: selection_rank(ctx.entropy, device, slot, w.link.witness),
        )
        chosen, rest = ranked[:cap], ranked[cap:]
        n = len(chosen)
        verdicts[sent.item.id] = accept(sent.item, **{FACT_SLOT: slot, FACT_WITNESSES: n})
        for w in chosen:
            verdicts[w.item.id] = accept(
                w.item,
                **{FACT_SLOT: slot, FACT_WITNESSES: n, FACT_BEACONER: int(device, 16)},
            )
        for w in rest:
            verdicts[w.item.id] = reject(
                w.item, NOT_SELECTED, f"beacon already has {cap} selected witnesses"
            )

    receipt_verdicts, _ = data.verify_receipts(ctx, receipt_items)
    verdicts.update(receipt_verdicts)
    return [verdicts[rid] for rid in sorted(verdicts)]
