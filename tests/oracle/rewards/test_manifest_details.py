"""The manifest's ``details``: what networks publish about how their devices' points came about."""

from __future__ import annotations

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from depinkit.oracle.rewards import (
    DeviceDetails,
    RewardManifest,
    RewardManifestError,
    check_manifest,
    decode_manifest,
    decode_manifest_json,
    encode_manifest,
    manifest_json,
)

from .test_manifest import A, B, C, example

CELL_A, CELL_B = "8b1f18b2e0cbfff", "8b1f18b2e0c9fff"


def detail(network: str, device: str, **values: str) -> DeviceDetails:
    return DeviceDetails(network=network, device=device, values=values)


def with_details(*details: DeviceDetails) -> RewardManifest:
    return example(details=list(details))


def test_details_are_sorted_canonical_and_survive_both_encodings() -> None:
    manifest = with_details(
        detail("uptime", C, scale="1"),
        detail("storage", B.upper().replace("0X", "0x"), units="3/4", hex=CELL_B),
        detail("storage", A, scale="1/2", hex=CELL_A),
    )
    assert [(d.network, d.device) for d in manifest.details] == [
        ("storage", A),
        ("storage", B),  # lowercased
        ("uptime", C),
    ]
    assert list(manifest.details[1].values) == ["hex", "units"]  # names sorted
    check_manifest(manifest)
    assert decode_manifest(encode_manifest(manifest)) == manifest
    assert decode_manifest_json(manifest_json(manifest)) == manifest


def test_a_manifest_without_details_encodes_as_before() -> None:
    plain = example()
    assert plain.details == []
    assert b"details" not in encode_manifest(plain)  # omitted: older manifests' bytes hold
    assert b"details" not in manifest_json(plain)
    assert b"details" in encode_manifest(with_details(detail("uptime", C, scale="1")))


@settings(max_examples=30, deadline=None)
@given(st.permutations([(n, d) for n in ("storage", "uptime") for d in (A, B, C)]))
def test_the_order_details_arrive_in_does_not_matter(order: list[tuple[str, str]]) -> None:
    canonical = with_details(*(detail(n, d, hex=CELL_A, scale="1/2") for n, d in sorted(order)))
    shuffled = with_details(*(detail(n, d, scale="1/2", hex=CELL_A) for n, d in order))
    assert encode_manifest(shuffled) == encode_manifest(canonical)


@pytest.mark.parametrize(
    ("details", "message"),
    [
        ([detail("coverage", A, hex=CELL_A)], "unknown network"),
        ([detail("storage", A, hex=CELL_A), detail("storage", A.upper()[:2] + A[2:], hex="x")],
         "two details entries"),
        ([detail("storage", A)], "empty"),
        ([detail("storage", "0x1234", hex=CELL_A)], "0x1234"),
    ],
)  # fmt: skip
def test_bad_details_are_refused(details: list[DeviceDetails], message: str) -> None:
    with pytest.raises(RewardManifestError, match=message):
        example(details=details)


@pytest.mark.parametrize(
    "tamper",
    [
        lambda m: msgspec.structs.replace(m, details=list(reversed(m.details))),
        lambda m: msgspec.structs.replace(m, details=[m.details[0], m.details[0]]),
        lambda m: msgspec.structs.replace(
            m, details=[msgspec.structs.replace(m.details[0], network="coverage")]
        ),
    ],
)
def test_audit_checks_the_details_order_and_networks(tamper) -> None:  # type: ignore[no-untyped-def]
    manifest = with_details(detail("storage", A, hex=CELL_A), detail("storage", B, hex=CELL_B))
    with pytest.raises(RewardManifestError, match="details"):
        check_manifest(tamper(manifest))
