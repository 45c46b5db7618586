"""HTTP client for peer oracles' epoch API (and the ingest API's report lookup).

Every call is bounded by a timeout and a peer that fails answers with PeerError, so one
oracle being down slows its peers by one timeout, never stops them.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

import httpx
import msgspec

from depinkit.oracle.epochs.errors import PeerError
from depinkit.oracle.epochs.views import EpochInfo, ReportIds, SignatureBody
from depinkit.oracle.views import StoredReport

PEER_TIMEOUT_S: Final[float] = 10.0  # per request: a peer slower than this counts as down

_IDS = msgspec.json.Decoder(ReportIds)
_INFO = msgspec.json.Decoder(EpochInfo)
_REPORT = msgspec.json.Decoder(StoredReport)


class Peer:
    """One peer oracle at ``url`` (its API base, e.g. http://127.0.0.1:8500)."""

    def __init__(self, url: str, *, timeout_s: float = PEER_TIMEOUT_S) -> None:
        self.url = url.rstrip("/")
        self._client = httpx.Client(base_url=self.url, timeout=timeout_s)

    def close(self) -> None:
        self._client.close()

    def _get(self, path: str) -> httpx.Response:
        try:
            return self._client.get(path, headers={"accept": "application/json"})
        except httpx.HTTPError as exc:
            raise PeerError(f"{self.url}{path}: {exc}") from exc

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
        try:
            response = self._client.post(
                f"/v1/epochs/{epoch}/signatures",
                content=msgspec.json.encode(body),
                headers={"content-type": "application/json"},
            )
        except httpx.HTTPError as exc:
            raise PeerError(f"{self.url}: posting signature: {exc}") from exc
        return response.status_code


def connect_peers(urls: Sequence[str]) -> list[Peer]:
    return [Peer(u) for u in urls]
