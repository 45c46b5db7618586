"""Bounded concurrency: the provider app served in a thread (real sandbox workers, real HTTP)."""

from __future__ import annotations

import threading

import httpx
import msgspec
from compute_sandbox_kit import HELLO, INFINITE_LOOP, LIMITS, job

from depinkit.core.keys import Account
from depinkit.networks.compute.jobs import (
    STATUS_WALL_TIME_EXCEEDED,
    Job,
    SignedResult,
    sign_request,
)
from depinkit.networks.compute.provider import DEVNET_DOMAIN, ProviderSettings, create_app
from depinkit.oracle.server import ServerThread

PROVIDER = Account.generate()
CONSUMER = Account.generate()


def _body(spec: Job) -> bytes:
    order = sign_request(CONSUMER, DEVNET_DOMAIN, spec, lease=bytes(32), provider=PROVIDER.address)
    return msgspec.json.encode(order)


def test_a_full_provider_answers_busy_and_serves_again_when_free() -> None:
    app = create_app(PROVIDER, settings=ProviderSettings(workers=1, queue=0))
    with ServerThread(app) as server, httpx.Client(base_url=server.url, timeout=60) as client:
        slow = job(INFINITE_LOOP, msgspec.structs.replace(LIMITS, fuel=10**13, wall_ms=2_000))
        answers: list[tuple[int, str]] = []

        def occupy() -> None:
            response = client.post("/v1/jobs", content=_body(slow))
            signed = msgspec.json.decode(response.content, type=SignedResult)
            answers.append((response.status_code, signed.result.status))

        thread = threading.Thread(target=occupy)
        thread.start()
        while client.get("/v1/info").json()["running"] == 0:
            threading.Event().wait(0.01)
        busy = client.post("/v1/jobs", content=_body(job(HELLO)))
        assert (busy.status_code, busy.json()["error"]) == (503, "busy")
        thread.join()
        assert answers == [(200, STATUS_WALL_TIME_EXCEEDED)]
        assert client.post("/v1/jobs", content=_body(job(HELLO))).status_code == 200
