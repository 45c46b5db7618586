"""The consumer's storage client: put, get, ls, rm, status and repair of files.

``put`` encrypts a file segment by segment (``crypto.py``), erasure-codes each sealed
segment into n pieces (``erasure.py``), names each piece by its Merkle root
(``pieces.py``) and places the n pieces of a segment on n distinct providers, spread
across owners first and H3 regions second, with the least-loaded provider winning ties.
Uploads and downloads run on a thread pool with a bounded number of segments in flight,
so memory stays bounded whatever the file size; on a put one coder thread encodes and names
the pieces and starts each upload as soon as its piece is named. A failed upload moves to
another provider.

After the upload ``put`` signs the file's deals (``deals.py``: a file of more than 160
pieces is several deals, each piece stored, fetched and paid under its own deal id) and
hands the registrations to the providers (``POST /v1/deals``), who forward them to the
oracles.

``get`` fetches the first k pieces of each segment (the systematic ones decode for free),
falls back to the others when a provider is dead or refuses, and relies on the AEAD tag
to notice a wrong piece; only then does it hash the pieces to find the culprit. It pays
each provider for egress with cumulative receipts; ``pay`` adds storage per GiB per
epoch at the deal's price. One receipt channel per (provider, deal), the channel being
the deal id (``POST /v1/receipts``).

``status`` asks every provider for one random chunk of each piece with its proof and
checks it against the manifest's root; ``repair`` rebuilds the pieces of every segment
whose healthy pieces are at or below the repair threshold from any k healthy ones and
places them on new providers.

State lives in a home directory: ``manifests/<file id>.json``, ``keys/<file id>.key``
(the per-file keys, mode 0600, never sent anywhere), ``deals/<file id>.json`` (the signed
deal registrations), ``channels.json`` (what is owed and paid per provider and deal).
"""

from __future__ import annotations

import hashlib
import http.client
import json
import secrets
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO, Final
from urllib.parse import urlsplit

import h3
import msgspec

from depinkit.core.envelope import ReportDomain
from depinkit.core.keys import Account
from depinkit.networks.errors import NetworkError
from depinkit.networks.receipts import Receipt, sign_receipt
from depinkit.networks.storage.crypto import (
    TAG_BYTES,
    DecryptionError,
    decrypt_segment,
    encrypt_stream,
    new_file_id,
    new_key,
)
from depinkit.networks.storage.deals import (
    Channel,
    DealError,
    DealPolicy,
    accrue,
    channel_key,
    check_registration,
    deal_id_of,
    deals_by_id,
    decode_registrations,
    due,
    encode_registrations,
    load_channels,
    placement_of,
    save_channels,
    sign_file_deals,
)
from depinkit.networks.storage.erasure import (
    DEFAULT_K,
    DEFAULT_N,
    SEGMENT_BYTES,
    ErasureError,
    check_params,
    decode,
    encode,
    encode_some,
)
from depinkit.networks.storage.manifest import (
    Manifest,
    ManifestError,
    PiecePlacement,
    SegmentEntry,
    atomic_write,
    load_manifest,
    save_manifest,
)
from depinkit.networks.storage.pieces import CHUNK_BYTES, piece_root, verify_chunk
from depinkit.networks.storage.provider import HEADER_OWED, NETWORK, sign_request
from depinkit.networks.storage.provider_app import ChunkProofReply
from depinkit.networks.storage.schemas import DealRegistration, DealTerms

DEFAULT_REPAIR_THRESHOLD: Final[int] = 4  # healthy pieces at or below which to repair (3-of-5)
REGION_RESOLUTION: Final[int] = 3  # H3 res 3 (~12,000 km2 cells): a "region" for spreading
DEFAULT_WORKERS: Final[int] = 8  # concurrent piece transfers: saturates loopback on 2 cores
SEGMENTS_IN_FLIGHT: Final[int] = 4  # sealed segments held at once: ~4 x 8 MiB x n/k of memory
CODERS: Final[int] = 1  # threads encoding and hashing segments: that work holds the GIL
HTTP_TIMEOUT_S: Final[float] = 60.0  # one piece transfer; a dead provider fails at connect
PROBE_TIMEOUT_S: Final[float] = 3.0  # /v1/info at the start of a put or repair

# Piece health as status reports it.
OK: Final[str] = "ok"
MISSING: Final[str] = "missing"  # the provider answers but no longer has the piece
CORRUPT: Final[str] = "corrupt"  # the piece fails its root (provider says so, or its proof)
UNREACHABLE: Final[str] = "unreachable"  # the provider does not answer or refuses

Progress = Callable[[int, int], None]  # (bytes done, bytes total)


class StorageClientError(NetworkError):
    """A file cannot be stored, fetched or repaired (too few providers or pieces, no key)."""


class ProviderInfo(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """A provider as the client knows it: where to reach it and what to spread across."""

    address: str
    url: str
    owner: str = ""  # the owner's address: pieces of a segment go to distinct owners first
    cell: str = ""  # the provider's H3 cell: then to distinct regions


@dataclass(frozen=True)
class PieceHealth:
    segment: int
    number: int
    provider: str
    state: str
    detail: str = ""


@dataclass(frozen=True)
class FileStatus:
    manifest: Manifest
    pieces: tuple[PieceHealth, ...]

    def healthy(self, segment: int) -> list[int]:
        return sorted(p.number for p in self.pieces if p.segment == segment and p.state == OK)

    def min_healthy(self) -> int:
        return min(len(self.healthy(s.index)) for s in self.manifest.segments)

    def unhealthy(self) -> list[PieceHealth]:
        return [p for p in self.pieces if p.state != OK]


@dataclass
class RepairReport:
    manifest: Manifest
    rebuilt: list[tuple[int, int, str]] = field(default_factory=list)  # (segment, piece, to)
    unrecoverable: list[int] = field(default_factory=list)  # segments below k healthy


def region_of(cell: str) -> str:
    """The H3 ancestor at REGION_RESOLUTION of a provider's cell ("" if unknown)."""
    if not cell or not h3.is_valid_cell(cell):
        return ""
    if h3.get_resolution(cell) <= REGION_RESOLUTION:
        return cell
    return str(h3.cell_to_parent(cell, REGION_RESOLUTION))


def place(
    candidates: Sequence[ProviderInfo],
    count: int,
    *,
    salt: bytes,
    load: dict[str, int] | None = None,
    taken: Sequence[ProviderInfo] = (),
) -> list[ProviderInfo]:
    """``count`` distinct providers, greedily: new owner, then new region, then least load.

    ``taken`` are providers already holding pieces of the segment (never chosen again, and
    their owners and regions count as used); ties break on sha256(salt || address), so
    placements differ between files and segments but are reproducible.
    """
    load = load or {}
    taken_addresses = {p.address for p in taken}
    owners = {p.owner for p in taken if p.owner}
    regions = {region_of(p.cell) for p in taken if p.cell}
    pool = [p for p in candidates if p.address not in taken_addresses]
    if len({p.address for p in pool}) < count:
        raise StorageClientError(
            f"{count} distinct providers needed, {len({p.address for p in pool})} available"
        )
    chosen: list[ProviderInfo] = []
    for _ in range(count):

        def rank(p: ProviderInfo) -> tuple[bool, bool, int, bytes]:
            region = region_of(p.cell)
            return (
                bool(p.owner) and p.owner in owners,
                bool(region) and region in regions,
                load.get(p.address, 0),
                hashlib.sha256(salt + p.address.encode()).digest(),
            )

        best = min(pool, key=rank)
        chosen.append(best)
        pool = [p for p in pool if p.address != best.address]
        if best.owner:
            owners.add(best.owner)
        if best.cell:
            regions.add(region_of(best.cell))
    return chosen


class Keyring:
    """Per-file keys on the consumer's disk (mode 0600); never in a manifest."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def store(self, file_id: bytes, key: bytes) -> None:
        atomic_write(self.directory / f"{file_id.hex()}.key", key, mode=0o600)

    def load(self, file_id: bytes) -> bytes:
        try:
            return (self.directory / f"{file_id.hex()}.key").read_bytes()
        except FileNotFoundError:
            raise StorageClientError(f"no key for file {file_id.hex()} in the keyring") from None

    def remove(self, file_id: bytes) -> None:
        (self.directory / f"{file_id.hex()}.key").unlink(missing_ok=True)


def stripe_aligned(segment_bytes: int, k: int) -> int:
    """``segment_bytes`` rounded down to whole stripes of k chunks, if larger than one."""
    stripe = k * CHUNK_BYTES
    return segment_bytes - segment_bytes % stripe if segment_bytes > stripe else segment_bytes


class TransportError(Exception):
    """The provider could not be reached, or the connection broke mid-request."""

    def __init__(self, message: str, *, reused: bool) -> None:
        super().__init__(message)
        self.reused = reused  # on a kept-alive connection: worth one retry on a fresh one


@dataclass(frozen=True)
class Reply:
    status: int
    headers: dict[str, str]
    content: bytes

    def json(self) -> Any:
        return json.loads(self.content)


class Transport:
    """Kept-alive HTTP/1.1 connections per provider, shared by the client's threads.

    The standard library's ``http.client`` reads a multi-MiB body with a few large
    ``readinto`` calls; httpx costs about five times its CPU per piece here, which on two
    cores is the difference between a network-bound and a CPU-bound transfer.
    """

    def __init__(self, timeout_s: float = HTTP_TIMEOUT_S) -> None:
        self.timeout_s = timeout_s
        self._idle: dict[tuple[str, str, int], list[http.client.HTTPConnection]] = {}
        self._lock = threading.Lock()

    def request(
        self,
        method: str,
        url: str,
        body: bytes | None = None,
        headers: dict[str, str] | None = None,
        *,
        timeout_s: float | None = None,
        fresh: bool = False,
    ) -> Reply:
        parts = urlsplit(url)
        scheme, host = parts.scheme or "http", parts.hostname or "127.0.0.1"
        key = (scheme, host, parts.port or (443 if scheme == "https" else 80))
        target = parts.path + (f"?{parts.query}" if parts.query else "")
        conn = None
        if timeout_s is None and not fresh:
            with self._lock:
                idle = self._idle.get(key)
                conn = idle.pop() if idle else None
        elif fresh:  # the server dropped a kept-alive connection: the idle ones are stale too
            with self._lock:
                for stale in self._idle.pop(key, []):
                    stale.close()
        reused = conn is not None
        if conn is None:
            factory = (
                http.client.HTTPSConnection if scheme == "https" else http.client.HTTPConnection
            )
            conn = factory(key[1], key[2], timeout=timeout_s or self.timeout_s)
        try:
            conn.request(method, target, body=body, headers=headers or {})
            response = conn.getresponse()
            content = response.read()
        except (OSError, http.client.HTTPException) as exc:
            conn.close()
            raise TransportError(f"{url}: {exc or type(exc).__name__}", reused=reused) from None
        if response.will_close or timeout_s is not None:
            conn.close()
        else:
            with self._lock:
                self._idle.setdefault(key, []).append(conn)
        headers_out = {k.lower(): v for k, v in response.getheaders()}
        return Reply(response.status, headers_out, content)

    def close(self) -> None:
        with self._lock:
            for conns in self._idle.values():
                for conn in conns:
                    conn.close()
            self._idle.clear()


class _Refused(Exception):
    def __init__(self, status: int, detail: str) -> None:
        super().__init__(f"HTTP {status}: {detail}")
        self.status = status


class StorageClient:
    """Stores and fetches files on a set of providers for the consumer ``account``.

    ``segment_bytes`` (sealed bytes per segment) is rounded down to whole stripes of k
    chunks when it is larger than one: every full segment then splits into k pieces of
    ciphertext with no padding, so only a file's last segment is padded (and hashed for
    its padding seed, see ``erasure.py``).
    """

    def __init__(
        self,
        account: Account,
        providers: Sequence[ProviderInfo],
        home: Path,
        *,
        k: int = DEFAULT_K,
        n: int = DEFAULT_N,
        repair_threshold: int = DEFAULT_REPAIR_THRESHOLD,
        segment_bytes: int = SEGMENT_BYTES,
        domain: ReportDomain | None = None,
        policy: DealPolicy | None = None,
        workers: int = DEFAULT_WORKERS,
        consumer: str | None = None,
    ) -> None:
        check_params(k, n)
        if segment_bytes <= TAG_BYTES:
            raise StorageClientError(f"segments must be larger than the {TAG_BYTES}-byte tag")
        self.account = account
        self.consumer = consumer or account.address  # a repairer acts for a consumer
        self.providers = list(providers)
        self.home = home
        self.k, self.n = k, n
        self.repair_threshold = repair_threshold
        self.segment_bytes = stripe_aligned(segment_bytes, k)
        self.domain = domain or ReportDomain(chain_id=31337, registry="0x" + "00" * 20)
        self.policy = policy or DealPolicy()
        self.workers = workers
        self.keyring = Keyring(home / "keys")
        self._http = Transport()
        self._lock = threading.Lock()
        self._channels_path = home / "channels.json"
        self._channels: dict[str, Channel] = load_channels(self._channels_path)
        self._terms: dict[bytes, DealTerms] = {}  # deal id -> terms, of files seen
        self.unannounced: dict[str, str] = {}  # provider -> why the last announce failed

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> StorageClient:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    # --- HTTP ----------------------------------------------------------------------------

    def _request(
        self, provider: str, url: str, method: str, target: str, content: bytes | None = None
    ) -> Reply:
        for attempt in range(2):
            headers = sign_request(self.account, provider, method, target)  # a fresh nonce
            try:
                reply = self._http.request(
                    method, url.rstrip("/") + target, content, headers, fresh=attempt > 0
                )
                break
            except TransportError as exc:
                if attempt or not exc.reused:  # a kept-alive connection may have gone stale
                    raise
        if reply.status >= 400:
            try:
                detail = reply.json().get("detail", reply.content.decode(errors="replace"))
            except (ValueError, AttributeError):
                detail = reply.content.decode(errors="replace")
            raise _Refused(reply.status, str(detail))
        return reply

    def probe(self) -> list[ProviderInfo]:
        """The providers that answer ``/v1/info`` now, with the address they claim checked."""

        def one(p: ProviderInfo) -> ProviderInfo | None:
            try:
                url = p.url.rstrip("/") + "/v1/info"
                reply = self._http.request("GET", url, timeout_s=PROBE_TIMEOUT_S)
                ok = reply.status == 200 and reply.json().get("address") == p.address
            except (TransportError, ValueError, AttributeError):
                return None
            return p if ok else None

        with ThreadPoolExecutor(max(1, min(len(self.providers), 16))) as pool:
            return [p for p in pool.map(one, self.providers) if p is not None]

    def _put_piece(self, target: ProviderInfo, root: bytes, data: bytes, deal_id: bytes) -> None:
        path = f"/v1/pieces/{root.hex()}?consumer={self.consumer}&deal={deal_id.hex()}"
        self._request(target.address, target.url, "PUT", path, data)

    def _get_piece(self, placement: PiecePlacement, deal_id: bytes) -> bytes:
        path = f"/v1/pieces/{placement.root.hex()}?deal={deal_id.hex()}"
        try:
            reply = self._request(placement.provider, placement.url, "GET", path)
        except _Refused as exc:
            if exc.status != 402:
                raise
            self._pay(placement.provider, placement.url, deal_id)
            reply = self._request(placement.provider, placement.url, "GET", path)
        self._meter(placement.provider, deal_id, len(reply.content), reply.headers.get(HEADER_OWED))
        return reply.content

    # --- deals -----------------------------------------------------------------------------

    def _deals_path(self, file_id: bytes) -> Path:
        return self.home / "deals" / f"{file_id.hex()}.json"

    def registrations(self, manifest: Manifest) -> list[DealRegistration]:
        """The file's signed deal registrations: kept by ``put``, else asked of its providers
        (a repairer has none of its own); checked against the consumer's signature."""
        try:
            found = decode_registrations(self._deals_path(manifest.file_id).read_bytes())
        except FileNotFoundError:
            found = self._fetch_registrations(manifest)
        for registration in found:
            self._terms[registration.terms.deal_id] = registration.terms
        return found

    def _remember_terms(self, manifest: Manifest) -> None:
        """Learn the file's deal prices from the kept registrations (none for a repairer)."""
        try:
            found = decode_registrations(self._deals_path(manifest.file_id).read_bytes())
        except (FileNotFoundError, DealError):
            return
        for registration in found:
            self._terms[registration.terms.deal_id] = registration.terms

    def _fetch_registrations(self, manifest: Manifest) -> list[DealRegistration]:
        wanted = sorted(
            {deal_id_of(manifest.file_id, manifest.n, s.index) for s in manifest.segments}
        )
        urls = sorted({(x.provider, x.url) for s in manifest.segments for x in s.pieces})
        out = []
        for deal_id in wanted:
            for _, url in urls:
                try:
                    reply = self._http.request(
                        "GET",
                        f"{url.rstrip('/')}/v1/deals/{deal_id.hex()}",
                        timeout_s=PROBE_TIMEOUT_S,
                    )
                    if reply.status != 200:
                        continue
                    registration = msgspec.json.decode(reply.content, type=DealRegistration)
                    check_registration(self.domain, registration)
                except (TransportError, msgspec.DecodeError, msgspec.ValidationError, DealError):
                    continue
                if (
                    registration.terms.deal_id == deal_id
                    and registration.terms.file_id == manifest.file_id
                    and registration.terms.consumer == manifest.consumer
                ):
                    out.append(registration)
                    break
        return out

    def register(
        self, manifest: Manifest, *, start_epoch: int | None = None
    ) -> list[DealRegistration]:
        """Sign the file's deals at its current placement and keep them (the consumer only)."""
        start = (
            self.policy.epoch_at(int(time.time() * 1000)) if start_epoch is None else start_epoch
        )
        signed = sign_file_deals(self.account, self.domain, manifest, self.policy, start)
        atomic_write(self._deals_path(manifest.file_id), encode_registrations(signed))
        for registration in signed:
            self._terms[registration.terms.deal_id] = registration.terms
        return signed

    def announce(
        self,
        manifest: Manifest,
        registrations: Sequence[DealRegistration] | None = None,
        *,
        only: set[str] | None = None,
    ) -> dict[str, str]:
        """Hand every deal's registration to the providers holding its pieces now (``only``:
        to these providers); provider -> error for those that did not take it."""
        if registrations is None:
            registrations = self.registrations(manifest)
        failed: dict[str, str] = {}
        for registration in registrations:
            terms = registration.terms
            holders = {
                x.provider: x.url
                for s in manifest.segments
                if deal_id_of(manifest.file_id, manifest.n, s.index) == terms.deal_id
                for x in s.pieces
            }
            body = msgspec.json.encode(registration)
            for provider, url in sorted(holders.items()):
                if only is not None and provider not in only:
                    continue
                try:
                    reply = self._post(url.rstrip("/") + "/v1/deals", body)
                except TransportError as exc:
                    failed[provider] = str(exc)
                    continue
                if reply.status >= 400:
                    failed[provider] = f"HTTP {reply.status}: {reply.content[:200]!r}"
        self.unannounced = failed
        return failed

    # --- receipts ------------------------------------------------------------------------

    def _prices(self, deal_id: bytes) -> tuple[int, int]:
        terms = self._terms.get(deal_id)
        if terms is None:
            return self.policy.price_gib_epoch, self.policy.price_gib_egress
        return terms.price_gib_epoch, terms.price_gib_egress

    def _meter(self, provider: str, deal_id: bytes, size: int, owed: str | None) -> None:
        if owed is None:  # a repairer or auditor is not metered
            return
        with self._lock:
            key = channel_key(provider, deal_id)
            self._channels.setdefault(key, Channel()).egress_bytes += size

    def _receipt(self, provider: str, deal_id: bytes) -> Receipt | None:
        """A receipt for what is owed on (provider, deal) if above the last one; the caller
        holds the lock."""
        channel = self._channels.get(channel_key(provider, deal_id))
        if channel is None:
            return None
        owed = due(channel, *self._prices(deal_id))
        if owed <= channel.cumulative:
            return None
        receipt = sign_receipt(
            self.account,
            self.domain,
            network=NETWORK,
            payee=provider,
            channel=deal_id,
            cumulative=owed,
        )
        channel.cumulative = owed
        return receipt

    def _post(self, url: str, body: bytes) -> Reply:
        """An unsigned JSON POST, once more on a fresh connection if a kept-alive one broke."""
        headers = {"content-type": "application/json"}
        try:
            return self._http.request("POST", url, body, headers)
        except TransportError as exc:
            if not exc.reused:
                raise
            return self._http.request("POST", url, body, headers, fresh=True)

    def _send(self, url: str, receipt: Receipt) -> None:
        self._post(url.rstrip("/") + "/v1/receipts", msgspec.json.encode(receipt))

    def _pay(self, provider: str, url: str, deal_id: bytes) -> None:
        """Send ``provider`` a receipt covering everything owed on the deal so far."""
        with self._lock:
            receipt = self._receipt(provider, deal_id)
            if receipt is None:
                return
            save_channels(self._channels_path, self._channels)
        self._send(url, receipt)

    def _pay_all(self, manifest: Manifest) -> None:
        channels = {
            (x.provider, x.url, deal_id_of(manifest.file_id, manifest.n, s.index))
            for s in manifest.segments
            for x in s.pieces
        }
        for provider, url, deal_id in sorted(channels):
            try:
                self._pay(provider, url, deal_id)
            except TransportError:
                continue  # paid next time: receipts are cumulative

    def pay(self, manifest: Manifest, *, epoch: int | None = None) -> list[Receipt]:
        """Pay every provider of the file for storage through ``epoch`` (default: now) at the
        deal's price per GiB per epoch, with the egress owed, one receipt per channel.

        Storage is counted once per epoch on the provider holding each piece now (a piece
        moved by a repair is paid to its new holder from the repair on). Receipts are
        cumulative, so one that does not arrive is covered by the next. The receipts sent.
        """
        if self.consumer != self.account.address:
            raise StorageClientError("only the file's consumer pays for it")
        now = self.policy.epoch_at(int(time.time() * 1000)) if epoch is None else epoch
        urls = {x.provider: x.url for s in manifest.segments for x in s.pieces}
        placement = placement_of(manifest)
        deals = deals_by_id(self.registrations(manifest))
        outgoing: list[tuple[str, Receipt]] = []
        with self._lock:
            for terms in deals.values():
                for key in accrue(self._channels, terms, placement, now):
                    provider = key.split(":", 1)[0]
                    receipt = self._receipt(provider, terms.deal_id)
                    if receipt is not None:
                        outgoing.append((urls.get(provider, ""), receipt))
            save_channels(self._channels_path, self._channels)
        for url, receipt in outgoing:
            try:
                self._send(url, receipt)
            except TransportError:
                continue
        return [r for _, r in outgoing]

    def channels(self) -> dict[str, Channel]:
        """A copy of every payment channel, by ``provider:deal id``."""
        with self._lock:
            return {k: msgspec.structs.replace(v) for k, v in self._channels.items()}

    # --- put -----------------------------------------------------------------------------

    def put(
        self,
        path: Path,
        *,
        name: str | None = None,
        progress: Progress | None = None,
        start_epoch: int | None = None,
    ) -> Manifest:
        """Encrypt, encode and place ``path``; the saved manifest (see ``put_stream``)."""
        size = path.stat().st_size
        with open(path, "rb") as stream:
            return self.put_stream(
                stream, size, name=name or path.name, progress=progress, start_epoch=start_epoch
            )

    def put_stream(
        self,
        stream: BinaryIO,
        size: int,
        *,
        name: str,
        progress: Progress | None = None,
        start_epoch: int | None = None,
    ) -> Manifest:
        """Encrypt, encode and place a stream; the saved manifest.

        Then the file's deals, starting at ``start_epoch`` (default: the current epoch of
        the client's policy), are signed, kept (``registrations``) and handed to the
        providers (``announce``; those that did not take them are in ``unannounced``).
        """
        live = self.probe()
        if len(live) < self.n:
            raise StorageClientError(f"{self.n} providers needed, {len(live)} answer")
        key, file_id = new_key(), new_file_id()
        self.keyring.store(file_id, key)  # before any byte leaves: a crash keeps the key
        plain = self.segment_bytes - TAG_BYTES
        load: dict[str, int] = {}
        done = [0]
        entries: list[SegmentEntry] = []
        Uploads = list[Future[PiecePlacement]]
        with ThreadPoolExecutor(self.workers) as io, ThreadPoolExecutor(CODERS) as cpu:

            def code_segment(index: int, sealed: bytes) -> Uploads:
                """Encode and name the segment's pieces and start their uploads; the
                coder moves on to the next segment while they run."""
                pieces = encode(sealed, self.k, self.n)
                salt = file_id + index.to_bytes(8, "big")
                deal_id = deal_id_of(file_id, self.n, index)
                with self._lock:
                    targets = place(live, self.n, salt=salt, load=load)
                    for t in targets:
                        load[t.address] = load.get(t.address, 0) + 1
                holders = list(targets)
                uploads = []
                for j, data in enumerate(pieces):  # each upload starts as soon as it is named
                    root = piece_root(data)
                    uploads.append(
                        io.submit(self._store_one, live, holders, j, j, data, deal_id, salt, root)
                    )
                return uploads

            def placed(index: int, length: int, coded: Future[Uploads]) -> SegmentEntry:
                placements = tuple(f.result() for f in coded.result())
                done[0] += length - TAG_BYTES
                if progress is not None:
                    progress(min(done[0], size), size)
                return SegmentEntry(index=index, length=length, pieces=placements)

            inflight: deque[tuple[int, int, Future[Uploads]]] = deque()
            for index, sealed in enumerate(encrypt_stream(key, file_id, stream, plain)):
                inflight.append((index, len(sealed), cpu.submit(code_segment, index, sealed)))
                while len(inflight) >= SEGMENTS_IN_FLIGHT:
                    entries.append(placed(*inflight.popleft()))
            while inflight:
                entries.append(placed(*inflight.popleft()))
        manifest = Manifest(
            file_id=file_id,
            name=name,
            size=size,
            k=self.k,
            n=self.n,
            segment_bytes=self.segment_bytes,
            consumer=self.consumer,
            created_ms=int(time.time() * 1000),
            segments=tuple(entries),
        )
        save_manifest(manifest, self._manifest_path(file_id))
        if self.consumer == self.account.address:  # only the consumer signs its deals
            self.announce(manifest, self.register(manifest, start_epoch=start_epoch))
        return manifest

    def _store_one(
        self,
        live: Sequence[ProviderInfo],
        holders: list[ProviderInfo],
        slot: int,
        number: int,
        data: bytes,
        deal_id: bytes,
        salt: bytes,
        root: bytes | None = None,
    ) -> PiecePlacement:
        """Put piece ``number`` on ``holders[slot]``, moving to a fresh provider on failure.

        ``holders`` is shared by the segment's uploads (under the client's lock), so a
        replacement never lands on a provider that holds another piece of the segment.
        ``root`` is the piece's root if the caller computed it already.
        """
        if root is None:
            root = piece_root(data)
        tried: set[str] = set()
        while True:
            with self._lock:
                target = holders[slot]
            try:
                self._put_piece(target, root, data, deal_id)
                return PiecePlacement(
                    number=number, root=root, provider=target.address, url=target.url
                )
            except (TransportError, _Refused) as exc:
                tried.add(target.address)
                with self._lock:
                    others = [p for p in live if p.address not in tried]
                    try:
                        (replacement,) = place(others, 1, salt=salt, taken=holders)
                    except StorageClientError:
                        raise StorageClientError(
                            f"no provider left for piece {number}: {exc}"
                        ) from None
                    holders[slot] = replacement

    # --- get -----------------------------------------------------------------------------

    def get(
        self, manifest: Manifest, out: Path | None = None, *, progress: Progress | None = None
    ) -> bytes | Path:
        """The file's bytes, or ``out`` once the file is written there (atomically)."""
        if out is None:
            return b"".join(self.iter_plaintext(manifest, progress=progress))
        tmp = out.with_name(f".{out.name}.{secrets.token_hex(4)}.part")
        try:
            with open(tmp, "wb") as handle:
                for part in self.iter_plaintext(manifest, progress=progress):
                    handle.write(part)
            tmp.replace(out)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        return out

    def iter_plaintext(
        self, manifest: Manifest, *, progress: Progress | None = None
    ) -> Iterator[bytes]:
        """The file's plaintext, segment by segment, with bounded read-ahead."""
        key = self.keyring.load(manifest.file_id)
        self._remember_terms(manifest)  # egress is paid at the deal's price
        done = 0
        with ThreadPoolExecutor(self.workers) as io, ThreadPoolExecutor(SEGMENTS_IN_FLIGHT) as seg:
            inflight: deque[Future[bytes]] = deque()
            segments = iter(manifest.segments)
            for entry in segments:
                inflight.append(seg.submit(self._fetch_segment, io, manifest, entry, key))
                if len(inflight) >= SEGMENTS_IN_FLIGHT:
                    break
            while inflight:
                plaintext = inflight.popleft().result()
                nxt = next(segments, None)
                if nxt is not None:
                    inflight.append(seg.submit(self._fetch_segment, io, manifest, nxt, key))
                done += len(plaintext)
                if progress is not None:
                    progress(done, manifest.size)
                yield plaintext
        self._pay_all(manifest)

    def _fetch_segment(
        self, io: ThreadPoolExecutor, manifest: Manifest, entry: SegmentEntry, key: bytes
    ) -> bytes:
        final = entry.index == len(manifest.segments) - 1
        order = sorted(entry.pieces, key=lambda p: p.number)  # systematic pieces first
        pending = deque(order)
        have: dict[int, bytes] = {}
        failures: list[str] = []
        while True:
            while len(have) < manifest.k and pending:
                batch: list[PiecePlacement] = []
                while pending and len(have) + len(batch) < manifest.k:
                    batch.append(pending.popleft())
                deal_id = deal_id_of(manifest.file_id, manifest.n, entry.index)
                futures = [(p, io.submit(self._get_piece, p, deal_id)) for p in batch]
                for placement, future in futures:
                    try:
                        have[placement.number] = future.result()
                    except (TransportError, _Refused) as exc:
                        failures.append(f"piece {placement.number} at {placement.provider}: {exc}")
            if len(have) < manifest.k:
                raise StorageClientError(
                    f"segment {entry.index}: {len(have)} of {manifest.k} pieces reachable; "
                    + "; ".join(failures)
                )
            try:
                sealed = decode(have, manifest.k, manifest.n, entry.length)
                return decrypt_segment(key, manifest.file_id, entry.index, sealed, final=final)
            except (DecryptionError, ErasureError):
                roots = {p.number: p.root for p in entry.pieces}
                bad = [
                    number
                    for number in sorted(have)
                    if len(have[number]) != manifest.piece_size(entry.index)
                    or piece_root(have[number]) != roots[number]
                ]
                for number in bad:
                    del have[number]
                    failures.append(f"piece {number} fails its root")
                if not bad:
                    raise StorageClientError(
                        f"segment {entry.index} does not decrypt although its pieces match "
                        "their roots: wrong key or manifest"
                    ) from None

    # --- ls, rm, status ------------------------------------------------------------------

    def _manifest_path(self, file_id: bytes) -> Path:
        return self.home / "manifests" / f"{file_id.hex()}.json"

    def ls(self) -> list[Manifest]:
        directory = self.home / "manifests"
        if not directory.is_dir():
            return []
        out = []
        for path in sorted(directory.glob("*.json")):
            try:
                out.append(load_manifest(path))
            except ManifestError:
                continue
        return sorted(out, key=lambda m: (m.created_ms, m.file_id))

    def find(self, prefix: str) -> Manifest:
        """The stored manifest whose file id (hex) or name starts with / equals ``prefix``."""
        matches = [m for m in self.ls() if m.file_hex.startswith(prefix) or m.name == prefix]
        if len(matches) != 1:
            raise StorageClientError(
                f"{len(matches)} files match {prefix!r}; give more of the file id"
            )
        return matches[0]

    def rm(self, manifest: Manifest) -> int:
        """End the file's deals on every provider (best effort); the pieces removed."""
        removed = 0
        for entry in manifest.segments:
            deal_id = deal_id_of(manifest.file_id, manifest.n, entry.index)
            for p in entry.pieces:
                path = f"/v1/pieces/{p.root.hex()}?deal={deal_id.hex()}"
                try:
                    self._request(p.provider, p.url, "DELETE", path)
                    removed += 1
                except (TransportError, _Refused):
                    continue
        self._manifest_path(manifest.file_id).unlink(missing_ok=True)
        self._deals_path(manifest.file_id).unlink(missing_ok=True)
        self.keyring.remove(manifest.file_id)
        return removed

    def _check_piece(self, manifest: Manifest, segment: int, p: PiecePlacement) -> PieceHealth:
        chunks = manifest.chunks(segment)
        index = secrets.randbelow(chunks)
        deal_id = deal_id_of(manifest.file_id, manifest.n, segment)
        path = f"/v1/pieces/{p.root.hex()}/chunks/{index}?deal={deal_id.hex()}"
        try:
            reply = self._request(p.provider, p.url, "GET", path)
            answer = msgspec.json.decode(reply.content, type=ChunkProofReply)
        except _Refused as exc:
            state = {404: MISSING, 410: CORRUPT}.get(exc.status, UNREACHABLE)
            return PieceHealth(segment, p.number, p.provider, state, str(exc))
        except (TransportError, msgspec.DecodeError, msgspec.ValidationError) as exc:
            return PieceHealth(segment, p.number, p.provider, UNREACHABLE, str(exc))
        if answer.index != index or not verify_chunk(
            p.root, index, answer.chunk, answer.proof, chunks=chunks
        ):
            return PieceHealth(segment, p.number, p.provider, CORRUPT, "chunk proof fails")
        return PieceHealth(segment, p.number, p.provider, OK)

    def status(self, manifest: Manifest) -> FileStatus:
        """Every piece's health, from one randomly chosen chunk and its Merkle proof."""
        jobs = [(s.index, p) for s in manifest.segments for p in s.pieces]
        with ThreadPoolExecutor(self.workers) as pool:
            results = list(pool.map(lambda job: self._check_piece(manifest, *job), jobs))
        return FileStatus(manifest, tuple(results))

    # --- repair --------------------------------------------------------------------------

    def repair(
        self, manifest: Manifest, *, threshold: int | None = None, epoch: int | None = None
    ) -> RepairReport:
        """Rebuild the pieces of segments with at most ``threshold`` healthy pieces.

        The rebuilt pieces are byte-identical to the lost ones (same roots: the coding is
        deterministic) and go to providers holding no piece of the segment. The updated
        manifest is saved and returned in the report. The new holders get the deals'
        registrations (so their agents can claim the repair and prove the pieces), and the
        consumer pays them storage for the epochs after ``epoch`` (default: now).
        """
        limit = self.repair_threshold if threshold is None else threshold
        health = self.status(manifest)
        live = self.probe()
        report = RepairReport(manifest)
        entries = list(manifest.segments)
        with ThreadPoolExecutor(self.workers) as io:
            for entry in manifest.segments:
                healthy = health.healthy(entry.index)
                if len(healthy) > limit or len(healthy) == manifest.n:
                    continue
                if len(healthy) < manifest.k:
                    report.unrecoverable.append(entry.index)
                    continue
                entries[entry.index] = self._repair_segment(
                    io, manifest, entry, healthy, live, report
                )
        if report.rebuilt:
            manifest = msgspec.structs.replace(manifest, segments=tuple(entries))
            save_manifest(manifest, self._manifest_path(manifest.file_id))
            report.manifest = manifest
            now = self.policy.epoch_at(int(time.time() * 1000)) if epoch is None else epoch
            moved = {(seg, number): to for seg, number, to in report.rebuilt}
            with self._lock:  # new holders are paid from the repair on, not from the start
                for (seg, _), to in sorted(moved.items()):
                    key = channel_key(to, deal_id_of(manifest.file_id, manifest.n, seg))
                    channel = self._channels.setdefault(key, Channel())
                    if channel.paid_through is None:
                        channel.paid_through = now
                save_channels(self._channels_path, self._channels)
            self.announce(manifest, only=set(moved.values()))
        return report

    def _repair_segment(
        self,
        io: ThreadPoolExecutor,
        manifest: Manifest,
        entry: SegmentEntry,
        healthy: list[int],
        live: Sequence[ProviderInfo],
        report: RepairReport,
    ) -> SegmentEntry:
        by_number = {p.number: p for p in entry.pieces}
        deal_id = deal_id_of(manifest.file_id, manifest.n, entry.index)
        have: dict[int, bytes] = {}
        for number in healthy:
            if len(have) == manifest.k:
                break
            try:
                data = self._get_piece(by_number[number], deal_id)
            except (TransportError, _Refused):
                continue
            if piece_root(data) == by_number[number].root:
                have[number] = data
        if len(have) < manifest.k:
            report.unrecoverable.append(entry.index)
            return entry
        sealed = decode(have, manifest.k, manifest.n, entry.length)
        lost = [j for j in range(manifest.n) if j not in healthy]
        rebuilt = encode_some(sealed, manifest.k, manifest.n, lost)
        keep = [by_number[j] for j in healthy]
        holders_known = {p.address: p for p in live}
        taken = [
            holders_known.get(p.provider, ProviderInfo(address=p.provider, url=p.url))
            for p in entry.pieces  # the failed ones too: never back to where a piece was lost
        ]
        salt = manifest.file_id + entry.index.to_bytes(8, "big") + b"repair"
        targets = place(live, len(lost), salt=salt, taken=taken)
        holders = list(taken) + list(targets)
        futures = {}
        for offset, number in enumerate(lost):
            futures[number] = io.submit(
                self._store_one,
                live,
                holders,
                len(taken) + offset,
                number,
                rebuilt[number],
                deal_id,
                salt,
            )
        placements: dict[int, PiecePlacement] = {}
        for number, future in futures.items():
            placed = future.result()
            if placed.root != by_number[number].root:  # the coding is deterministic
                raise StorageClientError(
                    f"segment {entry.index} piece {number} rebuilds to a different root"
                )
            placements[number] = placed
            report.rebuilt.append((entry.index, number, placed.provider))
        pieces = sorted([*keep, *placements.values()], key=lambda p: p.number)
        return SegmentEntry(index=entry.index, length=entry.length, pieces=tuple(pieces))


__all__ = [
    "CORRUPT",
    "DEFAULT_REPAIR_THRESHOLD",
    "MISSING",
    "OK",
    "UNREACHABLE",
    "FileStatus",
    "Keyring",
    "PieceHealth",
    "ProviderInfo",
    "RepairReport",
    "StorageClient",
    "StorageClientError",
    "place",
    "region_of",
    "stripe_aligned",
]
