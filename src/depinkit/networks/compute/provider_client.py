"""Talk to a compute provider over HTTP: what the market and the consumer client call.

:meth:`ProviderClient.run` sends a signed :class:`~depinkit.networks.compute.jobs.JobRequest`
and returns the provider's :class:`~depinkit.networks.compute.jobs.SignedResult` only after
checking it: signed by the provider the request named, for this job and lease, outputs
matching their hash. A connection lost before the answer (the provider died, or is
unreachable) raises :class:`ProviderUnreachable`: the caller reschedules the job on another
provider under a new lease. :meth:`ProviderClient.cancel` stops a run the consumer no longer
wants (``POST /v1/cancel``).

Every client made here without an ``httpx.Client`` of the caller's shares one TLS context per
process (:func:`http_client`): building one loads the CA bundle, ~25 ms of CPU, which a
``depinkit compute run`` would otherwise pay once per client it opens.
"""

from __future__ import annotations

import functools
import ssl
from typing import Final

import httpx
import msgspec

from depinkit.core.envelope import ReportDomain
from depinkit.networks.compute.jobs import (
    CancelRequest,
    JobMessageError,
    JobRequest,
    SignedResult,
    job_id,
    verify_result,
)
from depinkit.networks.compute.provider import MEDIA_JSON, ProviderInfo
from depinkit.networks.compute.schemas import Claim
from depinkit.networks.errors import NetworkError
from depinkit.networks.receipts import Receipt

TRANSFER_MARGIN_S: Final[float] = 30.0  # seconds beyond the job's wall limit to wait for the
# answer: kill grace, signing, moving outputs over the network
CONNECT_TIMEOUT_S: Final[float] = 5.0  # seconds: a provider that does not accept is down

_RESULT_DECODER = msgspec.json.Decoder(SignedResult)
_INFO_DECODER = msgspec.json.Decoder(ProviderInfo)


@functools.cache
def _tls_context() -> ssl.SSLContext:
    """httpx's default context (certifi's CA bundle, or SSL_CERT_FILE/SSL_CERT_DIR), made once."""
    return httpx.create_ssl_context()


def http_client() -> httpx.Client:
    """An ``httpx.Client`` for providers, on the process's shared TLS context."""
    return httpx.Client(verify=_tls_context())


class ProviderError(NetworkError):
    """The provider refused the request (``status`` and ``code`` say why) or lied."""

    def __init__(self, status: int, code: str, detail: str) -> None:
        super().__init__(f"provider refused ({status} {code}): {detail}")
        self.status, self.code, self.detail = status, code, detail


class ProviderUnreachable(NetworkError):
    """No answer: the provider is down or died during the job; reschedule elsewhere."""


class ProviderClient:
    """One provider at ``url`` (for example ``http://127.0.0.1:8700``)."""

    def __init__(
        self, url: str, domain: ReportDomain, *, client: httpx.Client | None = None
    ) -> None:
        self.url = url.rstrip("/")
        self.domain = domain
        self._client = client or http_client()
        self._owns_client = client is None

    def close(self) -> None:
        if self._owns_client:
            self._client.close()

    def __enter__(self) -> ProviderClient:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def _post(self, path: str, content: bytes, timeout: httpx.Timeout) -> httpx.Response:
        try:
            return self._client.post(
                self.url + path,
                content=content,
                headers={"content-type": MEDIA_JSON},
                timeout=timeout,
            )
        except httpx.TransportError as exc:
            raise ProviderUnreachable(f"{self.url}: {type(exc).__name__}: {exc}") from exc

    def info(self) -> ProviderInfo:
        try:
            response = self._client.get(self.url + "/v1/info", timeout=CONNECT_TIMEOUT_S)
        except httpx.TransportError as exc:
            raise ProviderUnreachable(f"{self.url}: {type(exc).__name__}: {exc}") from exc
        _raise_for_refusal(response)
        return _INFO_DECODER.decode(response.content)

    def pay(self, receipt: Receipt) -> int:
        """Hand the provider a receipt for its lease; the cumulative it now holds."""
        timeout = httpx.Timeout(CONNECT_TIMEOUT_S)
        response = self._post("/v1/receipts", msgspec.json.encode(receipt), timeout)
        _raise_for_refusal(response)
        return int(msgspec.json.decode(response.content)["cumulative"])

    def receipts(self) -> list[Receipt]:
        """The newest receipt per channel the provider holds."""
        try:
            response = self._client.get(self.url + "/v1/receipts", timeout=CONNECT_TIMEOUT_S)
        except httpx.TransportError as exc:
            raise ProviderUnreachable(f"{self.url}: {type(exc).__name__}: {exc}") from exc
        _raise_for_refusal(response)
        return msgspec.json.decode(response.content, type=list[Receipt])

    def claims(self) -> list[Claim]:
        """The claims of the results the provider signed, by lease."""
        try:
            response = self._client.get(self.url + "/v1/claims", timeout=CONNECT_TIMEOUT_S)
        except httpx.TransportError as exc:
            raise ProviderUnreachable(f"{self.url}: {type(exc).__name__}: {exc}") from exc
        _raise_for_refusal(response)
        return msgspec.json.decode(response.content, type=list[Claim])

    def cancel(self, request: CancelRequest) -> str:
        """Ask the provider to stop the run of ``request.lease``; what it says it did:
        ``stopped``, ``finished`` (too late) or ``unknown`` (it will refuse the job)."""
        timeout = httpx.Timeout(CONNECT_TIMEOUT_S)
        response = self._post("/v1/cancel", msgspec.json.encode(request), timeout)
        _raise_for_refusal(response)
        try:
            return str(msgspec.json.decode(response.content)["state"])
        except (msgspec.MsgspecError, KeyError, TypeError) as exc:
            raise ProviderError(200, "bad_answer", f"cancel answer: {exc}") from None

    def run(self, request: JobRequest, *, check: bool = True) -> SignedResult:
        """Run ``request`` on this provider; the checked signed result. ``check=False``
        skips the signature and output-hash checks (hashing every output once more) for a
        caller that makes them itself, as the consumer's client does; the result is still
        matched to the request's provider, lease and job."""
        wait = request.job.limits.wall_ms / 1000 + TRANSFER_MARGIN_S
        timeout = httpx.Timeout(wait, connect=CONNECT_TIMEOUT_S)
        response = self._post("/v1/jobs", msgspec.json.encode(request), timeout)
        _raise_for_refusal(response)
        try:
            signed = _RESULT_DECODER.decode(response.content)
            if check:
                verify_result(self.domain, signed)
        except (msgspec.MsgspecError, ValueError, JobMessageError) as exc:
            raise ProviderError(response.status_code, "bad_result", str(exc)) from None
        if signed.provider.lower() != request.provider.lower():
            raise ProviderError(200, "bad_result", f"result signed by {signed.provider}")
        if signed.lease != request.lease or signed.result.job_id != job_id(request.job):
            raise ProviderError(200, "bad_result", "result is for another job or lease")
        return signed


def _raise_for_refusal(response: httpx.Response) -> None:
    if response.status_code == 200:
        return
    try:
        body = msgspec.json.decode(response.content)
        code, detail = str(body["error"]), str(body["detail"])
    except (msgspec.MsgspecError, KeyError, TypeError):
        code, detail = "http_error", response.text[:200]
    raise ProviderError(response.status_code, code, detail)
