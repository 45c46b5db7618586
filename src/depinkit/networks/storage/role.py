"""The storage network's agent role: what a provider reports (docs/networks/storage.md,
"Interfaces").

The provider process (``depinkit.networks.storage.provider``) stores and serves pieces; this
role runs in the device's agent next to it, reads the provider's data directory and turns
what is there into reports, each once:

1. ``capacity``: the provider's declared bytes (``capacity_bytes``, else asked of the
   provider's ``/v1/info``) and the URL it serves at, once every epoch (a declaration made
   before the oracles' registry view knew the device is refused as ``unknown_device``, and
   every deal placed on a provider without a declaration is refused: declaring again each
   epoch heals both, for one small report per epoch);
2. ``deal``: every consumer-signed registration the provider received (``deals/``, written
   by ``POST /v1/deals``) that places a piece it holds on it, in the epoch it arrives and
   the next (a registration judged while another provider of the deal had not declared
   capacity yet is refused; one epoch later every provider running this role has);
3. ``repair``: for every piece it holds of a deal that places that share elsewhere (the
   consumer or a repairer rebuilt it here), a claim, in two consecutive epochs likewise;
4. ``proof``: once per epoch, as soon as the oracles' beacon gives the epoch's entropy, the
   challenged chunks of every piece of every active deal placed on it (and of the pieces it
   claimed in an earlier epoch), each checked locally (``check_piece_proof``) and left out if
   it fails, so a lost piece does not sink the others; packed per deal (and claimed pieces
   apart), so one deal the oracles refused does not sink another's proofs;
5. ``receipt``: the newest consumer receipt per channel (``egress.json``), when it grew.

What was sent is kept in ``storage-role.json`` in the agent's data directory, so a restart
repeats nothing but at most the current epoch's proofs, which the oracles count once.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any, Final, Protocol

import httpx
import msgspec

from depinkit.agent.config import RoleSettings
from depinkit.agent.errors import RoleError
from depinkit.agent.roles import ReportDraft, Role, RoleContext, RoleFactory
from depinkit.networks.receipts import Receipt
from depinkit.networks.storage.deals import DealBook
from depinkit.networks.storage.manifest import atomic_write
from depinkit.networks.storage.parameters import CHUNKS_PER_PIECE, PARAMETERS
from depinkit.networks.storage.pieces import levels
from depinkit.networks.storage.proofs import check_piece_proof, pack_proofs, prove_piece
from depinkit.networks.storage.provider import EgressState
from depinkit.networks.storage.schemas import (
    CAPACITY,
    DEAL,
    PROOF,
    RECEIPT,
    REPAIR,
    CapacityDeclaration,
    DealRegistration,
    DealTerms,
    PieceProof,
    PieceTerms,
    ReceiptReport,
    RepairClaim,
)
from depinkit.networks.uptime.role import BeaconSource, OracleBeacons

NETWORK: Final[str] = "storage"
STATE_FILE: Final[str] = "storage-role.json"  # in the agent's data directory
DEFAULT_INTERVAL_S: Final[float] = 60.0  # runs per epoch: proofs go out within a minute
INFO_TIMEOUT_S: Final[float] = 5.0  # the provider's /v1/info on the same host
INFO_MAX_BYTES: Final[int] = 4_096  # a /v1/info answer is ~150 bytes
TRIES: Final[int] = 2  # consecutive epochs a deal or a repair claim is sent in (see above)
DEFAULT_CHUNKS_PER_PIECE: Final[int] = next(
    spec.default for spec in PARAMETERS if spec.name == CHUNKS_PER_PIECE
)
OPTIONS: Final[frozenset[str]] = frozenset({"data_dir", "url", "capacity_bytes"})


class LocalPieces(Protocol):
    """What the role reads of the provider's store (``provider.PieceStore`` has it too)."""

    def has(self, root: bytes) -> bool: ...

    def read(self, root: bytes) -> bytes: ...

    def receipts(self) -> list[Receipt]: ...


class PieceDirectory:
    """A provider's pieces and receipts, read-only from its data directory.

    The provider process owns the directory (``provider.PieceStore``: ``pieces/<r[:2]>/<r>``
    with ``<r>.json`` beside it, ``egress.json``); every file there is replaced atomically,
    so reading from another process sees whole files.
    """

    def __init__(self, data: Path) -> None:
        self.data = data

    def _path(self, root: bytes) -> Path:
        return self.data / "pieces" / root.hex()[:2] / root.hex()

    def has(self, root: bytes) -> bool:
        path = self._path(root)
        return path.exists() and path.with_name(f"{root.hex()}.json").exists()

    def read(self, root: bytes) -> bytes:
        return self._path(root).read_bytes()

    def receipts(self) -> list[Receipt]:
        try:
            raw = (self.data / "egress.json").read_bytes()
        except FileNotFoundError:
            return []
        try:
            state = msgspec.json.decode(raw, type=EgressState)
        except (msgspec.DecodeError, msgspec.ValidationError):
            return []
        return [state.receipts[k] for k in sorted(state.receipts)]


class RoleState(msgspec.Struct, forbid_unknown_fields=True):
    """What the role has sent (``storage-role.json``)."""

    declared: tuple[int, str] | None = None  # (capacity bytes, url) last declared
    declared_epoch: int = -1  # the epoch of that declaration
    tries: dict[str, list[int]] = {}  # "deal:<id>" / "claim:<id>:<seg>:<share>" -> epochs sent
    claimed: dict[str, int] = {}  # "<id>:<seg>:<share>" -> epoch first claimed
    proven_epoch: int = -1  # last epoch whose proofs were sent
    reported: dict[str, int] = {}  # "<consumer>:<channel>" -> cumulative last reported


def _claim_key(deal_id: bytes, segment: int, index: int) -> str:
    return f"{deal_id.hex()}:{segment}:{index}"


class StorageProviderRole:
    """A storage provider's reports, from its data directory and the epoch's beacon."""

    name = NETWORK

    def __init__(
        self,
        beacons: BeaconSource,
        data_dir: Path,
        *,
        url: str,
        capacity_bytes: int | None = None,
        interval_s: float = DEFAULT_INTERVAL_S,
        pieces: LocalPieces | None = None,
        info: Callable[[], int | None] | None = None,
    ) -> None:
        self._beacons = beacons
        self._data_dir = data_dir
        self.url = url
        self._capacity_bytes = capacity_bytes
        self.interval_s = interval_s
        self._pieces = pieces
        self._info = info or self._ask_capacity

    # --- plumbing ----------------------------------------------------------------------

    def _base(self, ctx: RoleContext) -> Path:
        return self._data_dir if self._data_dir.is_absolute() else ctx.data_dir / self._data_dir

    def _ask_capacity(self) -> int | None:
        try:
            reply = httpx.get(f"{self.url.rstrip('/')}/v1/info", timeout=INFO_TIMEOUT_S)
        except httpx.HTTPError:
            return None
        if reply.status_code != 200 or len(reply.content) > INFO_MAX_BYTES:
            return None
        try:
            found = msgspec.json.decode(reply.content, type=dict[str, Any]).get("capacity")
        except msgspec.DecodeError:
            return None
        return found if isinstance(found, int) and found > 0 else None

    @staticmethod
    def _load(path: Path) -> RoleState:
        try:
            return msgspec.json.decode(path.read_bytes(), type=RoleState)
        except FileNotFoundError:
            return RoleState()
        except (msgspec.DecodeError, msgspec.ValidationError) as exc:
            raise RoleError(f"storage role state {path} is unreadable: {exc}") from None

    # --- the role ----------------------------------------------------------------------

    def produce(self, ctx: RoleContext) -> list[ReportDraft]:
        base = self._base(ctx)
        pieces = self._pieces or PieceDirectory(base)
        registrations = DealBook(base).all()
        state_path = ctx.data_dir / STATE_FILE
        state = self._load(state_path)
        before = msgspec.json.encode(state)
        drafts = self._capacity(state, ctx.epoch)
        if state.declared is not None:  # a deal naming an undeclared provider is refused
            drafts += self._deals(ctx, state, pieces, registrations)
            drafts += self._claims(ctx, state, pieces, registrations)
        drafts += self._proofs(ctx, state, pieces, registrations)
        drafts += self._receipts(ctx, state, pieces)
        after = msgspec.json.encode(state)
        if after != before:
            atomic_write(state_path, after)
        return drafts

    def _capacity(self, state: RoleState, epoch: int) -> list[ReportDraft]:
        capacity = self._capacity_bytes or self._info()
        if not capacity or (
            state.declared == (capacity, self.url) and state.declared_epoch == epoch
        ):
            return []
        state.declared, state.declared_epoch = (capacity, self.url), epoch
        body = CapacityDeclaration(capacity_bytes=capacity, url=self.url)
        return [ReportDraft(NETWORK, CAPACITY, body)]

    @staticmethod
    def _try(state: RoleState, key: str, epoch: int) -> bool:
        """True (and noted) if ``key`` is to be sent this epoch: in its first TRIES epochs,
        consecutive from the first, once each."""
        sent = state.tries.get(key, [])
        if epoch in sent or len(sent) >= TRIES or (sent and epoch > sent[0] + TRIES - 1):
            return False
        state.tries[key] = [*sent, epoch]
        return True

    def _deals(
        self,
        ctx: RoleContext,
        state: RoleState,
        pieces: LocalPieces,
        registrations: Sequence[DealRegistration],
    ) -> list[ReportDraft]:
        out = []
        for registration in registrations:
            terms = registration.terms
            mine = [x for x in terms.pieces if x.provider == ctx.device]
            if terms.end_epoch <= ctx.epoch or not any(pieces.has(x.root) for x in mine):
                continue
            if self._try(state, f"deal:{terms.deal_id.hex()}", ctx.epoch):
                out.append(ReportDraft(NETWORK, DEAL, registration))
        return out

    def _claims(
        self,
        ctx: RoleContext,
        state: RoleState,
        pieces: LocalPieces,
        registrations: Sequence[DealRegistration],
    ) -> list[ReportDraft]:
        out = []
        for registration in registrations:
            terms = registration.terms
            if not terms.start_epoch <= ctx.epoch < terms.end_epoch:
                continue
            for x in terms.pieces:
                if x.provider == ctx.device or not pieces.has(x.root):
                    continue
                segment = {y.provider for y in terms.pieces if y.segment == x.segment}
                if ctx.device in segment:  # holds another share: the oracles refuse it
                    continue
                key = _claim_key(terms.deal_id, x.segment, x.index)
                if self._try(state, f"claim:{key}", ctx.epoch):
                    state.claimed.setdefault(key, ctx.epoch)
                    claim = RepairClaim(deal_id=terms.deal_id, segment=x.segment, index=x.index)
                    out.append(ReportDraft(NETWORK, REPAIR, claim))
        return out

    def _proofs(
        self,
        ctx: RoleContext,
        state: RoleState,
        pieces: LocalPieces,
        registrations: Sequence[DealRegistration],
    ) -> list[ReportDraft]:
        if state.proven_epoch >= ctx.epoch or not registrations:
            return []
        beacon = self._beacons.beacon(ctx.epoch)
        if beacon is None or not beacon.start_ms <= ctx.now_ms < beacon.end_ms:
            return []
        entropy = beacon.entropy_bytes()
        count = beacon.parameter(NETWORK, CHUNKS_PER_PIECE, DEFAULT_CHUNKS_PER_PIECE)
        out = []
        for registration in registrations:
            terms = registration.terms
            if not terms.start_epoch <= ctx.epoch < terms.end_epoch:
                continue
            own = [x for x in terms.pieces if x.provider == ctx.device]
            claimed = [
                x
                for x in terms.pieces
                if state.claimed.get(_claim_key(terms.deal_id, x.segment, x.index), ctx.epoch)
                < ctx.epoch
            ]
            for group in (own, claimed):
                proofs = self._prove_all(entropy, count, ctx.device, terms, group, pieces)
                out += [ReportDraft(NETWORK, PROOF, body) for body in pack_proofs(proofs)]
        state.proven_epoch = ctx.epoch
        return out

    @staticmethod
    def _prove_all(
        entropy: bytes,
        count: int,
        device: str,
        terms: DealTerms,
        group: Iterable[PieceTerms],
        pieces: LocalPieces,
    ) -> list[PieceProof]:
        """Proofs of the pieces in ``group`` that pass locally (the rest are left out)."""
        out = []
        for x in group:
            piece = msgspec.structs.replace(x, provider=device)
            try:
                if not pieces.has(piece.root):
                    continue
                data = pieces.read(piece.root)
            except (OSError, ValueError):
                continue
            if len(data) != piece.size:
                continue
            tree = levels(data)
            if tree[-1][0] != piece.root:
                continue
            proof = prove_piece(entropy, piece, terms.deal_id, tree, data, count)
            if check_piece_proof(entropy, piece, proof, count) is None:
                out.append(proof)
        return out

    @staticmethod
    def _receipts(ctx: RoleContext, state: RoleState, pieces: LocalPieces) -> list[ReportDraft]:
        out = []
        for receipt in pieces.receipts():
            if receipt.network != NETWORK or receipt.payee != ctx.device:
                continue
            key = f"{receipt.consumer}:{receipt.channel.hex()}"
            if receipt.cumulative > state.reported.get(key, 0):
                state.reported[key] = receipt.cumulative
                out.append(ReportDraft(NETWORK, RECEIPT, ReceiptReport(receipt=receipt)))
        return out


def storage_role_factory(oracle_urls: Sequence[str]) -> RoleFactory:
    """Builds the role from its ``[[roles]]`` entry; beacons come from the agent's oracles.

    Options: ``data_dir`` (the provider's piece store, relative to the agent's data
    directory unless absolute), ``url`` (where the provider serves), and optionally
    ``capacity_bytes`` (else the provider's ``/v1/info`` is asked).
    """

    def build(settings: RoleSettings) -> Role:
        options = dict(settings.options)
        unknown = sorted(set(options) - OPTIONS)
        if unknown:
            raise RoleError(f"role {settings.name!r}: unknown options {unknown}")
        data_dir, url = options.get("data_dir"), options.get("url")
        if not isinstance(data_dir, str) or not data_dir:
            raise RoleError(f"role {settings.name!r} needs option data_dir (the piece store)")
        if not isinstance(url, str) or not url.startswith(("http://", "https://")):
            raise RoleError(f"role {settings.name!r} needs option url (http(s) of the provider)")
        capacity = options.get("capacity_bytes")
        if capacity is not None and (not isinstance(capacity, int) or capacity <= 0):
            raise RoleError(f"role {settings.name!r}: capacity_bytes must be a positive int")
        return StorageProviderRole(
            OracleBeacons(oracle_urls),
            Path(data_dir),
            url=url,
            capacity_bytes=capacity,
            interval_s=settings.interval_s,
        )

    return build


__all__ = [
    "NETWORK",
    "STATE_FILE",
    "LocalPieces",
    "PieceDirectory",
    "RoleState",
    "StorageProviderRole",
    "storage_role_factory",
]
