"""The ingest service over real HTTP on loopback, on SQLite and PostgreSQL."""

from __future__ import annotations

import base64
from collections.abc import Callable

import httpx
import msgspec

from depinkit.core import Account, ReportDomain, encode_report, encode_report_json, report_id
from depinkit.oracle.store import DeviceStatus

from .conftest import NOW_MS, Ingest, Reading, make_report


def _batch(*reports: object) -> bytes:
    return msgspec.msgpack.encode({"reports": [encode_report(r) for r in reports]})  # type: ignore[arg-type]


def test_single_report_is_stored_once_and_acknowledged_twice(
    ingest: Ingest, add_device: Callable[..., Account], domain: ReportDomain
) -> None:
    device = add_device()
    report = make_report(device, domain, seq=1)
    rid = "0x" + report_id(domain, report).hex()
    first = ingest.post(encode_report(report))
    assert first.status_code == 200
    assert first.json() == {"id": rid, "status": "accepted"}
    again = ingest.post(encode_report(report))
    assert again.status_code == 200
    assert again.json() == {"id": rid, "status": "duplicate"}
    assert ingest.store.count_reports() == 1

    stored = ingest.client.get(f"/v1/reports/{rid}").json()
    assert stored["device"] == device.address
    assert stored["seq"] == 1
    assert stored["received_ms"] == NOW_MS
    assert base64.b64decode(stored["report"]) == encode_report(report)
    assert ingest.client.get("/v1/reports/0x" + "00" * 32).status_code == 404
    assert ingest.client.get("/v1/reports/nothex").json()["code"] == "bad_query"


def test_json_single_and_batch(
    ingest: Ingest, add_device: Callable[..., Account], domain: ReportDomain
) -> None:
    device = add_device()
    one, two, three = (make_report(device, domain, seq=s) for s in (1, 2, 3))
    single = ingest.post(encode_report_json(one), "application/json")
    assert single.json()["status"] == "accepted"
    batch = b'{"reports": [%s, %s, %s]}' % (
        encode_report_json(one),
        encode_report_json(two),
        encode_report_json(three),
    )
    reply = ingest.post(batch, "application/json; charset=utf-8")
    assert reply.status_code == 200
    assert [r["status"] for r in reply.json()["results"]] == ["duplicate", "accepted", "accepted"]
    # The stored form is the canonical msgpack, whatever the request's media type.
    row = ingest.store.get_report(report_id(domain, two))
    assert row is not None and row.raw == encode_report(two)


def test_batch_gets_a_result_per_report(
    ingest: Ingest, add_device: Callable[..., Account], domain: ReportDomain
) -> None:
    device = add_device()
    stranger = Account.generate()
    retired = add_device(status=DeviceStatus.UNBONDING)
    weather_device = add_device(network="weather")
    stored = make_report(device, domain, seq=5)
    assert ingest.post(encode_report(stored)).status_code == 200

    good = make_report(device, domain, seq=1)
    forged = make_report(stranger, domain, seq=2, device=device.address)
    reports = [
        good,  # 0 accepted
        good,  # 1 duplicate within the batch
        forged,  # 2 bad_signature
        make_report(stranger, domain, seq=1),  # 3 unknown_device
        make_report(retired, domain, seq=1),  # 4 inactive_device
        make_report(device, domain, seq=3, network="storage"),  # 5 unknown_network
        make_report(device, domain, seq=3, kind="audit"),  # 6 unknown_kind
        make_report(device, domain, seq=3, network="weather", kind="reading",
                    body=msgspec.msgpack.encode(Reading(1))),  # 7 network_mismatch
        make_report(device, domain, seq=3, body=b"\x91\xa1x"),  # 8 malformed_body
        make_report(device, domain, seq=3, timestamp_ms=NOW_MS + 10**6),  # 9 future
        make_report(device, domain, seq=3, timestamp_ms=NOW_MS - 10**9),  # 10 too old
        make_report(device, domain, seq=1, epoch=9),  # 11 seq_replayed (within batch)
        make_report(device, domain, seq=5, epoch=9),  # 12 seq_replayed (stored)
        stored,  # 13 duplicate of a stored report
        make_report(weather_device, domain, seq=0, network="weather", kind="reading",
                    body=msgspec.msgpack.encode(Reading(290_000))),  # 14 accepted
    ]  # fmt: skip
    body = msgspec.msgpack.encode(
        {"reports": [encode_report(r) for r in reports[:3]] + [b"\x93\x01\x02\x03"]}
    )
    assert ingest.post(body).json()["results"][3]["code"] == "malformed"

    reply = ingest.post(_batch(*reports))
    assert reply.status_code == 200
    results = reply.json()["results"]
    assert [r["index"] for r in results] == list(range(len(reports)))
    assert [r.get("code") or r["status"] for r in results] == [
        "duplicate",  # accepted by the first (partly malformed) batch above
        "duplicate",
        "bad_signature",
        "unknown_device",
        "inactive_device",
        "unknown_network",
        "unknown_kind",
        "network_mismatch",
        "malformed_body",
        "timestamp_in_future",
        "timestamp_too_old",
        "seq_replayed",
        "seq_replayed",
        "duplicate",
        "accepted",
    ]
    assert ingest.store.count_reports() == 3  # stored, good, the weather reading


def test_whole_body_problems(ingest: Ingest, add_device: Callable[..., Account],
                             domain: ReportDomain) -> None:  # fmt: skip
    device = add_device()
    reports = [make_report(device, domain, seq=s) for s in range(ingest.settings.max_batch + 1)]
    too_many = ingest.post(_batch(*reports))
    assert too_many.status_code == 413 and too_many.json()["code"] == "too_large"
    not_a_batch = ingest.post(msgspec.msgpack.encode({"reports": 5}))
    assert not_a_batch.status_code == 400 and not_a_batch.json()["code"] == "malformed"
    empty = ingest.post(b"")
    assert empty.status_code == 400 and empty.json()["code"] == "malformed"
    text = ingest.post(encode_report(reports[0]), "text/plain")
    assert text.status_code == 415 and text.json()["code"] == "unsupported_media_type"
    huge = ingest.post(b"\x00" * (20 * 1024 * 1024))
    assert huge.status_code == 413 and huge.json()["code"] == "too_large"
    assert ingest.store.count_reports() == 0


def test_listing_pages_by_device_and_epoch(
    ingest: Ingest, add_device: Callable[..., Account], domain: ReportDomain
) -> None:
    a, b = add_device(), add_device()
    reports = [make_report(a, domain, seq=s, epoch=s % 2) for s in range(7)]
    reports += [make_report(b, domain, seq=s, epoch=1) for s in range(3)]
    assert ingest.post(_batch(*reports)).json()["accepted"] == 10
    seen: list[str] = []
    after = None
    while True:
        params: dict[str, str | int] = {"device": a.address, "epoch": 1, "limit": 2}
        if after:
            params["after"] = after
        page = ingest.client.get("/v1/reports", params=params).json()
        seen += [r["id"] for r in page["reports"]]
        after = page["next"]
        if after is None:
            break
    expected = sorted("0x" + report_id(domain, r).hex() for r in reports[:7] if r.epoch == 1)
    assert seen == expected
    bad = ingest.client.get("/v1/reports", params={"epoch": "soon"})
    assert bad.status_code == 400 and bad.json()["code"] == "bad_query"


def test_msgpack_responses_metrics_and_openapi(
    ingest: Ingest, add_device: Callable[..., Account], domain: ReportDomain
) -> None:
    device = add_device()
    good, stranger = make_report(device, domain, seq=1), make_report(Account.generate(), domain)
    reply = ingest.client.post(
        "/v1/reports",
        content=_batch(good, good, stranger),
        headers={"content-type": "application/msgpack", "accept": "application/msgpack"},
    )
    assert reply.headers["content-type"] == "application/msgpack"
    decoded = msgspec.msgpack.decode(reply.content)
    assert (decoded["accepted"], decoded["duplicates"], decoded["rejected"]) == (1, 1, 1)

    text = ingest.client.get("/metrics").text
    assert 'depinkit_ingest_reports_accepted_total{network="uptime"} 1.0' in text
    assert "depinkit_ingest_reports_duplicate_total 1.0" in text
    assert 'depinkit_ingest_reports_rejected_total{reason="unknown_device"} 1.0' in text
    assert "depinkit_ingest_request_seconds_count 1.0" in text

    spec = ingest.client.get("/v1/openapi.json").json()
    assert {"/v1/reports", "/v1/reports/{report_id}", "/v1/health"} <= set(spec["paths"])
    assert "application/msgpack" in spec["paths"]["/v1/reports"]["post"]["requestBody"]["content"]
    assert {"BatchResult", "ErrorBody", "Outcome"} <= set(spec["components"]["schemas"])
    assert ingest.client.get("/openapi.json").json() == spec
    assert ingest.client.get("/v1/health").json()["chain_id"] == 31337


def test_concurrent_copies_of_a_batch_are_stored_once(
    ingest: Ingest, add_device: Callable[..., Account], domain: ReportDomain
) -> None:
    from concurrent.futures import ThreadPoolExecutor

    device = add_device()
    body = _batch(*(make_report(device, domain, seq=s) for s in range(20)))

    def post(_: int) -> list[str]:
        with httpx.Client(base_url=ingest.url, timeout=60) as client:
            reply = client.post(
                "/v1/reports", content=body, headers={"content-type": "application/msgpack"}
            )
        assert reply.status_code == 200, reply.text
        return [r["status"] for r in reply.json()["results"]]

    with ThreadPoolExecutor(4) as pool:
        answers = list(pool.map(post, range(4)))
    for index in range(20):
        statuses = sorted(answer[index] for answer in answers)
        assert statuses == ["accepted", "duplicate", "duplicate", "duplicate"]
    assert ingest.store.count_reports() == 20


def test_deeply_nested_batches_are_malformed_not_a_crash(ingest: Ingest) -> None:
    depth = 200_000  # deeper than the recursion limit web3 (py_ecc) sets at import
    for media, body in [
        ("application/json", b'{"reports": [' + b"[" * depth + b"]" * depth + b"]}"),
        ("application/msgpack", b"\x81\xa7reports\x91" + b"\x91" * depth + b"\xc0"),
    ]:
        reply = ingest.post(body, media)
        assert reply.status_code == 400 and reply.json()["code"] == "malformed"
    assert ingest.client.get("/v1/health").status_code == 200
