"""The network-module interface: what a network builder writes.

A network module says which reports its devices send (``kinds``), how an
oracle checks them (``verify``) and how checked work turns into points
(``score``), in named reward ``buckets`` whose shares governance sets. Both
functions are pure: same context and reports in, same verdicts and scores out,
on every oracle, whatever order the reports arrived in. Everything else
(ingest, storage, reconciliation, allocation, settlement) is the stack's.

See docs/networks/README.md for the contract in prose and a worked example.
"""

from __future__ import annotations

import abc
import re
from collections.abc import Callable, Mapping, Sequence
from types import MappingProxyType
from typing import TYPE_CHECKING, Annotated, Any, ClassVar, Final

import msgspec

from depinkit.core.envelope import Report
from depinkit.networks.context import EpochContext, ParameterSpec, resolve_parameters
from depinkit.networks.errors import NetworkError
from depinkit.networks.spec import NetworkSpec

if TYPE_CHECKING:
    from depinkit.agent.roles import RoleFactory

REPORT_ID_BYTES: Final[int] = 32  # bytes: a report id is its keccak256 signing digest
MAX_POINTS: Final[int] = 2**63 - 1  # points: a signed 64-bit SQL BIGINT, as the allocator takes
MAX_DETAIL_CHARS: Final[int] = 500  # characters: a verdict's detail goes into every manifest
MAX_EXPLAIN_CHARS: Final[int] = 100  # characters: one value of explain() (a cell, a fraction)

_NAME_RE = re.compile(r"[a-z0-9_-]{1,32}")  # network, kind, bucket and reason names

# Reason codes any module may use (a module adds its own, same alphabet).
WRONG_NETWORK: Final[str] = "wrong_network"  # the report is for another network
UNKNOWN_KIND: Final[str] = "unknown_kind"  # the network has no such report kind
MALFORMED_BODY: Final[str] = "malformed_body"  # the body does not decode canonically
WRONG_EPOCH: Final[str] = "wrong_epoch"  # labelled with another epoch
OUTSIDE_EPOCH: Final[str] = "outside_epoch"  # timestamp not in [start_ms, end_ms)
UNKNOWN_DEVICE: Final[str] = "unknown_device"  # not in the registry view
INACTIVE_DEVICE: Final[str] = "inactive_device"  # registered but not active
NETWORK_MISMATCH: Final[str] = "network_mismatch"  # the device is registered on another network
COMMON_REASONS: Final[tuple[str, ...]] = (  # in the order precheck runs them
    WRONG_NETWORK,
    UNKNOWN_KIND,
    MALFORMED_BODY,
    WRONG_EPOCH,
    OUTSIDE_EPOCH,
    UNKNOWN_DEVICE,
    NETWORK_MISMATCH,
    INACTIVE_DEVICE,
)

# Chain inputs a module may ask for (``NetworkModule.chain_inputs``): the pipeline reads each
# at the epoch's start block, for the module's own network, from the HexBoosts contract.
CHAIN_BOOSTS: Final[str] = "boosts"  # [[h3 cell, multiplier, last epoch], ...] in force, sorted
CHAIN_DENYLIST: Final[str] = "denylist"  # [EIP-55 address, ...]: governance's denylist, sorted
CHAIN_INPUTS: Final[tuple[str, ...]] = (CHAIN_BOOSTS, CHAIN_DENYLIST)


# gc=False: only bytes, str and ints inside, so never part of a cycle; an epoch holds millions
# of these, and the cyclic collector would walk them all again on every pass.
class ReceivedReport(msgspec.Struct, frozen=True, gc=False):
    """A report whose envelope signature an oracle has already checked, with its id."""

    id: Annotated[bytes, msgspec.Meta(min_length=REPORT_ID_BYTES, max_length=REPORT_ID_BYTES)]
    report: Report


class Verdict(msgspec.Struct, frozen=True, gc=False):
    """A module's judgement of one report, published in the epoch's manifest.

    ``reason`` is a stable code (empty when accepted) an operator can act on,
    ``detail`` a human sentence. ``facts`` carries the integers the verifier
    established and the scorer needs (e.g. ``{"slot": 3}``), so ``score``
    never re-reads a report body.
    """

    report_id: bytes
    device: str
    accepted: bool
    reason: str = ""
    detail: str = ""
    facts: dict[str, int] = msgspec.field(default_factory=dict)


Scores = dict[str, dict[str, int]]
"""Points: bucket name -> device address -> integer points in [0, MAX_POINTS]."""

Explanation = dict[str, dict[str, str]]
"""How points came about: device address -> value name -> value as exact text."""


def accept(item: ReceivedReport, **facts: int) -> Verdict:
    return Verdict(item.id, item.report.device, True, facts=dict(sorted(facts.items())))


def reject(item: ReceivedReport, reason: str, detail: str) -> Verdict:
    return Verdict(item.id, item.report.device, False, reason, detail[:MAX_DETAIL_CHARS])


class NetworkModule(abc.ABC):
    """Base of every network module; subclass it and set the class attributes.

    ``name``: the network's name (also its on-chain id, keccak256(name)).
    ``kinds``: report kind -> msgspec Struct type of its body.
    ``buckets``: names of its reward buckets (each has a governed split).
    ``parameters``: its governed parameters, with defaults and bounds.
    ``chain_inputs``: ``ctx.prior`` key -> chain input (one of CHAIN_INPUTS) the pipeline
    reads at the epoch's start block and puts there, replacing what ``next_prior`` carried.
    """

    name: ClassVar[str]
    kinds: ClassVar[Mapping[str, type[msgspec.Struct]]]
    buckets: ClassVar[tuple[str, ...]]
    parameters: ClassVar[tuple[ParameterSpec, ...]] = ()
    chain_inputs: ClassVar[Mapping[str, str]] = MappingProxyType({})

    @abc.abstractmethod
    def verify(self, ctx: EpochContext, reports: Sequence[ReceivedReport]) -> list[Verdict]:
        """One verdict per distinct report id, sorted by report id. Pure."""

    @abc.abstractmethod
    def score(self, ctx: EpochContext, verdicts: Sequence[Verdict]) -> Scores:
        """Points per bucket per device from the verdicts. Pure, integers only."""

    def next_prior(
        self, ctx: EpochContext, reports: Sequence[ReceivedReport], verdicts: Sequence[Verdict]
    ) -> dict[str, Any]:
        """State handed to the next epoch as its ``ctx.prior`` (pure; default: none).

        Plain data only (dicts with str keys, lists, ints, str, bytes, bools): the pipeline
        stores it canonically encoded with the epoch, so every oracle carries the same state.
        """
        return {}

    def explain(
        self, ctx: EpochContext, verdicts: Sequence[Verdict], scores: Scores
    ) -> Explanation:
        """Per scored device, named values that show how its points came about (pure;
        default: none), published in the manifest's ``details`` for explorers.

        Names follow the reason alphabet; values are exact text (an H3 cell, a fraction
        "1/2", an integer), at most MAX_EXPLAIN_CHARS each; only devices in ``scores``.
        """
        return {}

    def role_factory(self) -> RoleFactory | None:
        """The agent role devices of this network run, if the module ships one."""
        return None

    def spec(self) -> NetworkSpec:
        """The ingest-side view of this module (a fresh object per call)."""
        return NetworkSpec(name=self.name, kinds=dict(self.kinds))

    def defaults(self) -> dict[str, int]:
        """Every parameter at its default, by name."""
        return {p.name: p.default for p in sorted(self.parameters, key=lambda p: p.name)}

    def resolve(self, raw: Mapping[str, int]) -> dict[str, int]:
        """Parameters in force from raw on-chain values (see ``resolve_parameters``)."""
        return resolve_parameters(self.parameters, raw)


def validate_module(module: Any) -> None:
    """NetworkError unless ``module`` is a well-formed NetworkModule instance."""
    if not isinstance(module, NetworkModule):
        raise NetworkError(f"expected a NetworkModule, got {type(module).__name__}")
    name = getattr(module, "name", None)
    buckets = getattr(module, "buckets", None)
    if not isinstance(name, str):
        raise NetworkError(f"{type(module).__name__} has no name")
    if not isinstance(getattr(module, "kinds", None), Mapping):
        raise NetworkError(f"network {name!r} must map its kinds to body types")
    if not isinstance(buckets, tuple) or not buckets:
        raise NetworkError(f"network {name!r} must name at least one bucket (a tuple)")
    for bucket in buckets:
        if not isinstance(bucket, str) or not _NAME_RE.fullmatch(bucket):
            raise NetworkError(f"bucket {bucket!r} of {name} must match {_NAME_RE.pattern}")
    if len(set(buckets)) != len(buckets):
        raise NetworkError(f"network {name!r} names a bucket twice")
    params = getattr(module, "parameters", ())
    if not all(isinstance(p, ParameterSpec) for p in params):
        raise NetworkError(f"parameters of {name!r} must be ParameterSpec values")
    if len({p.name for p in params}) != len(params):
        raise NetworkError(f"network {name!r} names a parameter twice")
    inputs = getattr(module, "chain_inputs", {})
    if not isinstance(inputs, Mapping) or not all(
        isinstance(key, str) and source in CHAIN_INPUTS for key, source in inputs.items()
    ):
        raise NetworkError(f"chain inputs of {name!r} must map prior keys to {CHAIN_INPUTS}")


def check_output(
    module: NetworkModule,
    reports: Sequence[ReceivedReport],
    verdicts: Sequence[Verdict],
    scores: Scores,
) -> None:
    """NetworkError unless a module's output keeps the interface's promises.

    One verdict per distinct report id, in id order, each naming its report's
    device, with a reason exactly when rejected; scores only in the module's
    buckets, with non-negative integer points. The pipeline calls this so a
    buggy plugin stops its own network, never settles a wrong root.
    """
    devices = {r.id: r.report.device for r in reports}
    ids = [v.report_id for v in verdicts]
    if ids != sorted(devices):
        raise NetworkError(f"{module.name}: verify must return one verdict per report, by id")
    for v in verdicts:
        if v.device != devices[v.report_id]:
            raise NetworkError(f"{module.name}: verdict names the wrong device")
        if v.accepted == bool(v.reason) or (v.reason and not _NAME_RE.fullmatch(v.reason)):
            raise NetworkError(f"{module.name}: bad reason {v.reason!r} (accepted={v.accepted})")
    for bucket, points in scores.items():
        if bucket not in module.buckets:
            raise NetworkError(f"{module.name}: score names unknown bucket {bucket!r}")
        for device, value in points.items():
            if type(value) is not int or not 0 <= value <= MAX_POINTS or type(device) is not str:
                raise NetworkError(
                    f"{module.name}: points must be ints in [0, 2**63-1] ({device}: {value})"
                )


def check_explanation(module: NetworkModule, scores: Scores, explained: Explanation) -> None:
    """NetworkError unless ``explain``'s output is what the manifest can publish: str
    names and values within bounds, only for devices the module scored."""
    scored = {device for points in scores.values() for device in points}
    for device, values in explained.items():
        if type(device) is not str or device not in scored:
            raise NetworkError(f"{module.name}: explains {device!r}, which it did not score")
        if not isinstance(values, dict) or not values:
            raise NetworkError(f"{module.name}: explanation of {device} must be a non-empty dict")
        for name, value in values.items():
            if type(name) is not str or not _NAME_RE.fullmatch(name):
                raise NetworkError(f"{module.name}: bad explanation name {name!r}")
            if type(value) is not str or not 0 < len(value) <= MAX_EXPLAIN_CHARS:
                raise NetworkError(f"{module.name}: bad explanation value {value!r} ({name})")


def run_module(
    module: NetworkModule, ctx: EpochContext, reports: Sequence[ReceivedReport]
) -> tuple[list[Verdict], Scores]:
    """verify then score, with the output checked: what the epoch pipeline calls."""
    if ctx.network != module.name:
        raise NetworkError(f"context is for {ctx.network!r}, module is {module.name!r}")
    verdicts = module.verify(ctx, reports)
    scores = module.score(ctx, verdicts)
    check_output(module, reports, verdicts, scores)
    return verdicts, scores


ModuleFactory = Callable[[], NetworkModule]
