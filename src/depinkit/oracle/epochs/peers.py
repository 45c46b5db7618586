"""HTTP client for peer oracles' epoch API (and the ingest API's report lookup).

Every call is bounded by a timeout and a peer that fails answers with PeerError, so one
oracle being down slows its peers by one timeout, never stops them. A peer that did not
answer is then left alone for a back-off that doubles with each failure (1 s up to 60 s):
calls in that window raise :class:`PeerDown` at once, so a dead peer costs neither a
timeout nor a log line on every settle pass.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Final

import httpx
import msgspec

from depinkit.oracle.epochs.errors import PeerDown, PeerError
from depinkit.oracle.epochs.views import EpochInfo, ReportIds, SignatureBody
from depinkit.oracle.views import StoredReport

PEER_TIMEOUT_S: Final[float] = 10.0  # per request: a peer slower than this counts as down
FIRST_BACKOFF_S: Final[float] = 1.0  # after a peer's first failure: a restart takes longer
MAX_BACKOFF_S: Final[float] = 60.0  # a peer down for long is retried once a minute

_IDS = msgspec.json.Decoder(ReportIds)
_INFO = msgspec.json.Decoder(EpochInfo)
_REPORT = msgspec.json.Decoder(StoredReport)


class Peer:
    """One peer oracle at ``url`` (its API base, e.g. http://127.0.0.1:8500)."""

    def __init__(
        self,
        url: str,
        *,
        timeout_s: float = PEER_TIMEOUT_S,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.url = url.rstrip("/")
        self._client = httpx.Client(base_url=self.url, timeout=timeout_s)
        self._monotonic = monotonic
        self._backoff_s = 0.0  # 0: the peer answered last time
        self._retry_at = 0.0

    def close(self) -> None:
        self._client.close()

    @property
    def down(self) -> bool:
        """Whether the peer failed and its back-off has not passed yet."""
        return self._backoff_s > 0 and self._monotonic() < self._retry_at

    def _request(self, method: str, path: str, **kwargs: object) -> httpx.Response:
        if self.down:
            wait = self._retry_at - self._monotonic()
            raise PeerDown(f"{self.url}: down, next try in {wait:.0f} s")
        try:
            response = self._client.request(method, path, **kwargs)  # type: ignore[arg-type]
        except httpx.HTTPError as exc:
            self._backoff_s = min(max(2 * self._backoff_s, FIRST_BACKOFF_S), MAX_BACKOFF_S)
            self._retry_at = self._monotonic() + self._backoff_s
            raise PeerError(f"{self.url}{path}: {exc}") from exc
        self._backoff_s = 0.0
        return response

    def _get(self, path: str) -> httpx.Response:
        return self._request("GET", path, headers={"accept": "application/json"})

    def report_ids(self, epoch: int) -> list[bytes]:
        response = self._get(f"/v1/epochs/{epoch}/report-ids")
        if response.status_code != 200:
            raise PeerError(f"{self.url}: report ids of epoch {epoch}: HTTP {response.status_code}")
        try:
            body = _IDS.decode(response.content)
            return [bytes.fromhex(i.removeprefix("0x")) for i in body.ids]
        except (msgspec.MsgspecError, ValueError) as exc:
            raise PeerError(f"{self.url}: bad report id list: {exc}") from exc

    def report(self, report_id: bytes) -> StoredReport | None:
        response = self._get(f"/v1/reports/0x{report_id.hex()}")
        if response.status_code == 404:
            return None
        if response.status_code != 200:
            raise PeerError(f"{self.url}: report {report_id.hex()}: HTTP {response.status_code}")
        try:
            return _REPORT.decode(response.content)
        except msgspec.MsgspecError as exc:
            raise PeerError(f"{self.url}: bad report: {exc}") from exc

    def epoch(self, epoch: int) -> EpochInfo | None:
        response = self._get(f"/v1/epochs/{epoch}")
        if response.status_code == 404:
            return None
        if response.status_code != 200:
            raise PeerError(f"{self.url}: epoch {epoch}: HTTP {response.status_code}")
        try:
            return _INFO.decode(response.content)
        except msgspec.MsgspecError as exc:
            raise PeerError(f"{self.url}: bad epoch info: {exc}") from exc

    def post_signature(self, epoch: int, body: SignatureBody) -> int:
        """Offer our signature; the HTTP status (200 stored, 409 peer not ready or disagrees)."""
        response = self._request(
            "POST",
            f"/v1/epochs/{epoch}/signatures",
            content=msgspec.json.encode(body),
            headers={"content-type": "application/json"},
        )
        return response.status_code


def connect_peers(urls: Sequence[str]) -> list[Peer]:
    return [Peer(u) for u in urls]
