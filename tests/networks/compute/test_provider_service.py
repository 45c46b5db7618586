"""A real provider process on loopback: signed jobs in, signed results out, refusals, death."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator

import httpx
import msgspec
import pytest
from compute_provider_kit import ProviderProcess, start_provider
from compute_sandbox_kit import HELLO, INFINITE_LOOP, LIMITS, MEMORY_BOMB, example, job

from depinkit.core.envelope import ReportDomain
from depinkit.core.keys import Account
from depinkit.networks.compute.jobs import (
    STATUS_MEMORY_EXCEEDED,
    STATUS_OK,
    STATUS_WALL_TIME_EXCEEDED,
    Job,
    JobRequest,
    job_id,
    sign_request,
)
from depinkit.networks.compute.provider import DEVNET_DOMAIN
from depinkit.networks.compute.provider_client import (
    ProviderClient,
    ProviderError,
    ProviderUnreachable,
)
from depinkit.networks.compute.runner import Runner
from depinkit.networks.receipts import Receipt, sign_receipt

CONSUMER = Account.generate()
LEASE = bytes(range(32))
MAX_REQUEST_BYTES = 1024 * 1024  # small, so the oversize test stays small


@pytest.fixture(scope="module")
def provider() -> Iterator[ProviderProcess]:
    proc = start_provider("--max-request-bytes", str(MAX_REQUEST_BYTES), "--max-wall-ms", "60000")
    try:
        yield proc
    finally:
        proc.stop()


@pytest.fixture
def client(provider: ProviderProcess) -> Iterator[ProviderClient]:
    with ProviderClient(provider.url, DEVNET_DOMAIN) as c:
        yield c


def _order(provider: ProviderProcess, spec: Job, lease: bytes = LEASE) -> JobRequest:
    return sign_request(
        CONSUMER, DEVNET_DOMAIN, spec, lease=lease, provider=provider.account.address
    )


def test_info_names_the_provider(provider: ProviderProcess, client: ProviderClient) -> None:
    info = client.info()
    assert info.provider == provider.account.address
    assert (info.running, info.waiting, info.max_request_bytes) == (0, 0, MAX_REQUEST_BYTES)


def test_rendered_frame_equals_a_direct_local_run(
    provider: ProviderProcess, client: ProviderClient
) -> None:
    spec = job(example("render"), args=["render", "12", "96", "64", "400"])
    signed = client.run(_order(provider, spec))
    direct = Runner().execute(spec)
    assert signed.provider == provider.account.address
    assert signed.lease == LEASE
    assert signed.result == direct  # outputs byte for byte, fuel, hash, stdout
    assert signed.result.status == STATUS_OK
    assert signed.result.outputs["frame-00012.ppm"] == direct.outputs["frame-00012.ppm"]


def test_hostile_jobs_get_signed_failures_and_the_provider_keeps_serving(
    provider: ProviderProcess, client: ProviderClient
) -> None:
    loop = job(INFINITE_LOOP, msgspec.structs.replace(LIMITS, fuel=10**13, wall_ms=300))
    assert client.run(_order(provider, loop)).result.status == STATUS_WALL_TIME_EXCEEDED
    assert client.run(_order(provider, job(MEMORY_BOMB))).result.status == STATUS_MEMORY_EXCEEDED
    assert client.run(_order(provider, job(HELLO))).result.stdout == b"hello\n"


def _post(provider: ProviderProcess, body: bytes) -> httpx.Response:
    return httpx.post(
        provider.url + "/v1/jobs",
        content=body,
        headers={"content-type": "application/json"},
        timeout=30,
    )


def test_refuses_unsigned_and_wrongly_signed_requests(provider: ProviderProcess) -> None:
    good = _order(provider, job(HELLO))
    unsigned = msgspec.structs.replace(good, signature=bytes(65))
    response = _post(provider, msgspec.json.encode(unsigned))
    assert (response.status_code, response.json()["error"]) == (401, "bad_signature")

    other = Account.generate()  # signs, but the request claims CONSUMER
    forged = msgspec.structs.replace(good, signature=_order_by(other, provider).signature)
    response = _post(provider, msgspec.json.encode(forged))
    assert response.status_code == 401
    assert "not by" in response.json()["detail"]

    tampered = msgspec.structs.replace(good, job=job(HELLO, args=["other"]))
    assert _post(provider, msgspec.json.encode(tampered)).status_code == 401

    foreign = ReportDomain(chain_id=1, registry=DEVNET_DOMAIN.registry)
    wrong_chain = sign_request(
        CONSUMER, foreign, job(HELLO), lease=LEASE, provider=provider.account.address
    )
    assert _post(provider, msgspec.json.encode(wrong_chain)).status_code == 401


def _order_by(signer: Account, provider: ProviderProcess) -> JobRequest:
    return sign_request(
        signer, DEVNET_DOMAIN, job(HELLO), lease=LEASE, provider=provider.account.address
    )


def test_refuses_requests_for_another_provider(provider: ProviderProcess) -> None:
    order = sign_request(
        CONSUMER, DEVNET_DOMAIN, job(HELLO), lease=LEASE, provider=Account.generate().address
    )
    response = _post(provider, msgspec.json.encode(order))
    assert (response.status_code, response.json()["error"]) == (403, "wrong_provider")


def test_refuses_oversized_malformed_and_greedy_requests(
    provider: ProviderProcess, client: ProviderClient
) -> None:
    big = job(HELLO, inputs={"blob.bin": os.urandom(MAX_REQUEST_BYTES)})
    response = _post(provider, msgspec.json.encode(_order(provider, big)))
    assert (response.status_code, response.json()["error"]) == (413, "too_large")

    response = _post(provider, b'{"not": "a request"}')
    assert (response.status_code, response.json()["error"]) == (400, "malformed")

    greedy = job(HELLO, msgspec.structs.replace(LIMITS, wall_ms=10**9))
    with pytest.raises(ProviderError) as caught:
        client.run(_order(provider, greedy))
    assert (caught.value.status, caught.value.code) == (422, "limits_exceeded")
    assert "wall_ms" in caught.value.detail


def test_client_rejects_a_result_for_another_job(
    provider: ProviderProcess, client: ProviderClient
) -> None:
    signed = client.run(_order(provider, job(HELLO)))
    assert signed.result.job_id == job_id(job(HELLO))


def test_killing_the_provider_mid_job_is_seen_by_the_client() -> None:
    doomed = start_provider()
    try:
        spec = job(INFINITE_LOOP, msgspec.structs.replace(LIMITS, fuel=10**13, wall_ms=30_000))
        outcome: list[BaseException | object] = []

        def run() -> None:
            with ProviderClient(doomed.url, DEVNET_DOMAIN) as c:
                try:
                    outcome.append(c.run(_order(doomed, spec)))
                except BaseException as exc:
                    outcome.append(exc)

        thread = threading.Thread(target=run)
        thread.start()
        with ProviderClient(doomed.url, DEVNET_DOMAIN) as watcher:
            while watcher.info().running == 0:  # until the job is in a worker
                threading.Event().wait(0.02)
        doomed.process.kill()
        thread.join(timeout=60)
        assert not thread.is_alive()
        assert isinstance(outcome[0], ProviderUnreachable)
    finally:
        doomed.stop()


def test_keeps_the_newest_receipt_per_lease(
    provider: ProviderProcess, client: ProviderClient
) -> None:
    channel = bytes([7]) * 32

    def receipt(cumulative: int, payee: str = provider.account.address) -> Receipt:
        return sign_receipt(
            CONSUMER,
            DEVNET_DOMAIN,
            network="compute",
            payee=payee,
            channel=channel,
            cumulative=cumulative,
        )

    assert client.pay(receipt(100)) == 100
    assert client.pay(receipt(150)) == 150
    with pytest.raises(ProviderError) as caught:
        client.pay(receipt(120))
    assert (caught.value.status, caught.value.code) == (409, "replayed")
    with pytest.raises(ProviderError) as caught:
        client.pay(msgspec.structs.replace(receipt(200), cumulative=300))
    assert (caught.value.status, caught.value.code) == (401, "bad_signature")
    with pytest.raises(ProviderError) as caught:
        client.pay(receipt(200, payee=Account.generate().address))
    assert (caught.value.status, caught.value.code) == (403, "wrong_payee")
    held = [r for r in client.receipts() if r.channel == channel]
    assert held == [receipt(150)]
    assert client.info().price_per_mfuel is None
