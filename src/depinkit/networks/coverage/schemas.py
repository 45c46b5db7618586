"""Report bodies of the ``coverage`` network (docs/networks/coverage.md, "Messages").

Three kinds, each the body of a signed report (:mod:`depinkit.core.envelope`):

* ``beacon``: a hotspot says it transmitted the beacon of one of its slots, with the payload
  derived from the epoch's entropy (:func:`depinkit.networks.coverage.beacon.beacon_payload`),
  so nobody can have prepared it before the epoch began.
* ``witness``: a hotspot says it heard another hotspot's beacon, with the radio measurements.
  A beacon is named by (beaconer, slot): a hotspot transmits at most one beacon per slot.
* ``receipt``: a hotspot hands in the newest packet-relay receipt a consumer signed on one
  channel (:class:`depinkit.networks.receipts.Receipt`); the increase is its data reward.

Radio units are integers: dBm and dB in tenths (as LoRa gateways report them, one decimal),
frequencies in Hz, times in unix milliseconds.
"""

from __future__ import annotations

from typing import Annotated, Final

import msgspec

from depinkit.networks.receipts import Receipt

BEACON: Final[str] = "beacon"  # kind name
WITNESS: Final[str] = "witness"  # kind name
RECEIPT: Final[str] = "receipt"  # kind name

PAYLOAD_BYTES: Final[int] = 16  # bytes: 128 bits, unguessable; fits LoRa payloads at SF10
MAX_SLOT: Final[int] = 2**32 - 1  # beacon slots per epoch: far above any interval allows
MAX_U63: Final[int] = 2**63 - 1  # unix ms: fits a signed 64-bit SQL BIGINT
MIN_FREQUENCY_HZ: Final[int] = 1  # Hz: a positive frequency; the region plan narrows it
MAX_FREQUENCY_HZ: Final[int] = 10_000_000_000  # Hz: 10 GHz, above every LoRa/ISM band
MIN_TX_POWER_DBM: Final[int] = -30  # dBm: below any radio's lowest setting
MAX_TX_POWER_DBM: Final[int] = 40  # dBm: 10 W, above every ISM band's legal limit
MIN_RSSI_DBM10: Final[int] = -2000  # tenths of dBm: -200 dBm, far below thermal noise
MAX_RSSI_DBM10: Final[int] = 500  # tenths of dBm: +50 dBm, would burn a receiver
MAX_SNR_DB10: Final[int] = 1000  # tenths of dB: +-100 dB bounds any LoRa reading

_Address = Annotated[str, msgspec.Meta(pattern=r"^0x[0-9a-fA-F]{40}$")]
_Slot = Annotated[int, msgspec.Meta(ge=0, le=MAX_SLOT)]
_Payload = Annotated[bytes, msgspec.Meta(min_length=PAYLOAD_BYTES, max_length=PAYLOAD_BYTES)]
_Frequency = Annotated[int, msgspec.Meta(ge=MIN_FREQUENCY_HZ, le=MAX_FREQUENCY_HZ)]
_Ms = Annotated[int, msgspec.Meta(ge=0, le=MAX_U63)]


# gc=False: only bytes, str and ints inside, so never part of a cycle; an epoch holds millions
# of these, and the cyclic collector would walk them all again on every pass.
class Beacon(msgspec.Struct, frozen=True, gc=False, array_like=True, forbid_unknown_fields=True):
    """``beacon``: the hotspot transmitted ``payload`` for beacon ``slot`` at ``transmit_ms``."""

    slot: _Slot  # beacon slot index in the epoch (slots of beacon_interval_s from its start)
    payload: _Payload  # beacon_payload(entropy, hotspot, slot)
    frequency_hz: _Frequency  # carrier frequency used
    tx_power_dbm: Annotated[int, msgspec.Meta(ge=MIN_TX_POWER_DBM, le=MAX_TX_POWER_DBM)]
    transmit_ms: _Ms  # unix ms when the frame left the antenna (the hotspot's clock)


class Witness(msgspec.Struct, frozen=True, gc=False, array_like=True, forbid_unknown_fields=True):
    """``witness``: the hotspot heard ``beaconer``'s beacon of ``slot`` with these readings."""

    beaconer: _Address  # EIP-55 address of the hotspot that transmitted
    slot: _Slot  # the beacon's slot (with beaconer: the beacon's id)
    payload: _Payload  # the payload as received
    rssi_dbm10: Annotated[int, msgspec.Meta(ge=MIN_RSSI_DBM10, le=MAX_RSSI_DBM10)]
    snr_db10: Annotated[int, msgspec.Meta(ge=-MAX_SNR_DB10, le=MAX_SNR_DB10)]
    frequency_hz: _Frequency  # frequency the frame was received on
    received_ms: _Ms  # unix ms when the frame was received (the witness's clock)


class PacketReceipt(msgspec.Struct, frozen=True, array_like=True, forbid_unknown_fields=True):
    """``receipt``: the newest consumer-signed receipt for packets relayed on one channel."""

    receipt: Receipt
