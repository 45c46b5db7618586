"""The beacon frame on the air: what a hotspot transmits and its witnesses decode.

A beacon frame is 44 bytes, all integers big-endian::

    offset  bytes  field
         0      4  MAGIC  b"dpk\\x01": a depinkit coverage beacon, format 1
         4     20  beaconer: the transmitting hotspot's address
        24      4  slot: the beacon slot in the epoch (u32)
        28     16  payload: beacon_payload(entropy, beaconer, slot)

The payload binds the frame to the epoch's entropy
(:func:`depinkit.networks.coverage.beacon.beacon_payload`); the beaconer and slot are sent
in the clear so a witness can name the beacon in its report without knowing the entropy.
Nothing on the air is signed: the beacon report (signed by the beaconer) and the
witness reports (each signed by its witness) are what the oracles check. 44 bytes take
about 290 ms at SF9BW125, well under every region's dwell-time limit.
"""

from __future__ import annotations

from typing import Final, NamedTuple

from depinkit.core.keys import address_bytes, to_checksum
from depinkit.networks.coverage.schemas import MAX_SLOT, PAYLOAD_BYTES

MAGIC: Final[bytes] = b"dpk\x01"  # 4 bytes: tag and format version
ADDRESS_BYTES: Final[int] = 20
SLOT_BYTES: Final[int] = 4  # u32: schemas.MAX_SLOT is 2**32 - 1
FRAME_BYTES: Final[int] = len(MAGIC) + ADDRESS_BYTES + SLOT_BYTES + PAYLOAD_BYTES  # 44


class BeaconFrame(NamedTuple):
    beaconer: str  # EIP-55 address
    slot: int
    payload: bytes  # PAYLOAD_BYTES


def encode_beacon_frame(beaconer: str, slot: int, payload: bytes) -> bytes:
    """The bytes to transmit for ``beaconer``'s beacon of ``slot``."""
    if not 0 <= slot <= MAX_SLOT:
        raise ValueError(f"slot {slot} does not fit in {SLOT_BYTES} bytes")
    if len(payload) != PAYLOAD_BYTES:
        raise ValueError(f"beacon payload must be {PAYLOAD_BYTES} bytes, got {len(payload)}")
    return MAGIC + address_bytes(beaconer) + slot.to_bytes(SLOT_BYTES, "big") + payload


def decode_beacon_frame(frame: bytes) -> BeaconFrame | None:
    """The beacon in ``frame``, or None for any other frame (LoRaWAN uplinks, noise)."""
    if len(frame) != FRAME_BYTES or not frame.startswith(MAGIC):
        return None
    at = len(MAGIC)
    beaconer = to_checksum("0x" + frame[at : at + ADDRESS_BYTES].hex())
    at += ADDRESS_BYTES
    slot = int.from_bytes(frame[at : at + SLOT_BYTES], "big")
    return BeaconFrame(beaconer, slot, frame[at + SLOT_BYTES :])
