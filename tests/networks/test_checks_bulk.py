"""precheck_many gives exactly what precheck gives, report by report, whatever the bodies."""

from __future__ import annotations

from typing import Any

import msgspec
from hypothesis import given
from hypothesis import strategies as st
from tests.networks.coverage import coverage_kit as kit

from depinkit.core.canonical import canonical_encode
from depinkit.networks import ReceivedReport, Verdict
from depinkit.networks.checks import precheck, precheck_many
from depinkit.networks.coverage import NAME
from depinkit.networks.coverage.verify import KINDS

HOTSPOTS = kit.ACCOUNTS[:3]
CTX = kit.context({a: kit.cell_at(20 * i) for i, a in enumerate(HOTSPOTS)})
GOOD = canonical_encode(kit.beacon_body(HOTSPOTS[0]))
GOOD_WITNESS = kit.witness(HOTSPOTS[1], HOTSPOTS[0]).report.body


def _with_body(kind: str, body: bytes, *, network: str = NAME, epoch: int = kit.EPOCH) -> Any:
    base = kit.beacon(HOTSPOTS[0]).report
    report = msgspec.structs.replace(base, kind=kind, body=body, network=network, epoch=epoch)
    return ReceivedReport(id=bytes(32), report=report)


BODIES = st.sampled_from(
    [
        ("beacon", GOOD),
        ("witness", GOOD_WITNESS),
        ("beacon", GOOD[:-1]),  # truncated
        ("beacon", GOOD + b"\x00"),  # trailing byte
        ("beacon", GOOD + GOOD),  # two values in one body
        ("beacon", b""),  # nothing
        ("witness", GOOD),  # a beacon where a witness belongs
        ("beacon", b"\xc0"),  # nil
        ("unknown", GOOD),
    ]
)


@given(st.lists(st.tuples(BODIES, st.booleans(), st.booleans()), max_size=12))
def test_precheck_many_matches_precheck_item_by_item(
    specs: list[tuple[tuple[str, bytes], bool, bool]],
) -> None:
    items = [
        _with_body(
            kind,
            body,
            network=NAME if right_network else "other",
            epoch=kit.EPOCH if right_epoch else kit.EPOCH + 1,
        )
        for (kind, body), right_network, right_epoch in specs
    ]
    assert precheck_many(CTX, items, KINDS) == [precheck(CTX, item, KINDS) for item in items]


def test_a_value_split_across_two_bodies_is_refused_for_both() -> None:
    """Two bodies that are malformed alone but whose concatenation decodes must not pass."""
    first, second = GOOD + GOOD[: len(GOOD) // 2], GOOD[len(GOOD) // 2 :]
    items = [_with_body("beacon", first), _with_body("beacon", second)]
    verdicts = precheck_many(CTX, items, KINDS)
    assert [getattr(v, "reason", None) for v in verdicts] == ["malformed_body"] * 2
    assert verdicts == [precheck(CTX, item, KINDS) for item in items]


def test_valid_bodies_decode_in_bulk_to_the_same_values() -> None:
    items = [kit.beacon(a) for a in HOTSPOTS] + [kit.witness(HOTSPOTS[1], HOTSPOTS[0])]
    bulk = precheck_many(CTX, items, KINDS)
    assert bulk == [precheck(CTX, item, KINDS) for item in items]
    assert not any(isinstance(v, Verdict) for v in bulk)
