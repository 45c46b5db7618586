"""The consumer's packet router: hotspots deliver uplinks here and are paid per packet.

After Helium's packet router: hotspots send every uplink they hear to the router, which
deduplicates, pays the first delivery (or a governed number of copies) of each packet and
hands its end devices' data on. Here it runs on loopback for the consumer that owns the end
devices, signs receipts with the consumer's key and keeps the latest uplinks for the consumer
to read. HTTP API (JSON, bytes in base64):

======  ===========================  ===============================================
GET     /v1/info                     consumer, deployment, prices in force (RouterInfo)
POST    /v1/packets                  a hotspot's signed Delivery -> DeliveryReply
GET     /v1/receipts/{hotspot}       the hotspot's newest receipt (one that lost a reply)
GET     /v1/stats                    spent, balance, packets and paid total per hotspot
GET     /v1/uplinks?after=N          the consumer's data: uplinks received, oldest first
======  ===========================  ===============================================

Refusals answer ``{"code": ..., "error": ...}`` with 400 (bad delivery, not an uplink,
unknown device, forged packet), 401 (bad signature), 403 (unregistered hotspot), 409
(replayed packet), 402 (insufficient credits) or 503 (chain unreadable, state unsaved); a
refused delivery pays nothing and changes nothing (but see ``state_unsaved``). Parameters,
the hotspot's registration and the consumer's credits are read from the chain
(:class:`RouterChain`) on every delivery.
"""

from __future__ import annotations

import os
import secrets
import socket
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Final, Protocol

import msgspec
import uvicorn
from fastapi import FastAPI, Request, Response
from fastapi.concurrency import run_in_threadpool

from depinkit.chain import Depin
from depinkit.chain.params import network_id, network_key
from depinkit.chain.registry import DeviceStatus
from depinkit.core.envelope import ReportDomain
from depinkit.core.errors import DepinkitError
from depinkit.core.keys import Account, is_address, to_checksum
from depinkit.networks.context import resolve_parameters
from depinkit.networks.coverage import parameters as P
from depinkit.networks.coverage.iot import DEVADDR_BYTES, SESSION_KEY_BYTES, decode_uplink
from depinkit.networks.coverage.packets import (
    BAD_DELIVERY,
    BAD_SIGNATURE,
    INSUFFICIENT_CREDITS,
    REPLAYED_PACKET,
    UNREGISTERED_HOTSPOT,
    Delivery,
    LedgerState,
    PacketError,
    PacketLedger,
    channel_of,
    check_delivery_signature,
)
from depinkit.networks.receipts import Receipt, nanocredits, sign_receipt

NETWORK: Final[str] = "coverage"
STATE_UNSAVED: Final[str] = "state_unsaved"  # 503: the payment is counted, its receipt withheld
CHAIN_UNAVAILABLE: Final[str] = "chain_unavailable"  # 503: registry, credits or params unread
MAX_BODY_BYTES: Final[int] = 4_096  # a delivery is ~500 bytes of JSON
UPLINKS_KEPT: Final[int] = 10_000  # uplinks kept for the consumer to read
ROUTER_PARAMETERS: Final[tuple[str, ...]] = (
    P.PRICE_PER_PACKET,
    P.PACKET_COPIES,
    P.DEDUP_WINDOW_MS,
)
_STATUS: Final[dict[str, int]] = {
    BAD_DELIVERY: 400,
    BAD_SIGNATURE: 401,
    UNREGISTERED_HOTSPOT: 403,
    INSUFFICIENT_CREDITS: 402,
    REPLAYED_PACKET: 409,
    STATE_UNSAVED: 503,
    CHAIN_UNAVAILABLE: 503,
}  # other packet codes: 400


class RouterInfo(msgspec.Struct, frozen=True):
    consumer: str
    network: str
    chain_id: int
    registry: str
    price_per_packet: int  # nanocredits
    packet_copies: int
    dedup_window_ms: int


class DeliveryReply(msgspec.Struct, frozen=True):
    devaddr: str  # hex
    fcnt: int
    paid: int  # nanocredits this delivery earned (0: a copy beyond packet_copies)
    receipt: Receipt | None  # the hotspot's newest receipt (None: never paid)


class ReceivedUplink(msgspec.Struct, frozen=True):
    """One packet as the consumer sees it: its first delivery."""

    seq: int  # the router's counter, from 1
    devaddr: str  # hex
    fcnt: int
    payload: bytes
    hotspot: str  # who delivered it first
    rssi_dbm10: int
    snr_db10: int
    received_ms: int  # the hotspot's radio clock


class HotspotStats(msgspec.Struct, frozen=True):
    delivered: int  # deliveries accepted since the router started
    paid: int  # deliveries paid since the router started
    cumulative: int  # nanocredits on its channel


class Stats(msgspec.Struct, frozen=True):
    consumer: str
    spent: int  # nanocredits signed away in this session
    available: int  # nanocredits bought on chain (or the budget, if lower)
    packets: int  # distinct packets paid at least once
    hotspots: dict[str, HotspotStats]


class RouterChain(Protocol):
    """What the router reads from the chain (a narrow interface; the real one is Depin)."""

    def hotspot_problem(self, hotspot: str) -> str | None:
        """None when ``hotspot`` is an active coverage device, else why it is not."""
        ...

    def credits(self, consumer: str) -> int:
        """Nanocredits ``consumer`` has bought."""
        ...

    def parameters(self) -> Mapping[str, int]:
        """The coverage parameters in force, resolved (defaults and clamps applied)."""
        ...


class DepinRouterChain:
    """:class:`RouterChain` over a deployment (DeviceRegistry, Credits, Parameters)."""

    def __init__(self, depin: Depin) -> None:
        self.depin = depin
        self._network = network_id(NETWORK)
        self._specs = [s for s in P.PARAMETERS if s.name in ROUTER_PARAMETERS]

    def hotspot_problem(self, hotspot: str) -> str | None:
        record = self.depin.registry.device(hotspot)
        if record.status == DeviceStatus.NONE:
            return f"{hotspot} is not a registered device"
        if record.network != self._network:
            return f"{hotspot} is not registered on the {NETWORK} network"
        if record.status != DeviceStatus.ACTIVE:
            return f"{hotspot} is {record.status.name.lower()}, not active"
        return None

    def credits(self, consumer: str) -> int:
        return nanocredits(self.depin.credits.credits_of(consumer))

    def parameters(self) -> Mapping[str, int]:
        names = [s.name for s in self._specs]
        raw = self.depin.params.get_keys([network_key(NETWORK, n) for n in names])
        return resolve_parameters(self._specs, dict(zip(names, raw, strict=True)))


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


class Router:
    """The router's state: ledger, receipts and counters, behind one lock."""

    def __init__(
        self,
        consumer: Account,
        domain: ReportDomain,
        chain: RouterChain,
        devices: Mapping[bytes, bytes],
        *,
        session: bytes | None = None,
        budget: int | None = None,
        clock: Callable[[], int] = _now_ms,
        state_path: Path | None = None,
    ) -> None:
        """``state_path``: a JSON file the ledger is saved to after every payment and
        continued from at start, so a restart neither forgets what was spent nor lowers a
        channel's cumulative (without it, every start opens a new session)."""
        self.consumer = consumer
        self.domain = domain
        self.chain = chain
        self.state_path = state_path
        self.budget = budget
        self.clock = clock
        self.receipts: dict[str, Receipt] = {}
        self.delivered: dict[str, int] = {}
        self.paid: dict[str, int] = {}
        self.uplinks: deque[ReceivedUplink] = deque(maxlen=UPLINKS_KEPT)
        self._uplink_seq = 0
        self._lock = threading.Lock()
        if state_path is not None and state_path.exists():
            state = msgspec.json.decode(state_path.read_bytes(), type=LedgerState)
            self.ledger = PacketLedger.from_state(devices, state)
            for hotspot in sorted(self.ledger.cumulative):
                self.receipts[hotspot] = self._receipt(hotspot)
        else:
            self.ledger = PacketLedger(devices, session or secrets.token_bytes(32))
            self._save()

    def _receipt(self, hotspot: str) -> Receipt:
        return sign_receipt(
            self.consumer,
            self.domain,
            network=NETWORK,
            payee=hotspot,
            channel=channel_of(self.ledger.session, hotspot),
            cumulative=self.ledger.cumulative[hotspot],
        )

    def _save(self) -> None:
        """Write the ledger state atomically and durably (OSError when that fails)."""
        if self.state_path is None:
            return
        tmp = self.state_path.with_name(self.state_path.name + ".tmp")
        with tmp.open("wb") as out:
            out.write(msgspec.json.encode(self.ledger.state()))
            out.flush()
            os.fsync(out.fileno())
        tmp.replace(self.state_path)

    def available(self) -> int:
        bought = self.chain.credits(self.consumer.address)
        return bought if self.budget is None else min(bought, self.budget)

    def info(self) -> RouterInfo:
        values = self.chain.parameters()
        return RouterInfo(
            self.consumer.address,
            NETWORK,
            self.domain.chain_id,
            self.domain.registry,
            values[P.PRICE_PER_PACKET],
            values[P.PACKET_COPIES],
            values[P.DEDUP_WINDOW_MS],
        )

    def deliver(self, delivery: Delivery) -> DeliveryReply:
        """Check and pay one delivery; PacketError when refused (nothing changes then,
        except for ``state_unsaved``: the payment is counted, its receipt withheld)."""
        if not is_address(delivery.hotspot) or to_checksum(delivery.hotspot) != delivery.hotspot:
            raise PacketError(BAD_DELIVERY, "hotspot must be an EIP-55 checksummed address")
        check_delivery_signature(self.domain, self.consumer.address, delivery)
        try:
            problem = self.chain.hotspot_problem(delivery.hotspot)
            values = self.chain.parameters()
            available = self.available() if problem is None else 0
        except (DepinkitError, OSError) as exc:  # an RPC error or an unreachable node
            raise PacketError(CHAIN_UNAVAILABLE, f"cannot read the chain: {exc}") from exc
        if problem is not None:
            raise PacketError(UNREGISTERED_HOTSPOT, problem)
        with self._lock:
            payment = self.ledger.deliver(
                delivery.hotspot,
                delivery.frame,
                self.clock(),
                price=values[P.PRICE_PER_PACKET],
                copies=values[P.PACKET_COPIES],
                window_ms=values[P.DEDUP_WINDOW_MS],
                available=available,
            )
            hotspot = delivery.hotspot
            self.delivered[hotspot] = self.delivered.get(hotspot, 0) + 1
            if payment.first:
                self._uplink_seq += 1
                uplink = decode_uplink(delivery.frame)
                assert uplink is not None  # the ledger accepted it
                self.uplinks.append(
                    ReceivedUplink(
                        self._uplink_seq, uplink.devaddr.hex(), uplink.fcnt, uplink.payload,
                        hotspot, delivery.rssi_dbm10, delivery.snr_db10, delivery.received_ms,
                    )
                )  # fmt: skip
            if payment.paid:
                self.paid[hotspot] = self.paid.get(hotspot, 0) + 1
                try:
                    self._save()
                except OSError as exc:  # counted as spent: the next receipt carries it
                    raise PacketError(
                        STATE_UNSAVED, f"router state not saved, receipt withheld: {exc}"
                    ) from exc
                self.receipts[hotspot] = self._receipt(hotspot)
            return DeliveryReply(
                payment.devaddr.hex(), payment.fcnt, payment.paid, self.receipts.get(hotspot)
            )

    def stats(self) -> Stats:
        available = self.available()
        with self._lock:
            hotspots = {
                h: HotspotStats(
                    self.delivered.get(h, 0), self.paid.get(h, 0), self.ledger.cumulative.get(h, 0)
                )
                for h in sorted(set(self.delivered) | set(self.ledger.cumulative))
            }
            packets = self.ledger.paid_packets
            return Stats(self.consumer.address, self.ledger.spent, available, packets, hotspots)


def create_app(router: Router) -> FastAPI:
    """The router's HTTP API (see the module docstring)."""
    app = FastAPI(title="depinkit coverage packet router", version="1")

    def reply(value: object, status: int = 200) -> Response:
        return Response(msgspec.json.encode(value), status, media_type="application/json")

    def refuse(exc: PacketError) -> Response:
        return reply({"code": exc.code, "error": str(exc)}, _STATUS.get(exc.code, 400))

    @app.get("/v1/info")
    async def info() -> Response:
        return reply(await run_in_threadpool(router.info))

    @app.post("/v1/packets")
    async def packets(request: Request) -> Response:
        raw = await request.body()
        if len(raw) > MAX_BODY_BYTES:
            return refuse(PacketError(BAD_DELIVERY, f"body over {MAX_BODY_BYTES} bytes"))
        try:
            delivery = msgspec.json.decode(raw, type=Delivery)
        except msgspec.DecodeError as exc:
            return refuse(PacketError(BAD_DELIVERY, f"bad delivery: {exc}"))
        try:
            return reply(await run_in_threadpool(router.deliver, delivery))
        except PacketError as exc:
            return refuse(exc)

    @app.get("/v1/receipts/{hotspot}")
    async def receipt(hotspot: str) -> Response:
        found = router.receipts.get(to_checksum(hotspot)) if is_address(hotspot) else None
        if found is None:
            return reply({"code": "not_found", "error": f"no receipt for {hotspot[:64]}"}, 404)
        return reply(found)

    @app.get("/v1/uplinks")
    async def uplinks(after: int = 0) -> Response:
        return reply([u for u in list(router.uplinks) if u.seq > after])

    @app.get("/v1/stats")
    async def stats() -> Response:
        return reply(await run_in_threadpool(router.stats))

    return app


def parse_devices(table: Mapping[str, str]) -> dict[bytes, bytes]:
    """End devices from ``{devaddr hex: session key hex}``; ValueError when malformed."""
    devices: dict[bytes, bytes] = {}
    for devaddr, key in table.items():
        addr = bytes.fromhex(devaddr.removeprefix("0x"))
        secret = bytes.fromhex(key.removeprefix("0x"))
        if len(addr) != DEVADDR_BYTES or len(secret) != SESSION_KEY_BYTES:
            raise ValueError(
                f"device {devaddr}: devaddr must be {DEVADDR_BYTES} bytes and key "
                f"{SESSION_KEY_BYTES} bytes"
            )
        devices[addr] = secret
    return devices


def serve(app: FastAPI, host: str, port: int, announce: Callable[[str], None]) -> None:
    """Bind, announce ``router listening on http://HOST:PORT``, serve until SIGINT/SIGTERM."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    bound_host, bound_port = sock.getsockname()[:2]
    announce(f"router listening on http://{bound_host}:{bound_port}")
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", access_log=False))
    server.run(sockets=[sock])


__all__ = [
    "DeliveryReply",
    "DepinRouterChain",
    "ReceivedUplink",
    "Router",
    "RouterChain",
    "RouterInfo",
    "Stats",
    "create_app",
    "parse_devices",
    "serve",
]
