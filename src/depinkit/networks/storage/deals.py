"""Deals between a consumer and its providers: terms, registrations, payment channels.

A file of more than ``MAX_DEAL_PIECES`` pieces is several deals (``schemas.split_deal``):
deal ``i`` holds a run of ``segments_per_deal(n)`` consecutive segments and its id is
``deal_id_for(file_id, i)``, so the deal of any segment is known while the file is still
uploading (:func:`deal_id_of`) and every piece is stored, fetched and paid under its own
deal. After a put the consumer signs the terms (``sign_deal``) and hands the registrations
to its providers (``POST /v1/deals``), who forward them to the oracles as ``deal`` reports.

Payment: each (provider, deal) pair is one receipt channel (the channel is the deal id).
The consumer pays storage per GiB per epoch and egress per GiB at the deal's prices with one
cumulative receipt per channel: ``cumulative = ceil((byte_epochs * price_gib_epoch +
egress_bytes * price_gib_egress) / GiB)`` nanocredits, monotone in both counters.

Provider side: :class:`DealBook` keeps the registrations a provider received under its data
directory (``deals/<deal id>.json``); :func:`install_deal_routes` serves ``POST /v1/deals``
and ``GET /v1/deals/{deal id}`` on the provider's app (``provider_app.create_app`` installs
them).
"""

import threading
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Final

import msgspec

from depinkit.core.envelope import ReportDomain
from depinkit.core.errors import InvalidSignature
from depinkit.core.keys import Account, recover_address
from depinkit.networks.errors import NetworkError
from depinkit.networks.storage import parameters as p
from depinkit.networks.storage.manifest import Manifest, atomic_write
from depinkit.networks.storage.schemas import (
    MAX_DEAL_PIECES,
    DealRegistration,
    DealTerms,
    PieceTerms,
    deal_digest,
    deal_id_for,
    sign_deal,
    split_deal,
)

if TYPE_CHECKING:
    from fastapi import FastAPI

    from depinkit.networks.storage.provider import PieceStore

GIB: Final[int] = p.GIB  # bytes per GiB: prices are per GiB
DEFAULT_DURATION_EPOCHS: Final[int] = 720  # epochs: 30 days of hourly epochs
DEFAULT_EPOCH_MS: Final[int] = 3_600_000  # 1 h: the agent's default epoch length
REGISTRATION_MAX_BYTES: Final[int] = 64 * 1024  # a 160-piece deal is ~30 KiB of JSON


def _default(name: str) -> int:
    return next(spec.default for spec in p.PARAMETERS if spec.name == name)


class DealError(NetworkError):
    """A deal registration that is malformed, wrongly signed or not for this provider."""


@dataclass(frozen=True)
class DealPolicy:
    """What the consumer offers: prices (nanocredits, at least the governed ones), term,
    and the epoch clock that dates deals and storage payments."""

    price_gib_epoch: int = _default(p.PRICE_GIB_EPOCH)  # nanocredits per GiB per epoch
    price_gib_egress: int = _default(p.PRICE_GIB_EGRESS)  # nanocredits per GiB downloaded
    duration_epochs: int = DEFAULT_DURATION_EPOCHS
    genesis_ms: int = 0  # unix ms at which epoch 0 starts (the agents' epoch.genesis_ms)
    epoch_ms: int = DEFAULT_EPOCH_MS  # the agents' epoch.length_s, in ms

    def epoch_at(self, now_ms: int) -> int:
        return max(0, (now_ms - self.genesis_ms) // self.epoch_ms)


# --- which deal a segment belongs to ------------------------------------------------------


def segments_per_deal(n: int) -> int:
    """Segments in each deal of a file coded into ``n`` pieces per segment (as split_deal)."""
    return max(MAX_DEAL_PIECES // n, 1) if n > 0 else 1


def deal_id_of(file_id: bytes, n: int, segment: int) -> bytes:
    """The id of the deal holding ``segment`` (the file id for the first deal)."""
    return deal_id_for(file_id, segment // segments_per_deal(n))


def file_terms(
    manifest: Manifest, policy: DealPolicy, start_epoch: int, consumer: str | None = None
) -> list[DealTerms]:
    """The deals of a stored file at its current placement (``split_deal``)."""
    pieces = [
        PieceTerms(
            segment=s.index,
            index=x.number,
            root=x.root,
            size=manifest.piece_size(s.index),
            provider=x.provider,
        )
        for s in manifest.segments
        for x in s.pieces
    ]
    terms = split_deal(
        file_id=manifest.file_id,
        consumer=consumer or manifest.consumer,
        k=manifest.k,
        n=manifest.n,
        pieces=pieces,
        price_gib_epoch=policy.price_gib_epoch,
        price_gib_egress=policy.price_gib_egress,
        start_epoch=start_epoch,
        duration_epochs=policy.duration_epochs,
    )
    for part, deal in enumerate(terms):  # the client stored each piece under this id
        first = deal.pieces[0].segment
        if deal.deal_id != deal_id_of(manifest.file_id, manifest.n, first) or part != (
            first // segments_per_deal(manifest.n)
        ):
            raise DealError(f"deal {part} does not start at segment {first}")
    return terms


def sign_file_deals(
    consumer: Account, domain: ReportDomain, manifest: Manifest, policy: DealPolicy, start: int
) -> list[DealRegistration]:
    """Every deal of ``manifest``, signed by its consumer for ``domain``."""
    return [sign_deal(consumer, domain, t) for t in file_terms(manifest, policy, start)]


def check_registration(domain: ReportDomain | None, registration: DealRegistration) -> None:
    """DealError unless the registration is signed by its consumer for ``domain``."""
    if domain is None:
        raise DealError("no deployment domain to check deal signatures against")
    try:
        signer = recover_address(deal_digest(domain, registration.terms), registration.signature)
    except (InvalidSignature, ValueError):
        signer = ""
    if signer != registration.terms.consumer:
        raise DealError(f"deal is not signed by its consumer {registration.terms.consumer}")


def encode_registrations(registrations: Sequence[DealRegistration]) -> bytes:
    return msgspec.json.encode(list(registrations))


def decode_registrations(data: bytes) -> list[DealRegistration]:
    try:
        return msgspec.json.decode(data, type=list[DealRegistration])
    except (msgspec.DecodeError, msgspec.ValidationError) as exc:
        raise DealError(f"malformed deal registrations: {exc}") from None


# --- provider side ------------------------------------------------------------------------


class DealBook:
    """The deal registrations a provider received, one file each under ``data/deals``.

    The provider's HTTP app writes (``add``); its agent role reads (``all``), possibly from
    another process: every file is written atomically.
    """

    def __init__(self, data: Path) -> None:
        self.directory = data / "deals"
        self._lock = threading.Lock()

    def _path(self, deal_id: bytes) -> Path:
        return self.directory / f"{deal_id.hex()}.json"

    def get(self, deal_id: bytes) -> DealRegistration | None:
        try:
            raw = self._path(deal_id).read_bytes()
        except FileNotFoundError:
            return None
        try:
            return msgspec.json.decode(raw, type=DealRegistration)
        except (msgspec.DecodeError, msgspec.ValidationError):
            return None

    def add(self, registration: DealRegistration) -> bool:
        """Keep ``registration`` (checked by the caller); False if it was already here.

        DealError if another registration holds the id: a deal id names one set of terms.
        """
        deal_id = registration.terms.deal_id
        with self._lock:
            known = self.get(deal_id)
            if known is not None:
                if known.terms != registration.terms:
                    raise DealError(f"deal {deal_id.hex()} is registered with other terms")
                return False
            atomic_write(self._path(deal_id), msgspec.json.encode(registration))
            return True

    def all(self) -> list[DealRegistration]:
        """Every registration, by deal id."""
        if not self.directory.is_dir():
            return []
        out = []
        for path in sorted(self.directory.glob("*.json")):
            try:
                out.append(msgspec.json.decode(path.read_bytes(), type=DealRegistration))
            except (OSError, msgspec.DecodeError, msgspec.ValidationError):
                continue
        return sorted(out, key=lambda r: r.terms.deal_id)


def accept_registration(
    store: "PieceStore", book: "DealBook", registration: DealRegistration
) -> bool:
    """What ``POST /v1/deals`` does: the deal must be signed by its consumer for this
    provider's domain and must place a piece on it or name a piece it holds (a repair)."""
    check_registration(store.settings.domain, registration)
    me = store.settings.account.address
    terms = registration.terms
    if not any(x.provider == me or store.has(x.root) for x in terms.pieces):
        raise DealError(f"deal {terms.deal_id.hex()} places no piece on {me}")
    return book.add(registration)


def install_deal_routes(
    app: "FastAPI", store: "PieceStore", book: "DealBook | None" = None
) -> None:
    """``POST /v1/deals`` (a JSON ``DealRegistration``) and ``GET /v1/deals/{deal id}``.

    Neither needs a signed request: a registration carries the consumer's signature, and
    registrations are public (the oracles publish them as reports anyway). FastAPI reads
    the handlers' annotations at runtime: this module has no ``from __future__ import
    annotations``, and the handlers' types are imported here.
    """
    from fastapi import Request
    from fastapi.responses import JSONResponse, Response
    from starlette.concurrency import run_in_threadpool

    deals = book or DealBook(store.settings.data)

    @app.exception_handler(DealError)
    async def _bad_deal(_: Request, exc: DealError) -> JSONResponse:
        status = 409 if "other terms" in str(exc) else 400
        return JSONResponse({"error": type(exc).__name__, "detail": str(exc)}, status)

    @app.post("/v1/deals")
    async def post_deal(request: Request) -> JSONResponse:
        body = await request.body()
        if len(body) > REGISTRATION_MAX_BYTES:
            raise DealError("deal registration too large")
        try:
            registration = msgspec.json.decode(body, type=DealRegistration)
        except (msgspec.DecodeError, msgspec.ValidationError) as exc:
            raise DealError(f"malformed deal registration: {exc}") from None
        stored = await run_in_threadpool(accept_registration, store, deals, registration)
        deal_hex = registration.terms.deal_id.hex()
        return JSONResponse({"deal_id": deal_hex, "stored": stored}, 201 if stored else 200)

    @app.get("/v1/deals/{deal_hex}")
    async def get_deal(deal_hex: str) -> Response:
        try:
            deal_id = bytes.fromhex(deal_hex)
        except ValueError:
            raise DealError("deal id must be 64 hex digits") from None
        found = deals.get(deal_id) if len(deal_id) == 32 else None
        if found is None:
            return JSONResponse({"error": "DealNotFound", "detail": deal_hex}, 404)
        return Response(msgspec.json.encode(found), media_type="application/json")


# --- consumer side: payment channels ------------------------------------------------------


class Channel(msgspec.Struct, forbid_unknown_fields=True):
    """What the consumer owes and paid one provider on one deal."""

    paid_through: int | None = None  # last epoch whose storage is counted (None: from the start)
    byte_epochs: int = 0  # bytes held x epochs, summed over the epochs counted
    egress_bytes: int = 0  # bytes downloaded from the provider under the deal
    cumulative: int = 0  # nanocredits of the newest receipt sent (0: none)


def channel_key(provider: str, deal_id: bytes) -> str:
    return f"{provider}:{deal_id.hex()}"


def due(channel: Channel, price_gib_epoch: int, price_gib_egress: int) -> int:
    """Nanocredits owed on the channel so far, rounded up."""
    total = channel.byte_epochs * price_gib_epoch + channel.egress_bytes * price_gib_egress
    return -(-total // GIB)


def held_bytes(terms: DealTerms, placement: Mapping[tuple[int, int], str]) -> dict[str, int]:
    """Bytes each provider holds of the deal, at the current ``(segment, share) -> provider``."""
    out: dict[str, int] = {}
    for x in terms.pieces:
        holder = placement.get((x.segment, x.index), x.provider)
        out[holder] = out.get(holder, 0) + x.size
    return out


def accrue(
    channels: dict[str, Channel],
    terms: DealTerms,
    placement: Mapping[tuple[int, int], str],
    epoch: int,
) -> list[str]:
    """Count storage of the deal through ``epoch`` (capped at its end) on every holder's
    channel; the channel keys touched, sorted."""
    last = min(epoch, terms.end_epoch - 1)
    touched = []
    for provider, size in sorted(held_bytes(terms, placement).items()):
        key = channel_key(provider, terms.deal_id)
        channel = channels.setdefault(key, Channel())
        if channel.paid_through is None:
            channel.paid_through = terms.start_epoch - 1
        if last > channel.paid_through:
            channel.byte_epochs += size * (last - channel.paid_through)
            channel.paid_through = last
        touched.append(key)
    return touched


def load_channels(path: Path) -> dict[str, Channel]:
    try:
        return msgspec.json.decode(path.read_bytes(), type=dict[str, Channel])
    except FileNotFoundError:
        return {}


def save_channels(path: Path, channels: Mapping[str, Channel]) -> None:
    atomic_write(path, msgspec.json.encode(dict(sorted(channels.items()))))


def placement_of(manifest: Manifest) -> dict[tuple[int, int], str]:
    return {(s.index, x.number): x.provider for s in manifest.segments for x in s.pieces}


def deals_by_id(registrations: Iterable[DealRegistration]) -> dict[bytes, DealTerms]:
    return {r.terms.deal_id: r.terms for r in registrations}
