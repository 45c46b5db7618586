"""Radios for the coverage network: the interface a hotspot uses and its two backends.

* :mod:`.backend`: :class:`RadioBackend` (transmit a :class:`Frame`, receive
  :class:`ReceivedFrame` s), the one thing the hotspot role depends on;
* :mod:`.medium` and :mod:`.server`: a simulated radio medium (free-space path loss
  plus log-normal shadowing) served over HTTP, and :class:`~.server.MediumRadio`,
  its client (``python -m depinkit.networks.coverage.radio.server --port N --seed S``);
* :mod:`.semtech` and :mod:`.gateway`: the Semtech UDP packet-forwarder protocol and
  :class:`~.gateway.SemtechRadio`, so a real LoRa gateway is the hotspot's radio;
* :mod:`.onair`: the beacon frame format.

The server and gateway modules are not imported here (they pull in FastAPI and
sockets); import them where they are used.
"""

from depinkit.networks.coverage.radio.backend import (
    MAX_LORA_PAYLOAD_BYTES,
    Frame,
    RadioBackend,
    RadioError,
    ReceivedFrame,
    UnknownRadio,
)
from depinkit.networks.coverage.radio.onair import (
    BeaconFrame,
    decode_beacon_frame,
    encode_beacon_frame,
)

__all__ = [
    "MAX_LORA_PAYLOAD_BYTES",
    "BeaconFrame",
    "Frame",
    "RadioBackend",
    "RadioError",
    "ReceivedFrame",
    "UnknownRadio",
    "decode_beacon_frame",
    "encode_beacon_frame",
]
