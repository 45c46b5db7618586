"""The network registry: explicit registration, entry-point plugins, clear errors."""

from __future__ import annotations

import importlib
import textwrap
from importlib.metadata import EntryPoint
from pathlib import Path

import msgspec
import pytest

from depinkit.core.errors import DepinkitError
from depinkit.networks import (
    ENTRY_POINT_GROUP,
    NetworkError,
    NetworkRegistry,
    NetworkSpec,
    UnknownKind,
    UnknownNetwork,
    default_registry,
)
from depinkit.networks.uptime import Heartbeat


class Ping(msgspec.Struct, frozen=True):
    n: int


def test_default_registry_has_uptime_heartbeat() -> None:
    registry = default_registry(plugins=lambda: [])
    assert registry.names() == ["uptime"]
    assert "uptime" in registry
    assert registry.body_type("uptime", "heartbeat") is Heartbeat
    assert registry.get("uptime").kinds == {"heartbeat": Heartbeat}


def test_unknown_network_and_kind() -> None:
    registry = default_registry(plugins=lambda: [])
    with pytest.raises(UnknownNetwork, match="nope"):
        registry.get("nope")
    with pytest.raises(UnknownNetwork):
        registry.body_type("nope", "heartbeat")
    with pytest.raises(UnknownKind, match="audit"):
        registry.body_type("uptime", "audit")
    # Both are project errors and KeyErrors, so either style of handler works.
    for error in (UnknownNetwork, UnknownKind):
        assert issubclass(error, DepinkitError) and issubclass(error, KeyError)
    assert str(UnknownNetwork("unknown network 'x'")) == "unknown network 'x'"


def test_register_and_refuse_duplicates() -> None:
    registry = NetworkRegistry()
    registry.register(NetworkSpec(name="ping", kinds={"ping": Ping}))
    assert registry.names() == ["ping"]
    with pytest.raises(NetworkError, match="already registered"):
        registry.register(NetworkSpec(name="ping", kinds={}))
    assert registry.body_type("ping", "ping") is Ping


def test_registry_copies_the_kinds_map() -> None:
    kinds: dict[str, type] = {"ping": Ping}
    registry = NetworkRegistry([NetworkSpec(name="ping", kinds=kinds)])
    kinds["pong"] = Ping
    with pytest.raises(UnknownKind):
        registry.body_type("ping", "pong")


def test_registries_are_independent() -> None:
    a, b = default_registry(plugins=lambda: []), default_registry(plugins=lambda: [])
    a.register(NetworkSpec(name="ping", kinds={"ping": Ping}))
    assert "ping" not in b


@pytest.mark.parametrize(
    "spec",
    [
        NetworkSpec(name="Bad Name", kinds={}),
        NetworkSpec(name="", kinds={}),
        NetworkSpec(name="ping\n", kinds={}),
        NetworkSpec(name="ok", kinds={"ping\n": Ping}),
        NetworkSpec(name="x" * 33, kinds={}),
        NetworkSpec(name="ok", kinds={"Bad": Ping}),
        NetworkSpec(name="ok", kinds={"ping": int}),
        NetworkSpec(name="ok", kinds={"ping": Ping(n=1)}),  # type: ignore[dict-item]
        "uptime",
    ],
)
def test_invalid_specs_are_refused(spec: object) -> None:
    registry = NetworkRegistry()
    with pytest.raises(NetworkError):
        registry.register(spec)  # type: ignore[arg-type]
    assert registry.names() == []


def _install_plugin(root: Path, module: str, body: str, entry: str) -> None:
    """A real installed distribution on sys.path: a module plus its .dist-info."""
    (root / f"{module}.py").write_text(textwrap.dedent(body))
    dist = root / f"{module}-0.1.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {module}\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text(f"[{ENTRY_POINT_GROUP}]\n{entry}\n")


PLUGIN = """
import msgspec
from depinkit.networks import NetworkSpec

class Reading(msgspec.Struct, frozen=True):
    celsius_milli: int

def network_spec():
    return NetworkSpec(name="weather", kinds={"reading": Reading})
"""


def test_entry_point_plugins_are_discovered(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _install_plugin(
        tmp_path,
        "depinkit_weather_plugin",
        PLUGIN,
        "weather = depinkit_weather_plugin:network_spec",
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    importlib.invalidate_caches()
    registry = default_registry()
    assert "weather" in registry.names() and "uptime" in registry.names()
    assert registry.body_type("weather", "reading").__name__ == "Reading"


def test_entry_point_may_name_a_spec_object(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    body = PLUGIN + "\nSPEC = network_spec()\n"
    _install_plugin(tmp_path, "depinkit_spec_plugin", body, "weather = depinkit_spec_plugin:SPEC")
    monkeypatch.syspath_prepend(str(tmp_path))
    importlib.invalidate_caches()
    assert "weather" in default_registry().names()


@pytest.mark.parametrize(
    ("body", "target", "message"),
    [
        ("raise RuntimeError('boom')\n", "mod:anything", "cannot load"),
        ("def spec():\n    return 42\n", "mod:spec", "did not provide"),
        ("", "mod:missing", "cannot load"),
    ],
)
def test_broken_plugins_name_themselves(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, body: str, target: str, message: str
) -> None:
    module = f"depinkit_broken_{abs(hash((body, target))) % 10**8}"
    (tmp_path / f"{module}.py").write_text(body)
    monkeypatch.syspath_prepend(str(tmp_path))
    ep = EntryPoint(name="broken", value=target.replace("mod", module), group=ENTRY_POINT_GROUP)
    with pytest.raises(NetworkError, match=message):
        default_registry(plugins=lambda: [ep])


def test_plugin_cannot_shadow_a_builtin_network(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    module = "depinkit_shadow_plugin"
    (tmp_path / f"{module}.py").write_text(
        "from depinkit.networks.uptime import network_spec as spec\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    ep = EntryPoint(name="uptime", value=f"{module}:spec", group=ENTRY_POINT_GROUP)
    with pytest.raises(NetworkError, match="already registered"):
        default_registry(plugins=lambda: [ep])
