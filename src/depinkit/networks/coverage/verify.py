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

from collections.abc import Iterable, Mapping, Sequence
from functools import lru_cache
from operator import itemgetter
from types import MappingProxyType
from typing import Any, Final, NamedTuple

import msgspec

from depinkit.core.envelope import report_id_hex
from depinkit.core.gcpause import gc_paused
from depinkit.core.keys import keccak256
from depinkit.networks.checks import distinct_reports, precheck_many
from depinkit.networks.context import EpochContext
from depinkit.networks.coverage import data, split
from depinkit.networks.coverage import parameters as P
from depinkit.networks.coverage.beacon import beacon_payload, beacon_window, slot_count
from depinkit.networks.coverage.cheaters import (
    DETECTOR_REASONS,
    Flag,
    Link,
    detect_cheaters,
    impossible_moves,
    merge_round,
    relay_flags,
)
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
from depinkit.networks.coverage.split import WitnessResult
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


class _Beacon(NamedTuple):
    item: ReceivedReport
    body: Beacon


# A witness report that passed its per-report checks, as check_witness_batch gives it: a list
# (the worker's answers decode as lists; one object per report, no copies). The verifier makes
# its addresses canonical in place and appends the report (ITEM).
(
    RECEIVED_MS,
    RSSI_DBM10,
    BEACONER,
    SLOT,
    DISTANCE_M,
    STRONG,
    RANK,
    AHEAD_I,
    AHEAD_J,
    BACK_I,
    BACK_J,
    WITNESS_ADDRESS,
    ITEM,
) = range(13)
Candidate = list[Any]


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
    select_tag: bytes  # SELECT_TAG + entropy: the start of every selection rank's preimage

    @classmethod
    def of(cls, ctx: EpochContext) -> _Limits:
        return cls(
            ctx.param(P.CLOCK_SKEW_MS),
            ctx.param(P.WITNESS_LAG_MS),
            ctx.param(P.FREQUENCY_TOLERANCE_HZ),
            ctx.param(P.MIN_WITNESS_DISTANCE_CELLS),
            ctx.param(P.MAX_WITNESS_DISTANCE_M),
            ctx.param(P.FSPL_MARGIN_DB10),
            SELECT_TAG + ctx.entropy,
        )


# The free-space bound depends only on (lattice distance, frequency); a city's witnesses repeat
# the same few thousand pairs, and the exact integer logarithm is the costliest step of a check.
_fspl_db10 = lru_cache(maxsize=1 << 16)(fspl_db10)


def _check_witness(
    item: ReceivedReport,
    body: Witness,
    cells: Mapping[str, int],
    owners: Mapping[str, str],
    beacons: Mapping[tuple[str, int], Beacon],
    limits: _Limits,
) -> Verdict | list[Any]:
    """A rejection, or the link's values (see :func:`check_witness_batch`)."""
    device = item.report.device
    cell = cells.get(device)
    if cell is None:
        return reject(item, NO_LOCATION, "no asserted location at resolution 11 or finer")
    if body.beaconer == device:
        return reject(item, SELF_WITNESS, "a hotspot cannot witness its own beacon")
    if owners.get(body.beaconer, None) == owners[device]:
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
    delta = ij_delta(cells[body.beaconer], cell)
    if delta is not None and hex_distance(*delta) < limits.min_cells:
        return reject(item, TOO_CLOSE, f"{hex_distance(*delta)} res-11 cells from the beaconer")
    q = lattice_q(*delta) if delta is not None else 0
    meters = distance_mm(q) // 1000
    if delta is None or meters > limits.max_m:
        shown = "beyond local coordinates" if delta is None else f"{meters} m"
        return reject(item, TOO_FAR, f"{shown} from the beaconer (limit {limits.max_m} m)")
    bound = beacon.tx_power_dbm * 10 + limits.margin_db10
    strong = body.rssi_dbm10 > bound - _fspl_db10(q, beacon.frequency_hz)
    # What later steps need per link, computed here because this step runs on every core:
    # the selection rank (selection_rank) and the reverse IJ delta (the cheater geometry).
    rank = keccak256(
        limits.select_tag
        + bytes.fromhex(body.beaconer[2:])
        + body.slot.to_bytes(8, "big")
        + bytes.fromhex(device[2:])
    )
    back = ij_delta(cell, cells[body.beaconer])
    back_i, back_j = (None, None) if back is None else back
    i, j = delta
    return [
        body.received_ms,
        body.rssi_dbm10,
        body.beaconer,
        body.slot,
        meters,
        strong,
        rank,
        i,
        j,
        back_i,
        back_j,
        device,
    ]


def check_witness_batch(
    ctx: EpochContext,
    items: Sequence[ReceivedReport],
    cells: Mapping[str, int],
    owners: Mapping[str, str],
    beacons: Mapping[tuple[str, int], Beacon],
) -> list[WitnessResult]:
    """The common and the per-report witness checks of ``items`` (all of kind ``witness``).

    Per report: ``(reason, detail)`` when rejected, else a :data:`Candidate` without its
    ITEM: the link it makes, its :func:`selection_rank`, the witness's IJ delta from the
    beaconer (AHEAD_*) and the beaconer's from the witness (BACK_*, None when H3 cannot
    say), the witness's address. Plain values, so a worker process can send them.
    """
    limits = _Limits.of(ctx)
    out: list[WitnessResult] = []
    for item, body in zip(items, precheck_many(ctx, items, KINDS), strict=True):
        if isinstance(body, Witness):
            checked = _check_witness(item, body, cells, owners, beacons, limits)
            if not isinstance(checked, Verdict):
                out.append(checked)
                continue
            body = checked
        assert isinstance(body, Verdict)  # precheck of a witness report: a Witness or a Verdict
        out.append((body.reason, body.detail))
    return out


def _tenths(value: int) -> str:
    """An integer in tenths as a decimal string, without floating point: -1234 -> "-123.4"."""
    sign = "-" if value < 0 else ""
    return f"{sign}{abs(value) // 10}.{abs(value) % 10}"


def selection_rank(entropy: bytes, beaconer: str, slot: int, witness: str) -> bytes:
    """Sort key choosing which witnesses of a beacon are rewarded: unknowable in advance."""
    return keccak256(_selection_prefix(entropy, beaconer, slot) + bytes.fromhex(witness[2:]))


def _selection_prefix(entropy: bytes, beaconer: str, slot: int) -> bytes:
    # Both addresses passed the envelope's and the schema's checks: decode them directly.
    return SELECT_TAG + entropy + bytes.fromhex(beaconer[2:]) + slot.to_bytes(8, "big")


def _select(candidates: list[Candidate], cap: int) -> tuple[list[Candidate], list[Candidate]]:
    """The (at most ``cap``) witnesses of one beacon ranked first by :func:`selection_rank`."""
    if len(candidates) <= cap:  # every one is chosen: no ranking needed
        return candidates, []
    ranked = sorted(candidates, key=itemgetter(RANK))
    return ranked[:cap], ranked[cap:]


def _distinct_witnesses(
    items: Sequence[ReceivedReport],
    results: Sequence[WitnessResult],
    cells: Mapping[str, int],
    verdicts: dict[bytes, Verdict],
) -> dict[tuple[str, str, int], Candidate]:
    """One candidate per (witness, beaconer, slot): the earliest (received time, id).

    Rejections of the per-report checks and of duplicates go to ``verdicts``.
    """
    # One string object per address from here on (each report decoded its own copies): every
    # later dictionary and set operation on addresses then compares by identity.
    canonical = {address: address for address in cells}
    witnesses: dict[tuple[str, str, int], Candidate] = {}
    doubles: dict[tuple[str, str, int], list[Candidate]] = {}
    cand: Candidate
    for item, cand in zip(items, results, strict=True):  # type: ignore[assignment]
        if len(cand) == 2:
            verdicts[item.id] = reject(item, cand[0], cand[1])
            continue
        device = cand[WITNESS_ADDRESS] = canonical[cand[WITNESS_ADDRESS]]
        beaconer = cand[BEACONER] = canonical[cand[BEACONER]]
        cand.append(item)
        pair = (device, beaconer, cand[SLOT])
        kept = witnesses.setdefault(pair, cand)
        if kept is not cand:
            if (cand[RECEIVED_MS], item.id) < (kept[RECEIVED_MS], kept[ITEM].id):
                witnesses[pair] = cand
                cand = kept
            doubles.setdefault(pair, []).append(cand)
    for pair, losers in doubles.items():
        counted = report_id_hex(witnesses[pair][ITEM].id)
        for cand in losers:
            verdicts[cand[ITEM].id] = reject(
                cand[ITEM], DUPLICATE_WITNESS, f"already counted by {counted}"
            )
    return witnesses


def _links(candidates: Iterable[Candidate]) -> list[Link]:
    """The witness graph's edges, as the cheater detectors take them."""
    return [
        Link(
            c[WITNESS_ADDRESS],
            c[BEACONER],
            c[SLOT],
            c[DISTANCE_M],
            c[STRONG],
            ((c[AHEAD_I], c[AHEAD_J]), None if c[BACK_I] is None else (c[BACK_I], c[BACK_J])),
        )
        for c in candidates
    ]


def _judge(
    key: tuple[str, int],
    sent: _Beacon,
    candidates: list[Candidate],
    denied: Mapping[str, Flag],
    cap: int,
    verdicts: dict[bytes, Verdict],
) -> None:
    """The verdicts of one accepted beacon and of its distinct witnesses, given the denials."""
    beaconer, slot = key
    flag = denied.get(beaconer)
    if flag is not None:
        verdicts[sent.item.id] = reject(sent.item, flag.reason, flag.detail)
        for cand in candidates:
            item, own = cand[ITEM], denied.get(cand[WITNESS_ADDRESS])
            verdicts[item.id] = (
                reject(item, own.reason, own.detail)
                if own is not None
                else reject(item, BEACONER_DENIED, f"{beaconer} is denied: {flag.reason}")
            )
        return
    valid = []
    for cand in candidates:
        own = denied.get(cand[WITNESS_ADDRESS]) if denied else None
        if own is not None:
            verdicts[cand[ITEM].id] = reject(cand[ITEM], own.reason, own.detail)
        elif cand[STRONG]:
            verdicts[cand[ITEM].id] = reject(
                cand[ITEM],
                SIGNAL_TOO_STRONG,
                f"RSSI {_tenths(cand[RSSI_DBM10])} dBm is impossible over "
                f"{cand[DISTANCE_M]} m in free space",
            )
        else:
            valid.append(cand)
    chosen, rest = _select(valid, cap)
    n = len(chosen)
    verdicts[sent.item.id] = accept(sent.item, **{FACT_SLOT: slot, FACT_WITNESSES: n})
    beaconer_int = int(beaconer, 16)
    for w in chosen:
        item = w[ITEM]
        # accept() with the facts already in key order (beaconer, slot, witnesses)
        verdicts[item.id] = Verdict(
            item.id,
            w[WITNESS_ADDRESS],
            True,
            facts={FACT_BEACONER: beaconer_int, FACT_SLOT: slot, FACT_WITNESSES: n},
        )
    if rest:
        detail = f"beacon already has {cap} selected witnesses"
        for w in rest:
            item = w[ITEM]  # reject(), with the witness's address already at hand
            verdicts[item.id] = Verdict(item.id, w[WITNESS_ADDRESS], False, NOT_SELECTED, detail)


def _edges(candidates: Sequence[Candidate]) -> split.Edges:
    """The columns the worker's graph detectors read."""
    return split.Edges(
        witness=[c[WITNESS_ADDRESS] for c in candidates],
        beaconer=[c[BEACONER] for c in candidates],
        strong=[c[STRONG] for c in candidates],
        ahead_i=[c[AHEAD_I] for c in candidates],
        ahead_j=[c[AHEAD_J] for c in candidates],
        back_i=[c[BACK_I] for c in candidates],
        back_j=[c[BACK_J] for c in candidates],
    )


def verify_coverage(ctx: EpochContext, reports: Sequence[ReceivedReport]) -> list[Verdict]:
    """One verdict per distinct report id, sorted by id, whatever the input order.

    Runs with the cyclic garbage collector paused: a million reports make millions of
    acyclic objects that the collector would otherwise walk again and again.
    """
    with gc_paused():
        return _verify_coverage(ctx, reports)


def _verify_coverage(ctx: EpochContext, reports: Sequence[ReceivedReport]) -> list[Verdict]:
    cells = asserted_cells(ctx)
    with split.worker_for(len(reports), ctx, cells) as worker:  # None for a small epoch
        return _verify_with(ctx, reports, cells, worker)


def _verify_with(
    ctx: EpochContext,
    reports: Sequence[ReceivedReport],
    cells: Mapping[str, int],
    worker: split.Worker | None,
) -> list[Verdict]:
    verdicts: dict[bytes, Verdict] = {}
    beacon_items: list[tuple[ReceivedReport, Beacon]] = []
    witness_reports: list[ReceivedReport] = []
    receipt_items: list[tuple[ReceivedReport, PacketReceipt]] = []
    # Every step below gives the same verdicts whatever order it walks the reports in (the
    # beacons and receipts are sorted where it matters), so they are walked in the order
    # they came, which is the order they lie in memory; only the result is sorted by id.
    distinct = distinct_reports(reports)
    others: list[ReceivedReport] = []
    for item in distinct.values():
        if item.report.kind == WITNESS and item.report.network == ctx.network:
            witness_reports.append(item)  # checked below, once the beacons are known
        else:
            others.append(item)
    for item, body in zip(others, precheck_many(ctx, others, KINDS), strict=True):
        if isinstance(body, Verdict):
            verdicts[item.id] = body
        elif isinstance(body, Beacon):
            beacon_items.append((item, body))
        elif isinstance(body, PacketReceipt):
            receipt_items.append((item, body))

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

    # Witnesses: per-report checks (in two processes when there are many), then one per
    # (witness, beacon): the earliest (received time, id). A running minimum, not a sort:
    # duplicates are rare.
    owners = {address: view.owner for address, view in ctx.devices.items()}
    if worker is None:
        results = check_witness_batch(ctx, witness_reports, cells, owners, bodies)
    else:
        results = worker.checks(check_witness_batch, ctx, witness_reports, cells, owners, bodies)
    witnesses = _distinct_witnesses(witness_reports, results, cells, verdicts)
    del results

    # The epoch's witness graph: cheaters, then the denylist, then the per-beacon selection.
    # With a worker, the graph detectors run there while the relay detector runs here and
    # every beacon is judged with the denials known before the epoch; the beacons a new flag
    # touches are then judged again (a beacon's verdicts depend only on its own hotspots).
    cands = list(witnesses.values())  # the detectors: a set, any order
    moves = impossible_moves(ctx, sorted(cells))
    pending = None if worker is None else worker.graph(_edges(cands), cells)
    prior = prior_denials(ctx)
    flags = detect_cheaters(ctx, _links(cands), cells, moves) if pending is None else None
    by_beacon: dict[tuple[str, int], list[Candidate]] = {}
    for cand in cands:
        by_beacon.setdefault((cand[BEACONER], cand[SLOT]), []).append(cand)
    relay = {}
    if pending is not None:
        groups = ([(c[DISTANCE_M], c[WITNESS_ADDRESS]) for c in g] for g in by_beacon.values())
        relay = relay_flags(ctx, groups)
    cap = ctx.param(P.MAX_WITNESSES_PER_BEACON)
    denied = prior if flags is None else {**prior, **flags}
    for beacon_slot, sent in beacons.items():
        _judge(beacon_slot, sent, by_beacon.get(beacon_slot, []), denied, cap, verdicts)
    if flags is None:
        assert worker is not None  # pending came from it
        graph = worker.graph_flags(pending)
        first_round = None if graph is None else merge_round(graph, relay, moves)
        if (
            first_round is not None and not first_round
        ):  # no flag in the first round: detection ends
            flags = first_round
        else:
            flags = detect_cheaters(ctx, _links(cands), cells, moves, first_round)
        if flags:
            denied = {**prior, **flags}
            touched = {b for b in beacons if b[0] in flags}
            touched.update((c[BEACONER], c[SLOT]) for c in cands if c[WITNESS_ADDRESS] in flags)
            for beacon_slot in sorted(touched):
                _judge(
                    beacon_slot,
                    beacons[beacon_slot],
                    by_beacon.get(beacon_slot, []),
                    denied,
                    cap,
                    verdicts,
                )

    receipt_items.sort(key=lambda pair: pair[0].id)
    receipt_verdicts, _ = data.verify_receipts(ctx, receipt_items)
    verdicts.update(receipt_verdicts)
    return [verdicts[report_id] for report_id in sorted(distinct)]
