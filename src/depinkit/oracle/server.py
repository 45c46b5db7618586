"""Serving an app with uvicorn: in the foreground (CLI) or in a thread (tests, tools)."""

from __future__ import annotations

import socket
import threading
import time

import uvicorn
from fastapi import FastAPI

SERVER_START_TIMEOUT_S = 30.0  # a thread-run server must accept connections within this


def run_server(app: FastAPI, host: str, port: int) -> None:
    """Serve until interrupted (uvicorn handles SIGINT/SIGTERM)."""
    uvicorn.run(app, host=host, port=port, log_level="warning", access_log=False)


class ServerThread:
    """A uvicorn server on a free loopback port in a background thread.

    The socket is bound before the thread starts, so ``url`` is valid at once
    and no other process can take the port in between.
    """

    def __init__(self, app: FastAPI, host: str = "127.0.0.1") -> None:
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind((host, 0))
        self.port = int(self._sock.getsockname()[1])
        self.url = f"http://{host}:{self.port}"
        config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="on")
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [self._sock]}, daemon=True
        )

    def start(self) -> ServerThread:
        self._thread.start()
        deadline = time.monotonic() + SERVER_START_TIMEOUT_S
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("ingest server did not start")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=SERVER_START_TIMEOUT_S)
        self._sock.close()

    def __enter__(self) -> ServerThread:
        return self.start()

    def __exit__(self, *_exc: object) -> None:
        self.stop()
