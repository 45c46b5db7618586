"""The coverage network as a :class:`~depinkit.networks.module.NetworkModule`."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from fractions import Fraction
from types import MappingProxyType
from typing import Any, Final

import h3.api.basic_int as h3

from depinkit.networks.checks import distinct_by_id, precheck
from depinkit.networks.context import EpochContext
from depinkit.networks.coverage import data
from depinkit.networks.coverage import parameters as P
from depinkit.networks.coverage.cheaters import DETECTOR_REASONS
from depinkit.networks.coverage.geo import location_cell
from depinkit.networks.coverage.rewards import BOOSTS_KEY, LOCATIONS_KEY
from depinkit.networks.coverage.schemas import BEACON, RECEIPT, WITNESS, PacketReceipt
from depinkit.networks.coverage.score import BUCKETS, COVERAGE, coverage_details, score_coverage
from depinkit.networks.coverage.verify import DENYLIST_KEY, FLAGGED_KEY, KINDS, verify_coverage
from depinkit.networks.module import (
    CHAIN_BOOSTS,
    CHAIN_DENYLIST,
    Explanation,
    NetworkModule,
    ReceivedReport,
    Scores,
    Verdict,
)

NAME = "coverage"
# explain(): the manifest's details of each hotspot the coverage bucket rewarded
HEX: Final[str] = "hex"  # its res-11 cell (the asserted cell, or its res-11 parent), H3 text
SCALE: Final[str] = "scale"  # the hex's HIP-17 density scale, a reduced fraction ("1/2", "1")
BOOST: Final[str] = "boost"  # the boosted-hex multiplier (1: none)
TRUST: Final[str] = "trust"  # the location-trust multiplier, a reduced fraction
UNITS: Final[str] = "units"  # its HIP-15 reward units this epoch, a reduced fraction


def _flagged(ctx: EpochContext, verdicts: Sequence[Verdict]) -> dict[str, list[Any]]:
    """Algorithmic denylist for the next epoch: unexpired entries plus this epoch's flags."""
    out: dict[str, list[Any]] = {}
    prior = ctx.prior.get(FLAGGED_KEY, {})
    if isinstance(prior, Mapping):
        for hotspot in sorted(prior):
            entry = prior[hotspot]
            if (
                isinstance(hotspot, str)
                and isinstance(entry, list | tuple)
                and len(entry) == 2
                and type(entry[0]) is int
                and isinstance(entry[1], str)
                and entry[0] > ctx.epoch
            ):
                out[hotspot] = [entry[0], entry[1]]
    until = ctx.epoch + ctx.param(P.DENY_EPOCHS)
    for v in sorted(verdicts, key=lambda v: v.report_id):
        if v.reason in DETECTOR_REASONS:
            out[v.device] = [until, v.reason]
    return dict(sorted(out.items()))


def _locations(ctx: EpochContext, verdicts: Sequence[Verdict]) -> dict[str, list[int]]:
    """[asserted cell, first epoch seen there, last epoch seen] per hotspot that reported."""
    prior = ctx.prior.get(LOCATIONS_KEY, {})
    out: dict[str, list[int]] = {}
    if isinstance(prior, Mapping):
        for hotspot in sorted(prior):
            entry = prior[hotspot]
            if (
                isinstance(hotspot, str)
                and isinstance(entry, list | tuple)
                and len(entry) == 3
                and all(type(x) is int for x in entry)
            ):
                out[hotspot] = list(entry)
    for device in sorted({v.device for v in verdicts}):
        info = ctx.devices.get(device)
        if info is None or location_cell(info.h3_cell) is None:
            continue
        entry = out.get(device)
        if entry is not None and entry[0] == info.h3_cell:
            out[device] = [entry[0], entry[1], max(entry[2], ctx.epoch)]
        else:
            out[device] = [info.h3_cell, ctx.epoch, ctx.epoch]
    return dict(sorted(out.items()))


def _exact(value: Fraction) -> str:
    """A fraction as exact text: "3/4", or "2" when whole (Fraction's own reduced form)."""
    return str(value)


class CoverageModule(NetworkModule):
    """Proof of coverage (beacons and witnesses on H3 hexes) and paid packet relay.

    The agent side (hotspot role and radio backends) lives in ``role.py`` and ``radio/``.
    """

    name = NAME
    kinds = MappingProxyType(dict(KINDS))
    buckets = BUCKETS
    parameters = P.PARAMETERS
    # Boosts and the governance denylist in force at the epoch's start block (HexBoosts)
    chain_inputs = MappingProxyType({BOOSTS_KEY: CHAIN_BOOSTS, DENYLIST_KEY: CHAIN_DENYLIST})

    def verify(self, ctx: EpochContext, reports: Sequence[ReceivedReport]) -> list[Verdict]:
        return verify_coverage(ctx, reports)

    def score(self, ctx: EpochContext, verdicts: Sequence[Verdict]) -> Scores:
        return score_coverage(ctx, verdicts)

    def explain(
        self, ctx: EpochContext, verdicts: Sequence[Verdict], scores: Scores
    ) -> Explanation:
        """Per hotspot with coverage points: hex, scale, boost, trust and units, from which
        ``points = floor(1_000_000 * units * scale * boost * trust)``."""
        rewarded = scores.get(COVERAGE, {})
        if not rewarded:
            return {}
        details = coverage_details(ctx, verdicts)
        return {
            device: {
                HEX: h3.int_to_str(d.hex),
                SCALE: _exact(d.scale),
                BOOST: str(d.boost),
                TRUST: _exact(d.trust),
                UNITS: _exact(d.units),
            }
            for device in sorted(rewarded)
            if (d := details.get(device)) is not None
        }

    def next_prior(
        self, ctx: EpochContext, reports: Sequence[ReceivedReport], verdicts: Sequence[Verdict]
    ) -> dict[str, Any]:
        """locations, flagged (algorithmic denylist), denylist and boosts carried forward
        (the epoch pipeline replaces these two with HexBoosts' at the next start block: see
        ``chain_inputs``), and the receipt book's last cumulative per channel."""
        receipts = []
        for item in distinct_by_id(r for r in reports if r.report.kind == RECEIPT):
            body = precheck(ctx, item, KINDS)
            if isinstance(body, PacketReceipt):
                receipts.append((item, body))
        _, book = data.verify_receipts(ctx, receipts)
        denylist = ctx.prior.get(DENYLIST_KEY, [])
        boosts = ctx.prior.get(BOOSTS_KEY, [])
        return {
            BOOSTS_KEY: [
                list(b)
                for b in (boosts if isinstance(boosts, list | tuple) else [])
                if isinstance(b, list | tuple)
                and len(b) == 3
                and all(type(x) is int for x in b)
                and b[2] > ctx.epoch
            ],
            DENYLIST_KEY: sorted(
                {
                    h
                    for h in (denylist if isinstance(denylist, list | tuple) else [])
                    if isinstance(h, str)
                }
            ),
            FLAGGED_KEY: _flagged(ctx, verdicts),
            LOCATIONS_KEY: _locations(ctx, verdicts),
            data.PRIOR_KEY: book.state(),
        }


__all__ = ["BEACON", "NAME", "RECEIPT", "WITNESS", "CoverageModule"]
