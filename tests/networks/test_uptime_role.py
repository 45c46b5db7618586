"""The uptime agent role: what it produces is what the uptime verifier accepts."""

from __future__ import annotations

import random
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import msgspec
import pytest
from uptime_kit import ACCOUNTS, DOMAIN, ENTROPY, EPOCH, EPOCH_MS, SLOT, START_MS, context

from depinkit.agent.config import RoleSettings
from depinkit.agent.errors import RoleError
from depinkit.agent.roles import RoleContext
from depinkit.core.envelope import report_id, sign_report
from depinkit.networks import ReceivedReport
from depinkit.networks.beacon import Beacon
from depinkit.networks.uptime import module
from depinkit.networks.uptime.role import OracleBeacons, UptimeRole, uptime_role_factory

BEACON = Beacon(
    epoch=EPOCH,
    start_ms=START_MS,
    end_ms=START_MS + EPOCH_MS,
    block=1234,
    entropy="0x" + ENTROPY.hex(),
    parameters={"uptime": {"slot_s": SLOT}},
)


class FixedBeacons:
    def __init__(self, beacon: Beacon | None) -> None:
        self.value = beacon

    def beacon(self, epoch: int) -> Beacon | None:
        return self.value if self.value is not None and self.value.epoch == epoch else None


def ctx(now_ms: int, epoch: int = EPOCH, device: str = ACCOUNTS[0].address) -> RoleContext:
    return RoleContext(
        device=device,
        now_ms=now_ms,
        epoch=epoch,
        started_ms=START_MS - 5_000,
        data_dir=Path("."),
        rng=random.Random(0),
    )


def test_one_heartbeat_per_slot_and_all_accepted() -> None:
    role = UptimeRole(FixedBeacons(BEACON), interval_s=SLOT / 2)
    account = ACCOUNTS[0]
    received = []
    for seq, now in enumerate(range(START_MS, START_MS + EPOCH_MS, SLOT * 500)):  # 2 ticks a slot
        for network, kind, body in role.produce(ctx(now)):
            report = sign_report(
                account, DOMAIN, network=network, kind=kind, seq=seq,
                timestamp_ms=now, epoch=EPOCH, body=body,
            )  # fmt: skip
            received.append(ReceivedReport(id=report_id(DOMAIN, report), report=report))
    slots = EPOCH_MS // (SLOT * 1000)
    assert len(received) == slots, "exactly one heartbeat per slot"
    uptime = module()
    verdicts = uptime.verify(context(), received)
    assert all(v.accepted for v in verdicts), [v.reason for v in verdicts if not v.accepted]
    assert uptime.score(context(), verdicts)["uptime"][account.address] == slots


def test_nothing_without_a_beacon_or_outside_its_epoch() -> None:
    assert UptimeRole(FixedBeacons(None)).produce(ctx(START_MS)) == []
    role = UptimeRole(FixedBeacons(BEACON))
    assert role.produce(ctx(START_MS + EPOCH_MS)) == [], "past the beacon's epoch end"
    assert role.produce(ctx(START_MS, epoch=EPOCH + 1)) == [], "beacon of another epoch"


def test_factory_refuses_options() -> None:
    with pytest.raises(RoleError, match="takes no options"):
        uptime_role_factory(["http://127.0.0.1:9"])(RoleSettings(name="uptime", options={"x": 1}))


@pytest.fixture
def beacon_server() -> Iterator[tuple[str, dict[str, bytes]]]:
    """A loopback HTTP server answering beacon paths from a dict (body per path)."""
    bodies: dict[str, bytes] = {}

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = bodies.get(self.path)
            self.send_response(200 if body is not None else 404)
            self.end_headers()
            self.wfile.write(body or b"{}")

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", bodies
    finally:
        server.shutdown()
        server.server_close()


def test_oracle_beacons_over_http_skip_bad_answers(
    beacon_server: tuple[str, dict[str, bytes]],
) -> None:
    url, bodies = beacon_server
    path = f"/v1/epochs/{EPOCH}/beacon"
    dead = "http://127.0.0.1:9"  # nothing listens on the discard port
    bodies[path] = b"[" * 50_000  # hostile: deeply nested and oversized
    assert OracleBeacons([dead, url]).beacon(EPOCH) is None
    bodies[path] = msgspec.json.encode(msgspec.structs.replace(BEACON, epoch=EPOCH + 1))
    assert OracleBeacons([url]).beacon(EPOCH) is None, "a beacon for another epoch is refused"
    bodies[path] = msgspec.json.encode(BEACON)
    assert OracleBeacons([dead, url]).beacon(EPOCH) == BEACON
