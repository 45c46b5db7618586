"""Uptime challenges and slots, and the spec page that documents them."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from eth_utils import keccak
from uptime_kit import ACCOUNTS, ENTROPY

from depinkit.networks import NetworkError
from depinkit.networks.uptime import (
    CHALLENGE_BYTES,
    REASONS,
    expected_challenge,
    module,
    slot_count,
    slot_of,
)

SPEC = Path(__file__).resolve().parents[2] / "docs" / "networks" / "uptime.md"
DEVICE = ACCOUNTS[0].address


def test_challenge_matches_the_spec_formula() -> None:
    preimage = (
        b"depinkit/uptime/challenge/v1"
        + ENTROPY
        + bytes.fromhex(DEVICE[2:])
        + (5).to_bytes(8, "big")
    )
    assert expected_challenge(ENTROPY, DEVICE, 5) == keccak(preimage)[:16]
    assert CHALLENGE_BYTES == 16


def test_challenge_depends_on_every_input() -> None:
    base = expected_challenge(ENTROPY, DEVICE, 0)
    assert len(base) == CHALLENGE_BYTES
    assert expected_challenge(ENTROPY, DEVICE, 0) == base
    assert expected_challenge(ENTROPY, DEVICE.lower(), 0) == base  # the address, not its text
    others = {
        expected_challenge(ENTROPY, DEVICE, 1),
        expected_challenge(ENTROPY, ACCOUNTS[1].address, 0),
        expected_challenge(b"\x00" * 32, DEVICE, 0),
    }
    assert base not in others and len(others) == 3


@pytest.mark.parametrize(
    ("entropy", "slot"), [(b"\x00" * 31, 0), (b"\x00" * 33, 0), (ENTROPY, -1), (ENTROPY, 2**64)]
)
def test_bad_challenge_inputs(entropy: bytes, slot: int) -> None:
    with pytest.raises(NetworkError):
        expected_challenge(entropy, DEVICE, slot)


def test_slots() -> None:
    assert [slot_of(t, 1_000, 10) for t in (1_000, 10_999, 11_000, 61_000)] == [0, 0, 1, 6]
    assert slot_count(0, 60_000, 10) == 6
    assert slot_count(0, 60_001, 10) == 7
    assert slot_count(0, 60_000, 3600) == 1
    with pytest.raises(NetworkError):
        slot_of(999, 1_000, 10)
    with pytest.raises(NetworkError):
        slot_count(5, 5, 10)
    with pytest.raises(NetworkError):
        slot_count(0, 5, 0)


def test_spec_lists_every_parameter_with_its_default() -> None:
    text = SPEC.read_text()
    for param in module().parameters:
        row = re.search(rf"^\| `{param.name}` \| (\d+) \| {param.unit} \|", text, re.MULTILINE)
        assert row is not None, f"{param.name} missing from the parameter table"
        assert int(row.group(1)) == param.default
        assert f'netKey(keccak256("uptime"), "{param.name}")' in text


def test_spec_lists_every_reason_code() -> None:
    section = SPEC.read_text().split("## Reason codes", 1)[1]
    assert re.findall(r"`([a-z_]+)`", section) == list(REASONS)
