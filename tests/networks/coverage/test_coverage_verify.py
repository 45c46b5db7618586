"""Every check of the coverage verifier, each reason code reached on purpose."""

from __future__ import annotations

from pathlib import Path

import h3.api.basic_int as h3
import msgspec
import pytest
from coverage_kit import (
    ACCOUNTS,
    CONSUMER,
    DOMAIN,
    ENTROPY,
    EPOCH_MS,
    FREQ,
    START_MS,
    beacon,
    beacon_body,
    cell_at,
    context,
    params,
    receipt_report,
    received,
    transmit_time,
    witness,
)

from depinkit.networks import ReceivedReport, Verdict, run_module
from depinkit.networks.coverage import module, verify
from depinkit.networks.coverage import parameters as P
from depinkit.networks.coverage.beacon import beacon_payload
from depinkit.networks.receipts import FACT_CREDITS, FACT_PAYER, sign_receipt

SPEC = Path(__file__).resolve().parents[3] / "docs" / "networks" / "coverage.md"
A = ACCOUNTS
# Beaconer at the origin, witnesses ~1 km away in three directions, one 400 m (8 cells) away.
CELLS = {A[0]: cell_at(0), A[1]: cell_at(20), A[2]: cell_at(0, 20), A[3]: cell_at(-20, -20)}


def run(reports: list[ReceivedReport], **kw: object) -> dict[bytes, Verdict]:
    ctx = context(kw.pop("cells", CELLS), **kw)  # type: ignore[arg-type]
    verdicts, _ = run_module(module(), ctx, reports)
    return {v.report_id: v for v in verdicts}


def reason(report: ReceivedReport, others: list[ReceivedReport] | None = None, **kw: object) -> str:
    verdicts = run([report, *(others or [])], **kw)
    return verdicts[report.id].reason


def test_a_good_beacon_and_its_witnesses_are_accepted() -> None:
    reports = [beacon(A[0]), witness(A[1], A[0]), witness(A[2], A[0])]
    verdicts = run(reports)
    assert all(v.accepted for v in verdicts.values())
    assert verdicts[reports[0].id].facts == {"slot": 0, "witnesses": 2}
    assert verdicts[reports[1].id].facts["beaconer"] == int(A[0].address, 16)


def test_beacon_needs_an_asserted_location() -> None:
    for bad in (0, -1, 5, 2**70, h3.cell_to_parent(CELLS[A[0]], 10)):
        assert reason(beacon(A[0]), cells={**CELLS, A[0]: bad}) == verify.NO_LOCATION


def test_beacon_slot_must_exist() -> None:
    body = msgspec.structs.replace(  # six slots of 600 s in the hour: slot 6 does not exist
        beacon_body(A[0], 0), slot=6, payload=beacon_payload(ENTROPY, A[0].address, 6)
    )
    report = received(A[0], "beacon", body, START_MS + 100)
    assert reason(report) == verify.OFF_SCHEDULE


def test_beacon_before_its_window_is_off_schedule() -> None:
    early = transmit_time(A[0], 0) - 2_000
    assert reason(beacon(A[0], transmit_ms=early)) == verify.OFF_SCHEDULE


def test_beacon_after_its_window_has_stale_entropy() -> None:
    late = transmit_time(A[0], 0) + 60_000
    assert reason(beacon(A[0], transmit_ms=late)) == verify.STALE_ENTROPY


def test_beacon_payload_must_come_from_the_entropy() -> None:
    wrong = beacon_payload(bytes(32), A[0].address, 0)
    assert reason(beacon(A[0], payload=wrong)) == verify.BAD_PAYLOAD
    assert reason(beacon(A[0], payload=beacon_payload(ENTROPY, A[0].address, 1))) == (
        verify.BAD_PAYLOAD
    )


def test_beacon_frequency_must_be_in_the_region() -> None:
    assert reason(beacon(A[0], frequency_hz=915_000_000)) == verify.BAD_FREQUENCY
    us = params(**{P.REGION: 2})
    assert reason(beacon(A[0], frequency_hz=915_000_000), parameters=us) == ""


def test_second_beacon_in_a_slot_is_a_duplicate() -> None:
    first, second = beacon(A[0]), beacon(A[0], tx_power_dbm=20)
    verdicts = run([first, second])
    reasons = sorted(v.reason for v in verdicts.values())
    assert reasons == ["", verify.DUPLICATE_BEACON]


def test_witness_checks_in_order() -> None:
    b = beacon(A[0])
    assert reason(witness(A[1], A[0]), [b], cells={**CELLS, A[1]: 0}) == verify.NO_LOCATION
    assert reason(witness(A[0], A[0]), [b]) == verify.SELF_WITNESS
    same = {A[0]: "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"}
    same[A[1]] = same[A[0]]
    assert reason(witness(A[1], A[0]), [b], owners=same) == verify.SAME_OWNER
    assert reason(witness(A[1], A[0])) == verify.UNKNOWN_BEACON
    assert reason(witness(A[1], A[0], slot=1), [b]) == verify.UNKNOWN_BEACON
    assert reason(witness(A[1], A[0], payload=bytes(16)), [b]) == verify.PAYLOAD_MISMATCH
    assert reason(witness(A[1], A[0], lag_ms=-1_001), [b]) == verify.WITNESS_TOO_EARLY
    assert reason(witness(A[1], A[0], lag_ms=-1_000), [b]) == ""
    assert reason(witness(A[1], A[0], lag_ms=4_001), [b]) == verify.WITNESS_TOO_LATE
    assert reason(witness(A[1], A[0], lag_ms=4_000), [b]) == ""
    off = witness(A[1], A[0], frequency_hz=FREQ + 1_001)
    assert reason(off, [b]) == verify.FREQUENCY_MISMATCH
    assert reason(witness(A[1], A[0], frequency_hz=FREQ + 1_000), [b]) == ""


def test_witness_distance_limits() -> None:
    b = beacon(A[0])
    near = {**CELLS, A[1]: cell_at(7)}
    assert reason(witness(A[1], A[0]), [b], cells=near) == verify.TOO_CLOSE
    at_min = {**CELLS, A[1]: cell_at(8)}
    assert reason(witness(A[1], A[0]), [b], cells=at_min) == ""
    far = {**CELLS, A[1]: cell_at(2_100)}  # ~104 km
    assert reason(witness(A[1], A[0], rssi_dbm10=-1400), [b], cells=far) == verify.TOO_FAR
    limit = params(**{P.MAX_WITNESS_DISTANCE_M: 200_000})
    assert reason(witness(A[1], A[0], rssi_dbm10=-1400), [b], cells=far, parameters=limit) == ""


def test_witness_signal_must_not_beat_free_space() -> None:
    b = beacon(A[0])  # 14 dBm; ~993 m at 868.1 MHz: FSPL 91.1 dB; margin 20 dB -> -57.1 dBm
    assert reason(witness(A[1], A[0], rssi_dbm10=-572), [b]) == ""
    assert reason(witness(A[1], A[0], rssi_dbm10=-560), [b]) == verify.SIGNAL_TOO_STRONG


def test_duplicate_witness_keeps_the_earliest() -> None:
    b = beacon(A[0])
    early, late = witness(A[1], A[0], lag_ms=100), witness(A[1], A[0], lag_ms=200)
    verdicts = run([b, late, early])
    assert verdicts[early.id].accepted
    assert verdicts[late.id].reason == verify.DUPLICATE_WITNESS


def test_duplicate_witnesses_all_name_the_earliest_whatever_their_id_order() -> None:
    b = beacon(A[0])
    copies = [witness(A[1], A[0], lag_ms=lag) for lag in (500, 100, 400, 200, 300)]
    earliest = copies[1]
    assert sorted(c.id for c in copies) != [c.id for c in copies]  # ids not in time order
    verdicts = run([b, *copies])
    assert verdicts[earliest.id].accepted
    for late in copies:
        if late is not earliest:
            assert verdicts[late.id].reason == verify.DUPLICATE_WITNESS
            assert verdicts[late.id].detail.endswith(earliest.id.hex())


def test_witnesses_beyond_the_cap_are_not_selected_by_entropy() -> None:
    cells = {A[0]: cell_at(0), **{a: cell_at(10 * i, 10 + i) for i, a in enumerate(A[1:9])}}
    b = beacon(A[0])
    ws = [witness(a, A[0]) for a in A[1:9]]
    capped = params(**{P.MAX_WITNESSES_PER_BEACON: 5})
    verdicts = run([b, *ws], cells=cells, parameters=capped)
    accepted = [w for w in ws if verdicts[w.id].accepted]
    assert len(accepted) == 5
    assert sum(verdicts[w.id].reason == verify.NOT_SELECTED for w in ws) == 3
    assert verdicts[b.id].facts["witnesses"] == 5
    ranked = sorted(
        A[1:9], key=lambda a: verify.selection_rank(ENTROPY, A[0].address, 0, a.address)
    )
    assert {w.report.device for w in accepted} == {a.address for a in ranked[:5]}


def test_governance_denylist_rejects_both_roles() -> None:
    b, w1, w2 = beacon(A[0]), witness(A[1], A[0]), witness(A[2], A[0])
    verdicts = run([b, w1, w2], prior={"denylist": [A[1].address]})
    assert verdicts[w1.id].reason == verify.DENYLISTED
    assert verdicts[w2.id].accepted
    verdicts = run([b, w1, w2], prior={"denylist": [A[0].address]})
    assert verdicts[b.id].reason == verify.DENYLISTED
    assert verdicts[w1.id].reason == verify.BEACONER_DENIED


def test_algorithmic_denylist_expires() -> None:
    b, w1 = beacon(A[0]), witness(A[1], A[0])
    flagged = {"flagged": {A[1].address: [3, "collusion_ring"]}}
    assert run([b, w1], prior=flagged)[w1.id].reason == verify.DENYLISTED
    flagged = {"flagged": {A[1].address: [2, "collusion_ring"]}}
    assert run([b, w1], prior=flagged)[w1.id].accepted


def _receipt(cumulative: int, payee: int = 1, network: str = "coverage") -> ReceivedReport:
    r = sign_receipt(
        CONSUMER,
        DOMAIN,
        network=network,
        payee=A[payee].address,
        channel=b"\x01" * 32,
        cumulative=cumulative,
    )
    return receipt_report(A[1], r, START_MS + cumulative)


def test_receipts_pay_increases_within_credits() -> None:
    first, second = _receipt(100), _receipt(250)
    verdicts = run([second, first], credits={CONSUMER.address: 1_000})
    assert verdicts[first.id].facts == {FACT_CREDITS: 100, FACT_PAYER: int(CONSUMER.address, 16)}
    assert verdicts[second.id].facts[FACT_CREDITS] == 150
    verdicts = run([first, second], credits={CONSUMER.address: 120})
    assert verdicts[first.id].accepted
    assert verdicts[second.id].reason == "insufficient_credits"


def test_receipt_checks() -> None:
    credits = {CONSUMER.address: 1_000}
    assert reason(_receipt(10, payee=2), credits=credits) == "wrong_payee"
    assert reason(_receipt(10, network="storage"), credits=credits) == "receipt_network"
    replay = {"receipts": {"channels": [[CONSUMER.address, A[1].address, b"\x01" * 32, 10]]}}
    assert reason(_receipt(10), credits=credits, prior=replay) == "replayed_receipt"
    forged = sign_receipt(
        A[5], DOMAIN, network="coverage", payee=A[1].address, channel=b"\x01" * 32, cumulative=10
    )
    lying = msgspec.structs.replace(forged, consumer=CONSUMER.address)
    assert reason(receipt_report(A[1], lying), credits=credits) == "bad_receipt"


def test_every_reason_is_documented_once() -> None:
    assert len(set(verify.REASONS)) == len(verify.REASONS)
    text = SPEC.read_text(encoding="utf-8")
    missing = [r for r in verify.REASONS if f"`{r}`" not in text]
    assert not missing, missing


@pytest.mark.parametrize("offset_ms", [EPOCH_MS, -1])
def test_reports_outside_the_epoch_fail_the_common_checks(offset_ms: int) -> None:
    body = beacon_body(A[0])
    report = received(A[0], "beacon", body, START_MS + offset_ms if offset_ms > 0 else 0)
    assert reason(report) == "outside_epoch"
