"""The compute network's agent role: offers of idle capacity, completions of paid jobs.

A provider device runs the provider service (``depinkit compute provider``) and an agent
with this role, pointed at the service's local URL (option ``provider_url``). Every run
the role asks the service

* ``GET /v1/info``: workers, jobs running, limits, price and deployment; and every
  ``offer_interval_s`` it turns them into an ``offer`` (docs/networks/compute.md,
  "Messages"): ``slots`` = workers, ``busy`` = jobs running, ``memory_mib`` from the
  service's memory limit, the service's price (or the role's ``price_per_mfuel``);
* ``GET /v1/receipts``: the consumers' newest receipt per lease, and ``GET /v1/claims``:
  the claims of the results the service signed, by lease. A receipt whose lease has a claim
  of this device becomes a ``completion`` {claim, role, receipt}, once per (lease,
  cumulative): the role remembers what it reported in a small state file in the agent's
  data directory, so a restart does not report it again. A receipt without its claim
  waits for the next run.

The role checks what it reports (claim and receipt signed for the service's deployment,
paying this device on the claim's lease) so a confused service cannot make it sign garbage;
it never signs anything itself (the runtime does). The provider cannot tell a primary run
from a verification re-run, so completions carry role 0 (primary); the module only records
it.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, Protocol

import httpx
import msgspec

from depinkit.agent.config import RoleSettings
from depinkit.agent.errors import RoleError
from depinkit.agent.roles import ReportDraft, Role, RoleContext, RoleFactory
from depinkit.core.envelope import ReportDomain
from depinkit.networks.compute.schemas import (
    COMPLETION,
    MAX_CAPABILITIES,
    MAX_MEMORY_MIB,
    MAX_MFUEL_PER_S,
    MAX_PRICE,
    MAX_SLOTS,
    OFFER,
    ROLE_PRIMARY,
    Claim,
    ClaimError,
    Completion,
    Offer,
    verify_claim,
)
from depinkit.networks.errors import NetworkError
from depinkit.networks.receipts import Receipt, ReceiptError, verify_receipt

NETWORK: Final[str] = "compute"
CLAIMS_PATH: Final[str] = "/v1/claims"  # the provider service's signed claims, by lease
DEFAULT_PORT: Final[int] = 8700  # the provider service's port (provider.DEFAULT_PORT)
DEFAULT_PROVIDER_URL: Final[str] = f"http://127.0.0.1:{DEFAULT_PORT}"
CONNECT_TIMEOUT_S: Final[float] = 5.0  # seconds: a local service that does not answer is down
DEFAULT_INTERVAL_S: Final[float] = 60.0  # seconds: completions are reported within a minute
DEFAULT_OFFER_INTERVAL_S: Final[float] = 1200.0  # seconds: a third of the default availability
# slot (3600 s), so every slot gets an offer even when ticks drift; extra offers in a slot
# are rejected as duplicate_slot and cost nothing
DEFAULT_MFUEL_PER_S: Final[int] = 1_000  # million fuel per second per slot: one core runs ~1300
DEFAULT_PRICE_PER_MFUEL: Final[int] = 100  # nanocredits per million fuel: what the consumer's
# transport assumes for a service that publishes no price
DEFAULT_CAPABILITIES: Final[tuple[str, ...]] = ("wasi-p1",)
MIB: Final[int] = 1024 * 1024  # bytes
MAX_REMEMBERED: Final[int] = 100_000  # leases whose reported cumulative the state keeps (~10 MB)
MAX_CLAIMS_BYTES: Final[int] = 64 * 1024 * 1024  # bytes of a claims listing the role reads
STATE_VERSION: Final[int] = 1
OPTIONS: Final[frozenset[str]] = frozenset(
    {
        "provider_url",
        "offer_interval_s",
        "mfuel_per_s",
        "price_per_mfuel",
        "region",
        "capabilities",
    }
)

log = logging.getLogger(__name__)

if TYPE_CHECKING:  # the service's modules import FastAPI: ~0.5 s the agent need not pay
    from depinkit.networks.compute.provider import ProviderInfo


class ProviderSource(Protocol):
    """What the role reads from the local provider service."""

    def info(self) -> ProviderInfo: ...

    def receipts(self) -> list[Receipt]: ...

    def claims(self) -> list[Claim]: ...


class HttpProviderSource:
    """The provider service at ``url`` over HTTP."""

    def __init__(self, url: str, *, client: httpx.Client | None = None) -> None:
        from depinkit.networks.compute.provider_client import ProviderClient

        self.url = url.rstrip("/")
        self._http = client or httpx.Client()
        # the domain only matters for checking results, which the role never asks for
        self._provider = ProviderClient(
            self.url, ReportDomain(1, "0x" + "00" * 20), client=self._http
        )

    def info(self) -> ProviderInfo:
        return self._provider.info()

    def receipts(self) -> list[Receipt]:
        return self._provider.receipts()

    def claims(self) -> list[Claim]:
        from depinkit.networks.compute.provider_client import ProviderError, ProviderUnreachable

        try:
            response = self._http.get(self.url + CLAIMS_PATH, timeout=CONNECT_TIMEOUT_S)
        except httpx.TransportError as exc:
            raise ProviderUnreachable(f"{self.url}: {type(exc).__name__}: {exc}") from exc
        if response.status_code != 200:
            raise ProviderError(response.status_code, "no_claims", response.text[:200])
        if len(response.content) > MAX_CLAIMS_BYTES:
            raise ProviderError(200, "too_large", f"claims listing above {MAX_CLAIMS_BYTES} bytes")
        try:
            return msgspec.json.decode(response.content, type=list[Claim])
        except msgspec.DecodeError as exc:
            raise ProviderError(200, "malformed", f"claims listing: {exc}") from None

    def close(self) -> None:
        self._http.close()


class _State(msgspec.Struct):
    version: int = STATE_VERSION
    offer_ms: int = -1  # runtime time of the last offer; -1: never
    sent: dict[str, int] = msgspec.field(default_factory=dict)  # lease hex -> cumulative


class ComputeProviderRole:
    """Offers and completions of one provider device (see the module docstring)."""

    def __init__(
        self,
        source: ProviderSource,
        *,
        name: str = NETWORK,
        interval_s: float = DEFAULT_INTERVAL_S,
        offer_interval_s: float = DEFAULT_OFFER_INTERVAL_S,
        mfuel_per_s: int = DEFAULT_MFUEL_PER_S,
        price_per_mfuel: int | None = None,
        region: str = "",
        capabilities: Sequence[str] = DEFAULT_CAPABILITIES,
    ) -> None:
        self.name = name
        self.interval_s = interval_s
        self._source = source
        self._offer_ms = int(offer_interval_s * 1000)
        self._mfuel_per_s = mfuel_per_s
        self._price = price_per_mfuel
        self._region = region
        self._capabilities = tuple(capabilities)
        if len(self._capabilities) > MAX_CAPABILITIES:
            raise RoleError(f"at most {MAX_CAPABILITIES} capabilities, got {len(capabilities)}")

    # -- state ------------------------------------------------------------------------------

    def _state_path(self, ctx: RoleContext) -> Path:
        return ctx.data_dir / f"compute-role-{self.name}.json"

    def _load(self, ctx: RoleContext) -> _State:
        try:
            state = msgspec.json.decode(self._state_path(ctx).read_bytes(), type=_State)
        except FileNotFoundError:
            return _State()
        except (OSError, msgspec.DecodeError) as exc:  # never stop the role over its memo
            log.warning("compute role state unreadable, starting afresh: %s", exc)
            return _State()
        return state if state.version == STATE_VERSION else _State()

    def _save(self, ctx: RoleContext, state: _State) -> None:
        while len(state.sent) > MAX_REMEMBERED:  # oldest first (insertion order)
            del state.sent[next(iter(state.sent))]
        path = self._state_path(ctx)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        tmp.write_bytes(msgspec.json.encode(state))
        os.replace(tmp, path)

    # -- reports ----------------------------------------------------------------------------

    def produce(self, ctx: RoleContext) -> list[ReportDraft]:
        try:
            info = self._source.info()
        except NetworkError as exc:
            log.warning("compute provider service unavailable: %s", exc)
            return []
        if info.provider.lower() != ctx.device.lower():
            log.error("the provider service signs as %s, not as this device", info.provider)
            return []
        state = self._load(ctx)
        drafts: list[ReportDraft] = []
        if state.offer_ms < 0 or ctx.now_ms - state.offer_ms >= self._offer_ms:
            offer = self._offer(info)
            if offer is not None:
                drafts.append(ReportDraft(NETWORK, OFFER, offer))
                state.offer_ms = ctx.now_ms
        drafts.extend(self._completions(ctx, info, state))
        self._save(ctx, state)
        return drafts

    def _offer(self, info: ProviderInfo) -> Offer | None:
        price = info.price_per_mfuel if info.price_per_mfuel is not None else self._price
        offer = Offer(
            slots=min(max(info.workers, 1), MAX_SLOTS),
            busy=min(max(info.running, 0), max(info.workers, 1), MAX_SLOTS),
            mfuel_per_s=min(max(self._mfuel_per_s, 1), MAX_MFUEL_PER_S),
            memory_mib=min(max(info.max_limits.memory_bytes // MIB, 1), MAX_MEMORY_MIB),
            price_per_mfuel=min(DEFAULT_PRICE_PER_MFUEL if price is None else price, MAX_PRICE),
            region=self._region,
            capabilities=self._capabilities,
        )
        try:  # Struct constructors do not check constraints; a decode does
            return msgspec.msgpack.decode(msgspec.msgpack.encode(offer), type=Offer)
        except msgspec.ValidationError as exc:
            log.error("compute offer is invalid, not sent: %s", exc)
            return None

    def _completions(
        self, ctx: RoleContext, info: ProviderInfo, state: _State
    ) -> list[ReportDraft]:
        try:
            receipts = self._source.receipts()
            claims = {c.lease: c for c in self._source.claims()} if receipts else {}
        except NetworkError as exc:
            log.warning("compute receipts or claims unavailable: %s", exc)
            return []
        domain = ReportDomain(chain_id=info.chain_id, registry=info.registry)
        drafts: list[ReportDraft] = []
        for receipt in sorted(receipts, key=lambda r: (r.consumer, r.channel, r.cumulative)):
            lease = receipt.channel.hex()
            if state.sent.get(lease, 0) >= receipt.cumulative:
                continue
            claim = claims.get(receipt.channel)
            if claim is None:
                continue  # the service has not listed the result yet: next run
            problem = _problem(domain, ctx.device, claim, receipt)
            if problem:
                log.error("compute lease %s not reported: %s", lease, problem)
                state.sent[lease] = receipt.cumulative  # it will not get better
                continue
            completion = Completion(claim=claim, role=ROLE_PRIMARY, receipt=receipt)
            drafts.append(ReportDraft(NETWORK, COMPLETION, completion))
            state.sent.pop(lease, None)  # re-inserted last: the newest survive eviction
            state.sent[lease] = receipt.cumulative
        return drafts


def _problem(domain: ReportDomain, device: str, claim: Claim, receipt: Receipt) -> str:
    """Why ``claim`` and ``receipt`` would not make an acceptable completion; '' if fine."""
    if claim.provider.lower() != device.lower():
        return f"claim is by {claim.provider}"
    if receipt.payee.lower() != device.lower() or receipt.network != NETWORK:
        return f"receipt pays {receipt.payee} on {receipt.network!r}"
    try:
        verify_claim(domain, claim)
        verify_receipt(domain, receipt)
    except (ClaimError, ReceiptError) as exc:
        return str(exc)
    return ""


def _option(options: Mapping[str, Any], name: str, kind: type, default: Any) -> Any:
    value = options.get(name, default)
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    if value is not None and (not isinstance(value, kind) or isinstance(value, bool)):
        raise RoleError(f"compute role option {name!r} must be {kind.__name__}, got {value!r}")
    return value


def compute_role_factory(default_url: str = DEFAULT_PROVIDER_URL) -> RoleFactory:
    """Builds the role from its ``[[roles]]`` entry. Options: ``provider_url`` (the local
    provider service; default ``default_url``), ``offer_interval_s``, ``mfuel_per_s``,
    ``price_per_mfuel`` (used when the service publishes no price), ``region``,
    ``capabilities`` (list of tags)."""

    def build(settings: RoleSettings) -> Role:
        options = dict(settings.options)
        unknown = sorted(set(options) - OPTIONS)
        if unknown:
            raise RoleError(f"role {settings.name!r}: unknown options {unknown}")
        capabilities = options.get("capabilities", list(DEFAULT_CAPABILITIES))
        if not isinstance(capabilities, list) or not all(isinstance(c, str) for c in capabilities):
            raise RoleError("compute role option 'capabilities' must be a list of strings")
        url = _option(options, "provider_url", str, default_url)
        return ComputeProviderRole(
            HttpProviderSource(url),
            name=settings.name,
            interval_s=settings.interval_s,
            offer_interval_s=_option(options, "offer_interval_s", float, DEFAULT_OFFER_INTERVAL_S),
            mfuel_per_s=_option(options, "mfuel_per_s", int, DEFAULT_MFUEL_PER_S),
            price_per_mfuel=_option(options, "price_per_mfuel", int, None),
            region=_option(options, "region", str, ""),
            capabilities=capabilities,
        )

    return build


__all__ = [
    "CLAIMS_PATH",
    "ComputeProviderRole",
    "HttpProviderSource",
    "ProviderSource",
    "compute_role_factory",
]
