"""The coverage network's agent role: a hotspot that beacons and witnesses.

Each run, the role

1. learns the epoch's entropy and parameters from the oracles' beacon
   (``GET /v1/epochs/{epoch}/beacon``, :class:`depinkit.networks.uptime.role.OracleBeacons`);
2. if the transmit window of its beacon slot is open (``beacon_window``: derived from the
   entropy, so nobody can pick the moment or precompute the payload), transmits the
   beacon frame (:mod:`depinkit.networks.coverage.radio.onair`) and reports ``beacon``
   with the time the radio put it on air;
3. reads what the radio heard since its last run and reports ``witness`` for every
   beacon frame of another hotspot, with the radio's RSSI, SNR, frequency and time;
4. delivers every uplink frame it heard (:mod:`depinkit.networks.coverage.iot`) to the
   packet routers of its ``routers`` option, signed with the device key
   (:mod:`depinkit.networks.coverage.packets`), keeps the newest receipt each router
   returns per channel (in ``coverage-receipts.msgpack`` in the data directory) and
   reports it as ``receipt`` whenever it grew, so the data bucket pays it.

It runs much more often than the beacon interval (``interval_s`` well under the
entropy window) so the window is never missed. Radio failures are logged and the
run produces what it can: a hotspot whose gateway is down for a while simply does
not beacon, which is what the verifier should see.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Final

import httpx
import msgspec

from depinkit.agent.config import RoleSettings
from depinkit.agent.errors import RoleError
from depinkit.agent.roles import ReportDraft, Role, RoleContext, RoleFactory
from depinkit.core.envelope import ReportDomain
from depinkit.networks.beacon import Beacon
from depinkit.networks.coverage.beacon import beacon_payload, beacon_window, slot_count
from depinkit.networks.coverage.iot import decode_uplink
from depinkit.networks.coverage.packets import sign_delivery
from depinkit.networks.coverage.parameters import BEACON_INTERVAL_S, ENTROPY_WINDOW_S, REGION
from depinkit.networks.coverage.radio.backend import (
    Frame,
    RadioBackend,
    RadioError,
    ReceivedFrame,
)
from depinkit.networks.coverage.radio.medium import (
    DEFAULT_GAIN_DBI,
    DEFAULT_MAX_TX_POWER_DBM,
    RadioSpec,
)
from depinkit.networks.coverage.radio.onair import decode_beacon_frame, encode_beacon_frame
from depinkit.networks.coverage.schemas import (
    BEACON,
    MAX_RSSI_DBM10,
    MAX_SNR_DB10,
    MIN_RSSI_DBM10,
    RECEIPT,
    WITNESS,
    PacketReceipt,
)
from depinkit.networks.coverage.schemas import Beacon as BeaconBody
from depinkit.networks.coverage.schemas import Witness as WitnessBody
from depinkit.networks.receipts import Receipt, ReceiptError, verify_receipt
from depinkit.networks.uptime.role import BeaconSource, OracleBeacons

NETWORK: Final[str] = "coverage"
DEFAULT_INTERVAL_S: Final[float] = 10.0  # runs per beacon window (180 s): many, none missed
DEFAULT_TX_POWER_DBM: Final[int] = 14  # EU868's 14 dBm limit; US915 hotspots may use 27
SEEN_KEPT: Final[int] = 4_096  # beacons remembered to report each once (more than heard per run)
RECEIPTS_FILE: Final[str] = "coverage-receipts.msgpack"  # newest receipt per channel
ROUTER_TIMEOUT_S: Final[float] = 5.0  # one delivery to one router, connect included
# Parameter defaults when the beacon does not carry them (parameters.py holds the same values).
DEFAULT_BEACON_INTERVAL_S: Final[int] = 21_600
DEFAULT_ENTROPY_WINDOW_S: Final[int] = 180
DEFAULT_REGION: Final[int] = 1
# First default channel of each region plan (LoRaWAN Regional Parameters RP002), Hz.
REGION_BEACON_HZ: Final[dict[int, int]] = {
    1: 868_100_000,  # EU868
    2: 904_600_000,  # US915 (sub-band 2, as Helium)
    3: 916_800_000,  # AU915 (sub-band 2)
    4: 923_200_000,  # AS923
    5: 922_100_000,  # KR920
    6: 865_062_500,  # IN865
    7: 470_300_000,  # CN470
    8: 433_175_000,  # EU433
}

_log = logging.getLogger("depinkit.networks.coverage.role")

RadioFactory = Callable[[str], RadioBackend]  # device address -> its radio


class _RouterInfo(msgspec.Struct):
    """What the role needs from a router's ``GET /v1/info``."""

    consumer: str
    chain_id: int
    registry: str


class _Reply(msgspec.Struct):
    paid: int
    receipt: Receipt | None


class _Receipts(msgspec.Struct):
    """The role's persisted state: newest receipt per channel, and what was reported."""

    newest: dict[bytes, Receipt] = msgspec.field(default_factory=dict)
    reported: dict[bytes, int] = msgspec.field(default_factory=dict)  # cumulative reported


class HotspotRole:
    """Beacons once per slot in its window and witnesses every beacon frame it hears."""

    name = NETWORK

    def __init__(
        self,
        beacons: BeaconSource,
        radio: RadioFactory,
        *,
        interval_s: float = DEFAULT_INTERVAL_S,
        frequency_hz: int | None = None,
        tx_power_dbm: int = DEFAULT_TX_POWER_DBM,
        routers: Sequence[str] = (),
        http: httpx.Client | None = None,
    ) -> None:
        """``radio`` builds the radio on first use, from the device address (its id);
        ``routers``: packet router URLs to deliver heard uplinks to."""
        self._beacons = beacons
        self._radio_factory = radio
        self._radio: RadioBackend | None = None
        self.interval_s = interval_s
        self._frequency_hz = frequency_hz
        self._tx_power_dbm = tx_power_dbm
        self._beaconed: tuple[int, int] | None = None  # (epoch, slot) of the last beacon
        self._cursor_ms: int | None = None  # receive frames from here on
        self._seen: deque[tuple[str, int, bytes]] = deque(maxlen=SEEN_KEPT)
        self._routers = [u.rstrip("/") for u in routers]
        self._http = http
        self._router_info: dict[str, _RouterInfo] = {}
        self._uplinks_seen: deque[bytes] = deque(maxlen=SEEN_KEPT)
        self._receipts: _Receipts | None = None  # loaded on first use

    def produce(self, ctx: RoleContext) -> list[ReportDraft]:
        if self._radio is None:
            try:
                self._radio = self._radio_factory(ctx.device)
            except RadioError as exc:  # e.g. the gateway port is taken: retry next run
                _log.warning("no radio: %s", exc)
                return []
        drafts: list[ReportDraft] = []
        beacon = self._beacons.beacon(ctx.epoch)
        if beacon is not None and beacon.start_ms <= ctx.now_ms < beacon.end_ms:
            drafts.extend(self._beacon(ctx, beacon, self._radio))
        uplinks: list[ReceivedFrame] = []
        drafts.extend(self._witnesses(ctx, self._radio, uplinks))
        if self._routers:
            drafts.extend(self._relay(ctx, uplinks))
        return drafts

    def _beacon(self, ctx: RoleContext, beacon: Beacon, radio: RadioBackend) -> list[ReportDraft]:
        interval_s = beacon.parameter(NETWORK, BEACON_INTERVAL_S, DEFAULT_BEACON_INTERVAL_S)
        window_s = beacon.parameter(NETWORK, ENTROPY_WINDOW_S, DEFAULT_ENTROPY_WINDOW_S)
        slot = (ctx.now_ms - beacon.start_ms) // (interval_s * 1000)
        if self._beaconed == (ctx.epoch, slot):
            return []
        if slot >= slot_count(beacon.start_ms, beacon.end_ms, interval_s):
            return []
        entropy = beacon.entropy_bytes()
        opens, closes = beacon_window(
            entropy, ctx.device, slot,
            start_ms=beacon.start_ms, end_ms=beacon.end_ms,
            interval_s=interval_s, window_s=window_s,
        )  # fmt: skip
        if not opens <= ctx.now_ms < closes:
            return []
        region = beacon.parameter(NETWORK, REGION, DEFAULT_REGION)
        frequency_hz = self._frequency_hz or REGION_BEACON_HZ.get(region, REGION_BEACON_HZ[1])
        payload = beacon_payload(entropy, ctx.device, slot)
        frame = Frame(encode_beacon_frame(ctx.device, slot, payload), frequency_hz,
                      self._tx_power_dbm)  # fmt: skip
        try:
            sent_ms = radio.transmit(frame)
        except RadioError as exc:  # try again on the next run, while the window is open
            _log.warning("beacon of slot %d not sent: %s", slot, exc)
            return []
        self._beaconed = (ctx.epoch, slot)
        body = BeaconBody(
            slot=slot,
            payload=payload,
            frequency_hz=frequency_hz,
            tx_power_dbm=self._tx_power_dbm,
            transmit_ms=sent_ms,
        )
        return [ReportDraft(NETWORK, BEACON, body)]

    def _witnesses(
        self, ctx: RoleContext, radio: RadioBackend, uplinks: list[ReceivedFrame]
    ) -> list[ReportDraft]:
        since = ctx.started_ms if self._cursor_ms is None else self._cursor_ms
        try:
            frames = radio.receive(since)
        except RadioError as exc:
            _log.warning("radio not read: %s", exc)
            return []
        drafts = []
        for frame in frames:
            self._cursor_ms = max(self._cursor_ms or since, frame.received_ms)
            heard = decode_beacon_frame(frame.payload)
            if heard is None:
                if frame.payload not in self._uplinks_seen and decode_uplink(frame.payload):
                    self._uplinks_seen.append(frame.payload)
                    uplinks.append(frame)
                continue
            if heard.beaconer == ctx.device:
                continue
            key = (heard.beaconer, heard.slot, heard.payload)
            if key in self._seen:
                continue
            self._seen.append(key)
            if not (
                MIN_RSSI_DBM10 <= frame.rssi <= MAX_RSSI_DBM10
                and -MAX_SNR_DB10 <= frame.snr <= MAX_SNR_DB10
            ):
                continue  # a reading no radio makes: nothing honest to report
            body = WitnessBody(
                beaconer=heard.beaconer,
                slot=heard.slot,
                payload=heard.payload,
                rssi_dbm10=frame.rssi,
                snr_db10=frame.snr,
                frequency_hz=frame.frequency_hz,
                received_ms=frame.received_ms,
            )
            drafts.append(ReportDraft(NETWORK, WITNESS, body))
        return drafts

    # -- data transfer -------------------------------------------------------------------

    def _relay(self, ctx: RoleContext, uplinks: list[ReceivedFrame]) -> list[ReportDraft]:
        """Deliver ``uplinks`` to every router; ``receipt`` drafts for channels that grew."""
        state = self._state(ctx.data_dir)
        if uplinks and ctx.sign is None:
            _log.warning("cannot deliver %d uplinks: the agent gives no signer", len(uplinks))
            uplinks = []
        for frame in uplinks:
            if not (
                MIN_RSSI_DBM10 <= frame.rssi <= MAX_RSSI_DBM10
                and -MAX_SNR_DB10 <= frame.snr <= MAX_SNR_DB10
            ):
                continue
            for url in self._routers:
                receipt = self._deliver(ctx, url, frame)
                if receipt is None:
                    continue
                newest = state.newest.get(receipt.channel)
                if newest is None or receipt.cumulative > newest.cumulative:
                    state.newest[receipt.channel] = receipt
        drafts = []
        for channel in sorted(state.newest):
            receipt = state.newest[channel]
            if receipt.cumulative > state.reported.get(channel, 0):
                drafts.append(ReportDraft(NETWORK, RECEIPT, PacketReceipt(receipt)))
                state.reported[channel] = receipt.cumulative
        if uplinks or drafts:
            self._save(ctx.data_dir, state)
        return drafts

    def _deliver(self, ctx: RoleContext, url: str, frame: ReceivedFrame) -> Receipt | None:
        """POST one delivery; the receipt it earned if it checks out, else None (logged)."""
        assert ctx.sign is not None
        client = self._http or httpx.Client(timeout=ROUTER_TIMEOUT_S)
        if self._http is None:
            self._http = client
        try:
            info = self._router_info.get(url)
            if info is None:
                answer = client.get(f"{url}/v1/info", timeout=ROUTER_TIMEOUT_S)
                answer.raise_for_status()
                info = msgspec.json.decode(answer.content, type=_RouterInfo)
                self._router_info[url] = info
            domain = ReportDomain(chain_id=info.chain_id, registry=info.registry)
            delivery = sign_delivery(
                ctx.sign, domain, info.consumer, ctx.device, frame.payload,
                frequency_hz=frame.frequency_hz, rssi_dbm10=frame.rssi,
                snr_db10=frame.snr, received_ms=frame.received_ms,
            )  # fmt: skip
            answer = client.post(
                f"{url}/v1/packets", content=msgspec.json.encode(delivery),
                headers={"content-type": "application/json"}, timeout=ROUTER_TIMEOUT_S,
            )  # fmt: skip
        except (httpx.HTTPError, msgspec.DecodeError, ValueError) as exc:
            _log.warning("router %s unreachable or confused: %s", url, exc)
            return None
        if answer.status_code != 200:
            _log.info("router %s refused an uplink: %s", url, answer.text[:300])
            return None
        try:
            reply = msgspec.json.decode(answer.content, type=_Reply)
            receipt = reply.receipt
            if receipt is None:
                return None
            if receipt.payee != ctx.device or receipt.network != NETWORK:
                raise ReceiptError(f"receipt pays {receipt.payee} on {receipt.network}")
            if receipt.consumer != info.consumer:
                raise ReceiptError(f"receipt is from {receipt.consumer}, not {info.consumer}")
            verify_receipt(domain, receipt)
        except (msgspec.DecodeError, ReceiptError) as exc:
            _log.warning("router %s sent an unusable receipt: %s", url, exc)
            return None
        return receipt

    def _state(self, data_dir: Path) -> _Receipts:
        if self._receipts is None:
            path = data_dir / RECEIPTS_FILE
            try:
                self._receipts = msgspec.msgpack.decode(path.read_bytes(), type=_Receipts)
            except FileNotFoundError:
                self._receipts = _Receipts()
            except (OSError, msgspec.DecodeError) as exc:
                _log.error("unreadable %s (%s): starting with no receipts", path, exc)
                self._receipts = _Receipts()
        return self._receipts

    def _save(self, data_dir: Path, state: _Receipts) -> None:
        path = data_dir / RECEIPTS_FILE
        tmp = path.with_suffix(".tmp")
        try:
            tmp.write_bytes(msgspec.msgpack.encode(state))
            tmp.replace(path)
        except OSError as exc:  # the receipts stay in memory; the next run retries
            _log.error("cannot save %s: %s", path, exc)

    def newest_receipts(self) -> dict[bytes, Receipt]:
        """The newest receipt per channel (for tests and status)."""
        return dict(self._receipts.newest) if self._receipts is not None else {}


def radio_from_options(options: dict[str, Any]) -> RadioFactory:
    """The radio a ``[[roles]]`` entry names (``radio = "medium"`` or ``"semtech"``)."""
    kind = str(options.get("radio", "medium"))
    if kind == "medium":
        from depinkit.networks.coverage.radio.server import MediumOperator, MediumRadio

        url = options.get("medium_url")
        if not isinstance(url, str) or not url:
            raise RoleError("coverage role with radio = 'medium' needs medium_url")
        radio_id = options.get("radio_id")
        spec = _placement(options)

        def on_medium(device: str) -> RadioBackend:
            rid = str(radio_id or device)
            if spec is None:  # placed by the operator (devnet harness, tests)
                return MediumRadio(url, rid)
            return MediumOperator(url).register(rid, spec)  # the hotspot places itself

        return on_medium
    if kind == "semtech":
        from depinkit.networks.coverage.radio.gateway import DEFAULT_PORT, SemtechRadio

        host, _, port = str(options.get("listen", f"0.0.0.0:{DEFAULT_PORT}")).rpartition(":")
        eui = options.get("gateway_eui")
        try:
            gateway = bytes.fromhex(str(eui).removeprefix("0x")) if eui else None
            port_number = int(port)
        except ValueError as exc:
            raise RoleError(f"coverage role: bad listen or gateway_eui: {exc}") from exc
        return lambda _device: SemtechRadio(host, port_number, gateway=gateway).start()
    raise RoleError(f"coverage role: unknown radio {kind!r} (known: medium, semtech)")


def _placement(options: dict[str, Any]) -> RadioSpec | None:
    """Where a hotspot says it really is on the medium: ``position`` = H3 cell or "lat,lng"."""
    position = options.get("position")
    if position is None:
        return None
    try:
        text = str(position)
        lat, lng = (float(x) for x in text.split(",")) if "," in text else (0.0, 0.0)
        spec = RadioSpec(
            lat=lat,
            lng=lng,
            cell="" if "," in text else text,
            gain_dbi=int(options.get("gain_dbi", DEFAULT_GAIN_DBI)),
            max_tx_power_dbm=int(options.get("max_tx_power_dbm", DEFAULT_MAX_TX_POWER_DBM)),
        )
        spec.position()
    except (TypeError, ValueError, RadioError) as exc:
        raise RoleError(f"coverage role: bad position {position!r}: {exc}") from exc
    return spec


ROLE_OPTIONS: Final[frozenset[str]] = frozenset(
    {
        "radio",
        "medium_url",
        "radio_id",
        "position",
        "gain_dbi",
        "max_tx_power_dbm",
        "listen",
        "gateway_eui",
        "frequency_hz",
        "tx_power_dbm",
        "routers",
    }
)


def coverage_role_factory(oracle_urls: Sequence[str]) -> RoleFactory:
    """Builds the role from its ``[[roles]]`` entry; beacons come from the agent's oracles.

    Options: ``radio`` = "medium" (default) with ``medium_url``, optional ``radio_id``
    (default: the device address) and, for a hotspot that places itself on the medium,
    ``position`` (an H3 cell or "lat,lng": where it really is), ``gain_dbi`` and
    ``max_tx_power_dbm``; or ``radio`` = "semtech" with ``listen`` = "host:port" (default
    0.0.0.0:1700) and optional ``gateway_eui`` (hex). Both: ``frequency_hz`` (default: the
    region's first channel), ``tx_power_dbm`` (default 14) and ``routers``: packet router
    URLs (a list, or one string of comma-separated URLs) to deliver heard uplinks to.
    """

    def build(settings: RoleSettings) -> Role:
        unknown = sorted(set(settings.options) - ROLE_OPTIONS)
        if unknown:
            raise RoleError(f"role {settings.name!r}: unknown options {unknown}")
        options = dict(settings.options)
        try:
            frequency = int(options.get("frequency_hz", 0)) or None
            power = int(options.get("tx_power_dbm", DEFAULT_TX_POWER_DBM))
        except (TypeError, ValueError) as exc:
            raise RoleError(f"role {settings.name!r}: {exc}") from exc
        routers = options.get("routers", [])
        if isinstance(routers, str):
            routers = [u.strip() for u in routers.split(",") if u.strip()]
        if not isinstance(routers, list) or not all(
            isinstance(u, str) and u.startswith(("http://", "https://")) for u in routers
        ):
            raise RoleError(f"role {settings.name!r}: routers must be http(s) URLs: {routers!r}")
        return HotspotRole(
            OracleBeacons(oracle_urls),
            radio_from_options(options),
            interval_s=settings.interval_s,
            frequency_hz=frequency,
            tx_power_dbm=power,
            routers=routers,
        )

    return build
