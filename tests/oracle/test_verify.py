"""The ingest's fast verifier agrees with core.verify_report on every input."""

from __future__ import annotations

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from depinkit.core import Account, InvalidSignature, ReportDomain, report_id, verify_report
from depinkit.oracle.verify import ReportVerifier

from .conftest import CHAIN_ID, REGISTRY, make_report

DOMAIN = ReportDomain(chain_id=CHAIN_ID, registry=REGISTRY)
KEYS = [Account.generate() for _ in range(3)]


def _outcome(fn: object, report: object) -> bytes | str:
    try:
        return fn(report)  # type: ignore[operator]
    except InvalidSignature:
        return "invalid"


@settings(max_examples=150, deadline=None)
@given(
    key=st.sampled_from(KEYS),
    claimed=st.sampled_from(KEYS),
    seq=st.integers(0, 2**63 - 1),
    epoch=st.integers(0, 2**63 - 1),
    body=st.binary(max_size=300),
    sig_edit=st.none() | st.tuples(st.integers(0, 64), st.integers(0, 255)),
)
def test_fast_verifier_matches_core(
    key: Account,
    claimed: Account,
    seq: int,
    epoch: int,
    body: bytes,
    sig_edit: tuple[int, int] | None,
) -> None:
    report = make_report(key, DOMAIN, seq=seq, epoch=epoch, body=body, device=claimed.address)
    if sig_edit is not None:
        sig = bytearray(report.signature)
        sig[sig_edit[0]] = sig_edit[1]
        report = msgspec.structs.replace(report, signature=bytes(sig))
    verifier = ReportVerifier(DOMAIN)
    assert verifier.digest(report) == report_id(DOMAIN, report)
    assert _outcome(verifier.verify, report) == _outcome(lambda r: verify_report(DOMAIN, r), report)


def test_valid_report_verifies_to_its_id() -> None:
    report = make_report(KEYS[0], DOMAIN, seq=3)
    assert ReportVerifier(DOMAIN).verify(report) == report_id(DOMAIN, report)
    other = ReportVerifier(ReportDomain(chain_id=1, registry=REGISTRY))
    with pytest.raises(InvalidSignature):
        other.verify(report)
