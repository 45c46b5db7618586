"""A real LoRa gateway as the hotspot's radio, over the Semtech UDP protocol.

The hotspot plays the network server: it listens on a UDP port (1700 by
convention) that the gateway's packet forwarder is configured to send to
(``server_address``, ``serv_port_up`` and ``serv_port_down`` in
``global_conf.json``). Uplinks (``PUSH_DATA``) are acknowledged and kept as
received frames; the forwarder's keep-alives (``PULL_DATA``) are acknowledged and
give the address downlinks go to; :meth:`SemtechRadio.transmit` sends a
``PULL_RESP`` there and waits for the gateway's ``TX_ACK``.
"""

from __future__ import annotations

import os
import socket
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Final

from depinkit.networks.coverage.radio.backend import Frame, RadioError, ReceivedFrame
from depinkit.networks.coverage.radio.semtech import (
    DEFAULT_DATR,
    MAX_DATAGRAM_BYTES,
    TX_ACK_OK,
    PullAck,
    PullData,
    PullResp,
    PushAck,
    PushData,
    SemtechError,
    TxAck,
    decode,
    encode,
    received_frame,
    txpk_for,
)

DEFAULT_PORT: Final[int] = 1700  # the packet forwarder's conventional server port
INBOX_FRAMES: Final[int] = 10_000  # uplinks kept; the role polls far more often than this fills
REJECTED_KEPT: Final[int] = 100  # recent malformed-datagram messages kept for diagnostics
TX_ACK_TIMEOUT_S: Final[float] = 2.0  # a forwarder answers a PULL_RESP within milliseconds
POLL_S: Final[float] = 0.1  # socket timeout, so close() stops the listener promptly
CRC_BAD: Final[int] = -1  # rxpk.stat of a frame whose CRC failed: not a frame we heard


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


class SemtechRadio:
    """A RadioBackend listening for one gateway's packet forwarder."""

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = DEFAULT_PORT,
        *,
        gateway: bytes | None = None,
        clock: Callable[[], int] = _now_ms,
        tx_ack_timeout_s: float = TX_ACK_TIMEOUT_S,
        datr: str = DEFAULT_DATR,
    ) -> None:
        """``gateway``: accept only this 8-byte EUI (None: the first gateway heard)."""
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            self._sock.bind((host, port))
        except OSError as exc:
            self._sock.close()
            raise RadioError(f"cannot listen for the gateway on {host}:{port}: {exc}") from exc
        self._sock.settimeout(POLL_S)
        self.address: tuple[str, int] = self._sock.getsockname()[:2]
        self.gateway = gateway
        self._clock = clock
        self._tx_ack_timeout_s = tx_ack_timeout_s
        self._datr = datr
        self._lock = threading.Lock()
        self._inbox: deque[ReceivedFrame] = deque(maxlen=INBOX_FRAMES)
        self._downlink: tuple[str, int] | None = None
        self._acks: dict[int, TxAck] = {}
        self._acked = threading.Condition(self._lock)
        self.rejected: deque[str] = deque(maxlen=REJECTED_KEPT)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._listen, name="semtech-radio", daemon=True)

    def start(self) -> SemtechRadio:
        self._thread.start()
        return self

    def close(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=5 * POLL_S + 1)
        self._sock.close()

    def __enter__(self) -> SemtechRadio:
        return self.start()

    def __exit__(self, *_exc: object) -> None:
        self.close()

    @property
    def downlink(self) -> tuple[str, int] | None:
        """Where downlinks go: the address of the last PULL_DATA (None before the first)."""
        with self._lock:
            return self._downlink

    def transmit(self, frame: Frame) -> int:
        target = self.downlink
        if target is None or self.gateway is None:
            raise RadioError("no gateway has sent PULL_DATA yet: cannot transmit")
        token = int.from_bytes(os.urandom(2), "big")
        datagram = encode(PullResp(token, txpk_for(frame, datr=self._datr)))
        sent_ms = self._clock()
        with self._acked:
            self._acks.pop(token, None)
            self._sock.sendto(datagram, target)
            if not self._acked.wait_for(lambda: token in self._acks, self._tx_ack_timeout_s):
                raise RadioError(f"gateway sent no TX_ACK within {self._tx_ack_timeout_s} s")
            ack = self._acks.pop(token)
        if ack.error != TX_ACK_OK:
            raise RadioError(f"gateway refused the frame: {ack.error}")
        return sent_ms

    def receive(self, since_ms: int) -> list[ReceivedFrame]:
        with self._lock:
            frames = [f for f in self._inbox if f.received_ms >= since_ms]
        return sorted(frames, key=lambda f: (f.received_ms, f.payload))

    def _listen(self) -> None:
        while not self._stop.is_set():
            try:
                datagram, peer = self._sock.recvfrom(MAX_DATAGRAM_BYTES + 1)
            except TimeoutError:
                continue
            except OSError:
                return  # socket closed under us
            try:
                self._handle(decode(datagram), peer)
            except SemtechError as exc:
                self.rejected.append(f"{peer[0]}:{peer[1]}: {exc}")

    def _handle(self, packet: object, peer: tuple[str, int]) -> None:
        match packet:
            case PushData(token=token, gateway=eui, payload=payload):
                if not self._accepts(eui):
                    raise SemtechError(f"PUSH_DATA from foreign gateway {eui.hex()}")
                now = self._clock()
                frames = [received_frame(r, now) for r in payload.rxpk if r.stat != CRC_BAD]
                with self._lock:
                    self._inbox.extend(frames)
                self._sock.sendto(encode(PushAck(token)), peer)
            case PullData(token=token, gateway=eui):
                if not self._accepts(eui):
                    raise SemtechError(f"PULL_DATA from foreign gateway {eui.hex()}")
                with self._lock:
                    self._downlink = peer
                self._sock.sendto(encode(PullAck(token)), peer)
            case TxAck() as ack:
                with self._acked:
                    self._acks[ack.token] = ack
                    self._acked.notify_all()
            case _:
                raise SemtechError(f"{type(packet).__name__} is sent by servers, not gateways")

    def _accepts(self, eui: bytes) -> bool:
        with self._lock:
            if self.gateway is None:
                self.gateway = eui
            return self.gateway == eui
