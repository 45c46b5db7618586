"""An IoT end device of the coverage network and the uplink frame it puts on the air.

A sensor owned by a consumer transmits *uplinks*; any hotspot that hears one delivers it to
the consumer's packet router (:mod:`depinkit.networks.coverage.router`), which pays the
hotspot in credits. The frame plays the part of a LoRaWAN uplink (docs/networks/coverage.md,
"Data transfer")::

    offset  bytes  field
         0      4  MAGIC  b"dpu\\x01": a depinkit coverage uplink, format 1
         4      4  devaddr: the device's address in the router's table
         8      4  fcnt: frame counter (u32, big-endian), 1 for the first uplink, then +1
        12      n  payload (0 <= n <= MAX_UPLINK_PAYLOAD_BYTES)
    12 + n      8  mic = HMAC-SHA256(session key, bytes 0 .. 12 + n)[0:8]

The message integrity code plays LoRaWAN's MIC (there a 4-byte AES-CMAC under the network
session key): only the device and its router know the key, so nobody on the air, hotspots
included, can forge or alter an uplink; the frame counter lets the router refuse replays.
Eight bytes instead of four make forging by trial cost 2^64 deliveries. The frame is not
signed by a public key: LoRa airtime is too dear for 65-byte signatures.
"""

from __future__ import annotations

import hashlib
import hmac
from typing import Final, NamedTuple

from depinkit.networks.coverage.radio.backend import MAX_LORA_PAYLOAD_BYTES, Frame, RadioBackend

UPLINK_MAGIC: Final[bytes] = b"dpu\x01"  # 4 bytes: tag and format version (beacons: b"dpk\x01")
DEVADDR_BYTES: Final[int] = 4  # as LoRaWAN's DevAddr
FCNT_BYTES: Final[int] = 4  # u32, as LoRaWAN's 32-bit frame counter
MIC_BYTES: Final[int] = 8  # truncated HMAC-SHA256
SESSION_KEY_BYTES: Final[int] = 16  # 128 bits, as LoRaWAN session keys
HEADER_BYTES: Final[int] = len(UPLINK_MAGIC) + DEVADDR_BYTES + FCNT_BYTES  # 12
MAX_UPLINK_PAYLOAD_BYTES: Final[int] = MAX_LORA_PAYLOAD_BYTES - HEADER_BYTES - MIC_BYTES  # 235
MAX_FCNT: Final[int] = 2**32 - 1
DEFAULT_UPLINK_HZ: Final[int] = 868_300_000  # EU868's second default channel (beacons: first)
DEFAULT_UPLINK_DBM: Final[int] = 14  # EU868's conducted limit


class UplinkError(ValueError):
    """Bytes that are not a valid uplink, or a device that cannot send another one."""


class Uplink(NamedTuple):
    devaddr: bytes  # DEVADDR_BYTES
    fcnt: int
    payload: bytes
    mic: bytes  # MIC_BYTES


def uplink_mic(key: bytes, signed_part: bytes) -> bytes:
    """The MIC of the frame bytes before it (header and payload)."""
    if len(key) != SESSION_KEY_BYTES:
        raise UplinkError(f"session key must be {SESSION_KEY_BYTES} bytes, got {len(key)}")
    return hmac.new(key, signed_part, hashlib.sha256).digest()[:MIC_BYTES]


def encode_uplink(devaddr: bytes, fcnt: int, payload: bytes, key: bytes) -> bytes:
    """The frame the device transmits for uplink ``fcnt`` carrying ``payload``."""
    if len(devaddr) != DEVADDR_BYTES:
        raise UplinkError(f"devaddr must be {DEVADDR_BYTES} bytes, got {len(devaddr)}")
    if not 1 <= fcnt <= MAX_FCNT:
        raise UplinkError(f"frame counter {fcnt} is outside 1..{MAX_FCNT}")
    if len(payload) > MAX_UPLINK_PAYLOAD_BYTES:
        raise UplinkError(f"payload over {MAX_UPLINK_PAYLOAD_BYTES} bytes: {len(payload)}")
    head = UPLINK_MAGIC + devaddr + fcnt.to_bytes(FCNT_BYTES, "big") + payload
    return head + uplink_mic(key, head)


def decode_uplink(frame: bytes) -> Uplink | None:
    """The uplink in ``frame`` (MIC not checked), or None for any other frame (beacons, noise)."""
    if len(frame) < HEADER_BYTES + MIC_BYTES or not frame.startswith(UPLINK_MAGIC):
        return None
    at = len(UPLINK_MAGIC)
    devaddr = frame[at : at + DEVADDR_BYTES]
    fcnt = int.from_bytes(frame[at + DEVADDR_BYTES : HEADER_BYTES], "big")
    if fcnt == 0:
        return None
    return Uplink(devaddr, fcnt, frame[HEADER_BYTES:-MIC_BYTES], frame[-MIC_BYTES:])


def check_mic(frame: bytes, key: bytes) -> bool:
    """Whether ``frame``'s MIC is right under ``key`` (constant time)."""
    return len(frame) > MIC_BYTES and hmac.compare_digest(
        uplink_mic(key, frame[:-MIC_BYTES]), frame[-MIC_BYTES:]
    )


class IotDevice:
    """A sensor: transmits authenticated uplinks on a radio, counting its frames.

    ``fcnt`` is the counter of the last uplink sent (0: none yet); a device that restarts
    must start from the counter it had, or the router refuses its uplinks as replays.
    """

    def __init__(
        self,
        devaddr: bytes,
        key: bytes,
        radio: RadioBackend,
        *,
        fcnt: int = 0,
        frequency_hz: int = DEFAULT_UPLINK_HZ,
        tx_power_dbm: int = DEFAULT_UPLINK_DBM,
    ) -> None:
        uplink_mic(key, b"")  # checks the key length
        if len(devaddr) != DEVADDR_BYTES:
            raise UplinkError(f"devaddr must be {DEVADDR_BYTES} bytes, got {len(devaddr)}")
        if not 0 <= fcnt < MAX_FCNT:
            raise UplinkError(f"frame counter {fcnt} is outside 0..{MAX_FCNT - 1}")
        self.devaddr = devaddr
        self.key = key
        self.radio = radio
        self.fcnt = fcnt
        self.frequency_hz = frequency_hz
        self.tx_power_dbm = tx_power_dbm

    def send(self, payload: bytes) -> tuple[int, int]:
        """Transmit the next uplink; (its frame counter, unix ms it went on air).

        The counter advances even when the radio fails (RadioError): a counter is never reused.
        """
        if self.fcnt >= MAX_FCNT:
            raise UplinkError("frame counter exhausted: the device needs a new session")
        self.fcnt += 1
        frame = encode_uplink(self.devaddr, self.fcnt, payload, self.key)
        return self.fcnt, self.radio.transmit(Frame(frame, self.frequency_hz, self.tx_power_dbm))


__all__ = [
    "MAX_UPLINK_PAYLOAD_BYTES",
    "UPLINK_MAGIC",
    "IotDevice",
    "Uplink",
    "UplinkError",
    "check_mic",
    "decode_uplink",
    "encode_uplink",
    "uplink_mic",
]
