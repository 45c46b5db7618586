"""The simulated radio medium as a process, and the client hotspots use to reach it.

Run it with::

    python -m depinkit.networks.coverage.radio.server --port 7700 --seed 42

(``--port 0`` picks a free port; the first line on stdout is always
``medium listening on http://HOST:PORT``). The HTTP API, JSON bodies, bytes in base64:

======  ===============================  ==========================================
PUT     /v1/radios/{id}                  operator: place or move a radio (RadioSpec)
DELETE  /v1/radios/{id}                  operator: remove a radio
GET     /v1/radios                       operator: every radio and its true position
POST    /v1/radios/{id}/transmit         a radio transmits a Frame -> TransmitReply
GET     /v1/radios/{id}/frames?since_ms  frames the radio heard -> [ReceivedFrame]
POST    /v1/radios/{id}/inject           operator: make a radio hear a ReceivedFrame
GET     /v1/transmissions?since_seq      operator: recent transmissions and who heard them
GET     /v1/health                       liveness, seed and radio count
======  ===============================  ==========================================

Radio ids are whatever the operator chooses; the devnet uses device addresses. The
operator endpoints have no authentication: the medium stands for physics, and only a
test or devnet harness talks to it.
"""

from __future__ import annotations

import argparse
import socket
import sys
import time
from collections import deque
from collections.abc import Callable, Sequence
from typing import Final, TypeVar

import httpx
import msgspec
import uvicorn
from fastapi import FastAPI, Request, Response

from depinkit.networks.coverage.radio.backend import Frame, RadioError, ReceivedFrame, UnknownRadio
from depinkit.networks.coverage.radio.medium import Medium, MediumConfig, RadioSpec, Transmission

T = TypeVar("T")

MAX_BODY_BYTES: Final[int] = 16_384  # a frame is <= 255 bytes (~400 in base64 JSON)
TRANSMISSION_LOG: Final[int] = 1_000  # recent transmissions kept for the operator's view
CLIENT_TIMEOUT_S: Final[float] = 5.0  # one request to the medium, connect included


class TransmitReply(msgspec.Struct, frozen=True):
    seq: int
    sent_ms: int  # unix ms the frame went on air (the medium's clock)
    airtime_ms: int
    heard_by: int  # how many radios received it


class Health(msgspec.Struct, frozen=True):
    ok: bool
    seed: int
    radios: int
    transmissions: int


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


def create_app(medium: Medium, *, clock: Callable[[], int] = _now_ms) -> FastAPI:
    """The medium's HTTP API; handlers are async, so the medium is only touched on one thread."""
    app = FastAPI(title="depinkit simulated radio medium", version="1")
    log: deque[Transmission] = deque(maxlen=TRANSMISSION_LOG)

    def reply(value: object, status: int = 200) -> Response:
        return Response(msgspec.json.encode(value), status, media_type="application/json")

    def error(status: int, message: str) -> Response:
        return reply({"error": message}, status)

    async def body_of(request: Request, kind: type[T]) -> T:
        raw = await request.body()
        if len(raw) > MAX_BODY_BYTES:
            raise RadioError(f"body over {MAX_BODY_BYTES} bytes")
        try:
            return msgspec.json.decode(raw, type=kind)
        except msgspec.DecodeError as exc:
            raise RadioError(f"bad {kind.__name__}: {exc}") from exc

    @app.get("/v1/health")
    async def health() -> Response:
        seq = log[-1].seq if log else 0
        return reply(Health(True, medium.seed, len(medium.radios()), seq))

    @app.put("/v1/radios/{radio_id}")
    async def put_radio(radio_id: str, request: Request) -> Response:
        try:
            medium.register(radio_id, await body_of(request, RadioSpec))
        except RadioError as exc:
            return error(400, str(exc))
        return Response(status_code=204)

    @app.delete("/v1/radios/{radio_id}")
    async def delete_radio(radio_id: str) -> Response:
        medium.unregister(radio_id)
        return Response(status_code=204)

    @app.get("/v1/radios")
    async def list_radios() -> Response:
        return reply(medium.radios())

    @app.post("/v1/radios/{radio_id}/transmit")
    async def transmit(radio_id: str, request: Request) -> Response:
        try:
            sent = medium.transmit(radio_id, await body_of(request, Frame), clock())
        except UnknownRadio as exc:
            return error(404, str(exc))
        except RadioError as exc:
            return error(400, str(exc))
        log.append(sent)
        return reply(TransmitReply(sent.seq, sent.sent_ms, sent.airtime_ms, len(sent.deliveries)))

    @app.post("/v1/radios/{radio_id}/inject")
    async def inject(radio_id: str, request: Request) -> Response:
        try:
            medium.inject(radio_id, await body_of(request, ReceivedFrame))
        except UnknownRadio as exc:
            return error(404, str(exc))
        except RadioError as exc:
            return error(400, str(exc))
        return Response(status_code=204)

    @app.get("/v1/radios/{radio_id}/frames")
    async def frames(radio_id: str, since_ms: int = 0) -> Response:
        try:
            return reply(medium.receive(radio_id, since_ms))
        except RadioError as exc:
            return error(404, str(exc))

    @app.get("/v1/transmissions")
    async def transmissions(since_seq: int = 0) -> Response:
        return reply([t for t in log if t.seq > since_seq])

    return app


class MediumRadio:
    """A hotspot's radio on the simulated medium (implements RadioBackend)."""

    def __init__(self, url: str, radio_id: str, *, timeout_s: float = CLIENT_TIMEOUT_S) -> None:
        self._url = url.rstrip("/")
        self.radio_id = radio_id
        self._timeout_s = timeout_s

    def transmit(self, frame: Frame) -> int:
        reply = _call(
            "POST",
            f"{self._url}/v1/radios/{self.radio_id}/transmit",
            self._timeout_s,
            content=msgspec.json.encode(frame),
        )
        return msgspec.json.decode(reply, type=TransmitReply).sent_ms

    def receive(self, since_ms: int) -> list[ReceivedFrame]:
        reply = _call(
            "GET",
            f"{self._url}/v1/radios/{self.radio_id}/frames",
            self._timeout_s,
            params={"since_ms": since_ms},
        )
        return msgspec.json.decode(reply, type=list[ReceivedFrame])


class MediumOperator:
    """The harness's view of the medium: places radios where they really are."""

    def __init__(self, url: str, *, timeout_s: float = CLIENT_TIMEOUT_S) -> None:
        self.url = url.rstrip("/")
        self._timeout_s = timeout_s

    def health(self) -> Health:
        return msgspec.json.decode(
            _call("GET", f"{self.url}/v1/health", self._timeout_s), type=Health
        )

    def register(self, radio_id: str, spec: RadioSpec) -> MediumRadio:
        _call(
            "PUT",
            f"{self.url}/v1/radios/{radio_id}",
            self._timeout_s,
            content=msgspec.json.encode(spec),
        )
        return MediumRadio(self.url, radio_id, timeout_s=self._timeout_s)

    def inject(self, radio_id: str, frame: ReceivedFrame) -> None:
        """Make ``radio_id`` hear ``frame`` (a relayed beacon, in attack scenarios)."""
        _call(
            "POST",
            f"{self.url}/v1/radios/{radio_id}/inject",
            self._timeout_s,
            content=msgspec.json.encode(frame),
        )

    def unregister(self, radio_id: str) -> None:
        _call("DELETE", f"{self.url}/v1/radios/{radio_id}", self._timeout_s)

    def radios(self) -> dict[str, RadioSpec]:
        reply = _call("GET", f"{self.url}/v1/radios", self._timeout_s)
        return msgspec.json.decode(reply, type=dict[str, RadioSpec])

    def transmissions(self, since_seq: int = 0) -> list[Transmission]:
        reply = _call(
            "GET", f"{self.url}/v1/transmissions", self._timeout_s, params={"since_seq": since_seq}
        )
        return msgspec.json.decode(reply, type=list[Transmission])


def _call(method: str, url: str, timeout_s: float, **kwargs: object) -> bytes:
    try:
        reply = httpx.request(method, url, timeout=timeout_s, **kwargs)  # type: ignore[arg-type]
    except httpx.HTTPError as exc:
        raise RadioError(f"medium unreachable at {url}: {exc}") from exc
    if reply.status_code >= 300:
        try:
            message = msgspec.json.decode(reply.content, type=dict[str, str]).get("error", "")
        except msgspec.DecodeError:
            message = reply.text[:200]
        error = UnknownRadio if reply.status_code == 404 else RadioError
        raise error(f"medium refused {method} {url}: {reply.status_code} {message}")
    return reply.content


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--seed", type=int, default=0, help="seeds shadowing and fading")
    defaults = MediumConfig()
    parser.add_argument("--path-loss-exponent", type=float, default=defaults.path_loss_exponent)
    parser.add_argument("--shadowing-db", type=float, default=defaults.shadowing_sigma_db)
    parser.add_argument("--fading-db", type=float, default=defaults.fading_sigma_db)
    parser.add_argument("--spreading-factor", type=int, default=defaults.spreading_factor)
    args = parser.parse_args(argv)
    config = msgspec.structs.replace(
        defaults,
        path_loss_exponent=args.path_loss_exponent,
        shadowing_sigma_db=args.shadowing_db,
        fading_sigma_db=args.fading_db,
        spreading_factor=args.spreading_factor,
    )
    app = create_app(Medium(config, seed=args.seed))
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((args.host, args.port))
    host, port = sock.getsockname()[:2]
    print(f"medium listening on http://{host}:{port}", flush=True)
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", access_log=False))
    server.run(sockets=[sock])  # SIGINT/SIGTERM stop it


if __name__ == "__main__":
    main(sys.argv[1:])
