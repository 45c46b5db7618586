"""A simulated radio medium: who hears a transmission, and how strongly.

The model (docs/networks/coverage.md, "Simulated radio"):

* **Path loss**, log-distance with free space as the default: ``PL(d) = FSPL(d0, f) +
  10 n log10(d / d0)`` with ``d0`` = 1 m and ``FSPL(d, f) = 20 log10(d) + 20 log10(f)
  - 147.55`` (d in m, f in Hz). With the default exponent ``n = 2`` this is exactly
  free-space path loss; ``n`` near 2.7 models a suburb and is what a devnet wanting
  realistic ranges sets.
* **Log-normal shadowing**: a zero-mean Gaussian in dB drawn once per link (the
  buildings and hills between two sites do not move) plus a smaller one drawn per
  transmission (fading). Both come from RNGs seeded with ``(seed, link)`` and
  ``(seed, transmission, receiver)``, so a run is reproducible from its seed whatever
  order receivers are visited in.
* **Received power** ``P_rx = P_tx + G_tx + G_rx - PL - X`` in dBm; the noise floor is
  ``-174 + 10 log10(B) + NF`` dBm, ``SNR = P_rx - noise``. A receiver hears the frame
  when ``SNR >= min_snr_db`` (the demodulator limit of the spreading factor, -12.5 dB
  at SF9), on a channel it listens to. RSSI is reported as the signal power ``P_rx``
  (what an SX1302 reports as ``rssis``), so a verifier can compare it with free space.
* **Time**: the frame is received at ``t_tx + airtime + d / c``, airtime from the
  Semtech LoRa modem formula (AN1200.13) for the configured data rate.

Floats are fine here: this is a physics simulation feeding radios, never a reward.
The medium also knows every radio's *true* position; what a hotspot asserts on chain
is the chain's business, which is how the tests stage location spoofing.
"""

from __future__ import annotations

import hashlib
import math
import random
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Final

import h3
import msgspec

from depinkit.networks.coverage.radio.backend import (
    Frame,
    RadioError,
    ReceivedFrame,
    UnknownRadio,
    check_frame,
)

EARTH_RADIUS_M: Final[float] = 6_371_008.8  # mean Earth radius (IUGG), metres
SPEED_OF_LIGHT_M_S: Final[float] = 299_792_458.0
FSPL_CONSTANT_DB: Final[float] = -147.55  # 20 log10(4 pi / c): FSPL with d in m, f in Hz
THERMAL_NOISE_DBM_HZ: Final[float] = -174.0  # kT at 290 K, dBm per Hz
MIN_DISTANCE_M: Final[float] = 1.0  # reference distance d0; closer radios count as 1 m apart
INBOX_FRAMES: Final[int] = 10_000  # frames kept per radio; a hotspot polls far more often
MAX_RADIOS: Final[int] = 100_000  # a simulated city; refuses to grow without bound
DEFAULT_GAIN_DBI: Final[int] = 2  # antenna gain, both ways: a 2.15 dBi dipole, rounded
DEFAULT_MAX_TX_POWER_DBM: Final[int] = 27  # a US915 hotspot's conducted limit
TRUNCATE_SIGMAS: Final[float] = 3.0  # shadowing and fading draws are clipped to +-3 sigma


class RadioSpec(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """A radio placed on the medium by its operator: its true position and antenna."""

    lat: float = 0.0  # degrees, WGS84; ignored when ``cell`` is set
    lng: float = 0.0
    cell: str = ""  # an H3 cell: the radio sits at its centre
    max_tx_power_dbm: int = DEFAULT_MAX_TX_POWER_DBM  # the radio's limit
    gain_dbi: int = DEFAULT_GAIN_DBI
    channels_hz: list[int] = msgspec.field(default_factory=list)  # empty: listens everywhere

    def position(self) -> tuple[float, float]:
        if self.cell:
            if not h3.is_valid_cell(self.cell):
                raise RadioError(f"{self.cell!r} is not an H3 cell")
            return h3.cell_to_latlng(self.cell)
        if not (-90.0 <= self.lat <= 90.0 and -180.0 <= self.lng <= 180.0):
            raise RadioError(f"position ({self.lat}, {self.lng}) is not on Earth")
        return self.lat, self.lng


class MediumConfig(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """Propagation and modem settings; the defaults are free space at US915 SF9BW125."""

    path_loss_exponent: float = 2.0  # 2: free space; 2.7-3.5: suburb to city
    shadowing_sigma_db: float = 4.0  # per-link log-normal shadowing (4-12 dB measured outdoors)
    fading_sigma_db: float = 1.0  # per-transmission variation on top of the link's
    noise_figure_db: float = 6.0  # receiver noise figure (SX1302 front end ~6 dB)
    bandwidth_hz: int = 125_000  # LoRa BW125
    spreading_factor: int = 9  # SF9: what Helium beacons use
    coding_rate: int = 1  # 4/(4+cr): 1 is 4/5
    preamble_symbols: int = 8
    min_snr_db: float = -12.5  # SF9 demodulation limit (SX1276 datasheet, table 13)

    def noise_floor_dbm(self) -> float:
        return THERMAL_NOISE_DBM_HZ + 10.0 * math.log10(self.bandwidth_hz) + self.noise_figure_db

    def sensitivity_dbm(self) -> float:
        return self.noise_floor_dbm() + self.min_snr_db


class Delivery(msgspec.Struct, frozen=True):
    """Who heard a transmission and what they measured (for the operator's view)."""

    receiver: str
    distance_m: float
    rx_power_dbm: float
    frame: ReceivedFrame


class Transmission(msgspec.Struct, frozen=True):
    seq: int  # the medium's transmission counter, from 1
    sender: str
    sent_ms: int
    airtime_ms: int
    deliveries: list[Delivery]


def distance_m(a: tuple[float, float], b: tuple[float, float]) -> float:
    """Great-circle (haversine) distance in metres."""
    lat1, lng1, lat2, lng2 = map(math.radians, (*a, *b))
    h = (
        math.sin((lat2 - lat1) / 2) ** 2
        + math.cos(lat1) * math.cos(lat2) * math.sin((lng2 - lng1) / 2) ** 2
    )
    return 2.0 * EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(h)))


def free_space_path_loss_db(distance: float, frequency_hz: int) -> float:
    """FSPL in dB at ``distance`` metres (clamped to the 1 m reference)."""
    d = max(distance, MIN_DISTANCE_M)
    return 20.0 * math.log10(d) + 20.0 * math.log10(frequency_hz) + FSPL_CONSTANT_DB


def path_loss_db(distance: float, frequency_hz: int, exponent: float) -> float:
    """Log-distance path loss: free space up to 1 m, then ``10 n log10(d)``."""
    d = max(distance, MIN_DISTANCE_M)
    return free_space_path_loss_db(MIN_DISTANCE_M, frequency_hz) + 10.0 * exponent * math.log10(d)


def airtime_ms(payload_bytes: int, config: MediumConfig) -> int:
    """Time on air of a LoRa frame with explicit header and CRC (Semtech AN1200.13)."""
    sf, bw = config.spreading_factor, config.bandwidth_hz
    symbol_s = (2**sf) / bw
    low_rate = 1 if symbol_s > 0.016 else 0  # low data rate optimisation above 16 ms symbols
    numerator = 8 * payload_bytes - 4 * sf + 28 + 16
    payload_symbols = 8 + max(
        math.ceil(numerator / (4 * (sf - 2 * low_rate))) * (config.coding_rate + 4), 0
    )
    total_s = (config.preamble_symbols + 4.25) * symbol_s + payload_symbols * symbol_s
    return math.ceil(total_s * 1000)


def _gauss(seed: int, *labels: object) -> float:
    """A standard normal draw, clipped to +-3 sigma, from an RNG seeded by the labels.

    Clipping keeps the simulation physical: with the default 2 dBi antennas, 4 dB
    shadowing and 1 dB fading no link beats free space by more than 19 dB, inside the
    verifier's 20 dB margin, so an honest hotspot is never "too loud" on the medium.
    """
    digest = hashlib.sha256(repr((seed, *labels)).encode()).digest()
    draw = random.Random(int.from_bytes(digest, "big")).gauss(0.0, 1.0)
    return max(-TRUNCATE_SIGMAS, min(TRUNCATE_SIGMAS, draw))


@dataclass
class _Radio:
    spec: RadioSpec
    position: tuple[float, float]
    inbox: deque[ReceivedFrame] = field(default_factory=lambda: deque(maxlen=INBOX_FRAMES))


class Medium:
    """Radios on a shared medium; deterministic given the seed and the calls made."""

    def __init__(self, config: MediumConfig | None = None, *, seed: int = 0) -> None:
        self.config = config or MediumConfig()
        self.seed = seed
        self._radios: dict[str, _Radio] = {}
        self._seq = 0

    def register(self, radio_id: str, spec: RadioSpec) -> None:
        """Place (or move) a radio; its inbox survives a move."""
        if not radio_id or len(radio_id) > 64:
            raise RadioError("radio id must be 1..64 characters")
        position = spec.position()
        old = self._radios.get(radio_id)
        if old is None and len(self._radios) >= MAX_RADIOS:
            raise RadioError(f"the medium holds at most {MAX_RADIOS} radios")
        radio = _Radio(spec, position)
        if old is not None:
            radio.inbox = old.inbox
        self._radios[radio_id] = radio

    def unregister(self, radio_id: str) -> None:
        self._radios.pop(radio_id, None)

    def radios(self) -> dict[str, RadioSpec]:
        return {rid: self._radios[rid].spec for rid in sorted(self._radios)}

    def link_budget_dbm(self, sender: str, receiver: str, frame: Frame) -> tuple[float, float]:
        """(distance in m, received power in dBm) of ``frame`` from sender at receiver."""
        tx, rx = self._get(sender), self._get(receiver)
        d = distance_m(tx.position, rx.position)
        power = min(frame.tx_power_dbm, tx.spec.max_tx_power_dbm)
        loss = path_loss_db(d, frame.frequency_hz, self.config.path_loss_exponent)
        link = tuple(sorted((sender, receiver)))  # shadowing is reciprocal
        shadow = self.config.shadowing_sigma_db * _gauss(self.seed, "link", link)
        fading = self.config.fading_sigma_db * _gauss(self.seed, "tx", self._seq, receiver)
        return d, power + tx.spec.gain_dbi + rx.spec.gain_dbi - loss - shadow - fading

    def transmit(self, sender: str, frame: Frame, now_ms: int) -> Transmission:
        """Put ``frame`` on the air at ``now_ms``; delivers it to every radio that hears it."""
        check_frame(frame)
        self._get(sender)
        self._seq += 1
        air = airtime_ms(len(frame.payload), self.config)
        noise = self.config.noise_floor_dbm()
        deliveries = []
        for rid in sorted(self._radios):
            radio = self._radios[rid]
            if rid == sender:
                continue
            if radio.spec.channels_hz and frame.frequency_hz not in radio.spec.channels_hz:
                continue
            d, rx_power = self.link_budget_dbm(sender, rid, frame)
            snr = rx_power - noise
            if snr < self.config.min_snr_db:
                continue
            flight_ms = round(d / SPEED_OF_LIGHT_M_S * 1000)
            heard = ReceivedFrame(
                payload=frame.payload,
                frequency_hz=frame.frequency_hz,
                rssi=round(rx_power * 10),
                snr=round(snr * 10),
                received_ms=now_ms + air + flight_ms,
            )
            radio.inbox.append(heard)
            deliveries.append(Delivery(rid, d, rx_power, heard))
        return Transmission(self._seq, sender, now_ms, air, deliveries)

    def inject(self, radio_id: str, frame: ReceivedFrame) -> None:
        """Make a radio "hear" a frame no transmission produced (tests staging relay attacks:
        a beacon heard elsewhere and replayed into a cheater's radio over the internet)."""
        self._get(radio_id).inbox.append(frame)

    def receive(self, radio_id: str, since_ms: int) -> list[ReceivedFrame]:
        """Frames the radio heard at or after ``since_ms``, oldest first."""
        inbox = self._get(radio_id).inbox
        return sorted((f for f in inbox if f.received_ms >= since_ms), key=_frame_order)

    def _get(self, radio_id: str) -> _Radio:
        radio = self._radios.get(radio_id)
        if radio is None:
            raise UnknownRadio(f"no radio {radio_id!r} on the medium")
        return radio


def _frame_order(frame: ReceivedFrame) -> tuple[int, bytes]:
    return frame.received_ms, frame.payload


class InProcessRadio:
    """A radio on an in-process :class:`Medium` (implements RadioBackend).

    For simulations and unit tests that need no server: the clock is injected, so many
    hotspots can share one simulated timeline.
    """

    def __init__(self, medium: Medium, radio_id: str, clock: Callable[[], int]) -> None:
        self.medium = medium
        self.radio_id = radio_id
        self._clock = clock

    def transmit(self, frame: Frame) -> int:
        return self.medium.transmit(self.radio_id, frame, self._clock()).sent_ms

    def receive(self, since_ms: int) -> list[ReceivedFrame]:
        return self.medium.receive(self.radio_id, since_ms)
