"""The radio a hotspot uses: the narrow interface between the role and the air.

A hotspot role only ever transmits a frame and asks what it heard since some
time, so the same role runs on the simulated medium (devnet, tests) and on a
real LoRa gateway speaking the Semtech UDP packet-forwarder protocol. Units are
integers where the radio reports them as such: frequency in Hz, RSSI in tenths
of a dBm and SNR in tenths of a dB (so -1205 is -120.5 dBm), times in unix ms.
"""

from __future__ import annotations

from typing import Final, Protocol

import msgspec

from depinkit.core.errors import DepinkitError

MAX_LORA_PAYLOAD_BYTES: Final[int] = 255  # LoRa PHY payload limit (SX127x/SX130x FIFO)


class RadioError(DepinkitError):
    """The radio could not transmit or receive (unreachable medium, no gateway yet, bad frame)."""


class UnknownRadio(RadioError):
    """The medium has no radio of that id (not registered, or removed)."""


class Frame(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """One frame to put on the air."""

    payload: bytes  # at most MAX_LORA_PAYLOAD_BYTES
    frequency_hz: int  # carrier, e.g. 904_600_000 (US915 channel) or 868_100_000 (EU868)
    tx_power_dbm: int  # conducted power asked for; the radio may clip it to its own limit


class ReceivedFrame(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """One frame heard, with the radio's measurements."""

    payload: bytes
    frequency_hz: int
    rssi: int  # received signal strength, tenths of a dBm
    snr: int  # signal-to-noise ratio, tenths of a dB
    received_ms: int  # unix ms at the end of reception, on the radio's clock


class RadioBackend(Protocol):
    """What a hotspot role needs from a radio."""

    def transmit(self, frame: Frame) -> int:
        """Send ``frame`` now; returns the unix ms it went on air (RadioError on failure)."""
        ...

    def receive(self, since_ms: int) -> list[ReceivedFrame]:
        """Frames heard with ``received_ms >= since_ms``, oldest first (RadioError on failure)."""
        ...


def check_frame(frame: Frame) -> None:
    """RadioError for a frame no LoRa radio could send."""
    if not 0 < len(frame.payload) <= MAX_LORA_PAYLOAD_BYTES:
        raise RadioError(
            f"frame payload must be 1..{MAX_LORA_PAYLOAD_BYTES} bytes, got {len(frame.payload)}"
        )
    if not 0 < frame.frequency_hz < 10**10:
        raise RadioError(f"frequency {frame.frequency_hz} Hz is not a radio frequency")
    if not -30 <= frame.tx_power_dbm <= 40:
        raise RadioError(f"tx power {frame.tx_power_dbm} dBm is outside -30..40 dBm")
