"""The network-module interface: context, parameters, registration and output checks."""

from __future__ import annotations

import importlib
from collections.abc import Sequence
from importlib.metadata import EntryPoint
from pathlib import Path
from types import MappingProxyType

import msgspec
import pytest
from uptime_kit import ACCOUNTS, heartbeat

from depinkit.chain.params import network_key
from depinkit.core.keys import keccak256
from depinkit.networks import (
    ENTRY_POINT_GROUP,
    DeviceView,
    EpochContext,
    NetworkError,
    NetworkModule,
    NetworkRegistry,
    NetworkSpec,
    ParameterSpec,
    ReceivedReport,
    Scores,
    UnknownNetwork,
    Verdict,
    check_output,
    default_registry,
    resolve_parameters,
    run_module,
)
from depinkit.networks.uptime import UptimeModule, module

ENTROPY = b"\x11" * 32


class Ping(msgspec.Struct, frozen=True):
    n: int


class PingModule(NetworkModule):
    """A module that returns whatever the test sets, to exercise the output checks."""

    name = "ping"
    kinds = MappingProxyType({"ping": Ping})
    buckets = ("pings",)

    def __init__(self, verdicts: list[Verdict] | None = None, scores: Scores | None = None):
        self._verdicts = verdicts or []
        self._scores = scores or {}

    def verify(self, ctx: EpochContext, reports: Sequence[ReceivedReport]) -> list[Verdict]:
        return self._verdicts

    def score(self, ctx: EpochContext, verdicts: Sequence[Verdict]) -> Scores:
        return self._scores


def ctx(**changes: object) -> EpochContext:
    args: dict[str, object] = {
        "network": "ping",
        "epoch": 1,
        "start_ms": 1_000,
        "end_ms": 2_000,
        "entropy": ENTROPY,
    }
    args.update(changes)
    return EpochContext(**args)  # type: ignore[arg-type]


# --- EpochContext ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "changes",
    [
        {"entropy": b"\x00" * 31},
        {"entropy": "00" * 32},
        {"start_ms": 2_000},
        {"start_ms": -1},
        {"epoch": -1},
    ],
)
def test_bad_contexts_are_refused(changes: dict[str, object]) -> None:
    with pytest.raises(NetworkError):
        ctx(**changes)


def test_context_mappings_are_read_only() -> None:
    context = ctx(parameters={"a": 1}, devices={"0x1": DeviceView(owner="0x2", network="ping")})
    with pytest.raises(TypeError):
        context.parameters["a"] = 2  # type: ignore[index]
    with pytest.raises(TypeError):
        context.devices["0x3"] = DeviceView(owner="0x2", network="ping")  # type: ignore[index]
    with pytest.raises(AttributeError):
        context.epoch = 2  # type: ignore[misc]
    assert context.param("a") == 1
    with pytest.raises(NetworkError, match="'b'"):
        context.param("b")


# --- parameters -----------------------------------------------------------------------

SPECS = (
    ParameterSpec("slot_s", 3600, "seconds", "why", minimum=1, maximum=86_400),
    ParameterSpec("bonus", 0, "points", "why"),
)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ({}, {"bonus": 0, "slot_s": 3600}),
        ({"slot_s": 0, "bonus": 0}, {"bonus": 0, "slot_s": 3600}),  # unset on chain
        ({"slot_s": 60, "bonus": 5}, {"bonus": 5, "slot_s": 60}),
        ({"slot_s": 10**30}, {"bonus": 0, "slot_s": 86_400}),  # clamped
        ({"other": 1}, {"bonus": 0, "slot_s": 3600}),  # unknown names ignored
    ],
)
def test_resolve_parameters(raw: dict[str, int], expected: dict[str, int]) -> None:
    assert resolve_parameters(SPECS, raw) == expected


@pytest.mark.parametrize(
    "args",
    [
        ("bad name", 1, "s", "r"),
        ("x", -1, "s", "r"),
        ("x", 5, "s", "r", 6),
        ("x", 5, "s", "r", 0, 4),
        ("x", 2**256, "s", "r"),
    ],
)
def test_bad_parameter_specs(args: tuple[object, ...]) -> None:
    with pytest.raises(NetworkError):
        ParameterSpec(*args)  # type: ignore[arg-type]


def test_governance_key_is_the_per_network_key() -> None:
    expected = keccak256(keccak256(b"uptime") + b"slot_s")
    assert network_key("uptime", module().parameters[0].name) == expected


# --- registration ---------------------------------------------------------------------


def test_registry_keeps_modules_and_specs() -> None:
    registry = NetworkRegistry([PingModule()])
    registry.register(NetworkSpec(name="kinds-only", kinds={"ping": Ping}))
    assert registry.names() == ["kinds-only", "ping"]
    assert registry.get("ping") == NetworkSpec(name="ping", kinds={"ping": Ping})
    assert [m.name for m in registry.modules()] == ["ping"]
    assert registry.body_type("kinds-only", "ping") is Ping
    with pytest.raises(NetworkError, match="without a module"):
        registry.module("kinds-only")
    with pytest.raises(UnknownNetwork):
        registry.module("nope")
    with pytest.raises(NetworkError, match="already registered"):
        registry.register(PingModule())


def test_default_registry_has_the_uptime_module() -> None:
    registry = default_registry(plugins=lambda: [])
    assert isinstance(registry.module("uptime"), UptimeModule)
    assert registry.modules()[0].buckets == ("uptime",)
    assert registry.module("uptime").role_factory() is None


def _module_class(**attrs: object) -> type[NetworkModule]:
    return type("Bad", (PingModule,), attrs)


@pytest.mark.parametrize(
    "bad",
    [
        _module_class(buckets=()),
        _module_class(buckets=["pings"]),
        _module_class(buckets=("Pings",)),
        _module_class(buckets=("a", "a")),
        _module_class(name=None),
        _module_class(name="Bad Name"),
        _module_class(kinds=None),
        _module_class(kinds={"ping": int}),
        _module_class(parameters=({"name": "x"},)),
        _module_class(parameters=(SPECS[0], SPECS[0])),
    ],
)
def test_malformed_modules_are_refused(bad: type[NetworkModule]) -> None:
    registry = NetworkRegistry()
    with pytest.raises(NetworkError):
        registry.register(bad())
    assert registry.names() == []


PLUGIN = """
from types import MappingProxyType
import msgspec
from depinkit.networks import NetworkModule

class Blip(msgspec.Struct, frozen=True):
    n: int

class BlipModule(NetworkModule):
    name = "blip"
    kinds = MappingProxyType({"blip": Blip})
    buckets = ("blips",)
    def verify(self, ctx, reports):
        return []
    def score(self, ctx, verdicts):
        return {}

INSTANCE = BlipModule()

def make():
    return BlipModule()
"""


@pytest.mark.parametrize("target", ["BlipModule", "INSTANCE", "make"])
def test_entry_points_may_yield_a_module(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, target: str
) -> None:
    name = f"depinkit_blip_{target.lower()}"
    (tmp_path / f"{name}.py").write_text(PLUGIN)
    monkeypatch.syspath_prepend(str(tmp_path))
    importlib.invalidate_caches()
    ep = EntryPoint(name="blip", value=f"{name}:{target}", group=ENTRY_POINT_GROUP)
    registry = default_registry(plugins=lambda: [ep])
    assert registry.module("blip").buckets == ("blips",)
    assert registry.names() == ["blip", "uptime"]


# --- output checks --------------------------------------------------------------------

DEVICE = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"
OTHER = "0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC"


def _item(n: int) -> ReceivedReport:
    item = heartbeat(ACCOUNTS[0], seq=n)
    return ReceivedReport(id=bytes([n]) * 32, report=item.report)


@pytest.mark.parametrize(
    ("verdicts", "scores", "message"),
    [
        ("none", {}, "one verdict per report"),
        ("swap", {}, "one verdict per report"),
        ("wrong-device", {}, "wrong device"),
        ("accepted-with-reason", {}, "bad reason"),
        ("rejected-without-reason", {}, "bad reason"),
        ("ok", {"other": {}}, "unknown bucket"),
        ("ok", {"pings": {DEVICE: -1}}, "points"),
        ("ok", {"pings": {DEVICE: 1.5}}, "points"),
        ("ok", {"pings": {DEVICE: True}}, "points"),
        ("ok", {"pings": {DEVICE: 2**63}}, "points"),
    ],
)
def test_broken_module_output_is_caught(verdicts: str, scores: Scores, message: str) -> None:
    items = [_item(1), _item(2)]
    device = items[0].report.device
    ok = [Verdict(i.id, device, True) for i in items]
    built = {
        "none": [],
        "ok": ok,
        "swap": ok[::-1],
        "wrong-device": [ok[0], Verdict(items[1].id, OTHER, True)],
        "accepted-with-reason": [ok[0], Verdict(items[1].id, device, True, "nope")],
        "rejected-without-reason": [ok[0], Verdict(items[1].id, device, False)],
    }[verdicts]
    broken = PingModule(built, scores)
    with pytest.raises(NetworkError, match=message):
        run_module(broken, ctx(), items)
    check_output(PingModule(), [], [], {"pings": {DEVICE: 0}})  # zero points are fine


def test_run_module_refuses_another_networks_context() -> None:
    with pytest.raises(NetworkError, match="context is for"):
        run_module(PingModule(), ctx(network="uptime"), [])
