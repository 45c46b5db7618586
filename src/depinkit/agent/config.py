"""Agent configuration: a TOML file decoded into msgspec Structs.

Why a typed file rather than flags: a device runs unattended for months, so
everything it needs (which oracles, which roles, how hard to retry) sits in one
reviewable file next to its data directory. Environment variables override any
scalar setting, which is how containers and systemd units customise a shared
file:

* ``DEPINKIT_AGENT_DATA_DIR`` overrides the top-level ``data_dir``;
* ``DEPINKIT_AGENT_<TABLE>_<FIELD>`` overrides ``[table] field``, e.g.
  ``DEPINKIT_AGENT_SENDER_BATCH_SIZE=64`` or ``DEPINKIT_AGENT_DOMAIN_CHAIN_ID=1``;
* ``DEPINKIT_AGENT_ORACLES="a=http://10.0.0.1:8080,b=http://10.0.0.2:8080"``
  replaces the whole ``[[oracles]]`` list.

Relative paths in the file are relative to the data directory, and a relative
``data_dir`` is relative to the directory holding the config file, so a device
directory can be moved as a whole.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import msgspec

from depinkit.agent.errors import ConfigError

ENV_PREFIX = "DEPINKIT_AGENT_"
CONFIG_FILENAME = "agent.toml"  # what `depinkit agent init` writes into the data directory
PASSPHRASE_ENV = "DEPINKIT_AGENT_PASSPHRASE"  # the keystore passphrase, when no file is configured


class DeviceSettings(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """Where the device key lives and how to unlock it."""

    keystore: str = "device.json"
    passphrase_file: str = "passphrase"  # empty: read PASSPHRASE_ENV instead


class DomainSettings(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """The deployment reports are signed for; must equal every oracle's domain."""

    chain_id: int
    registry: str


class EpochSettings(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """How the agent labels reports with an epoch number (the oracles re-check it)."""

    genesis_ms: int = 0  # unix ms at which epoch 0 starts
    length_s: int = 3600  # 1 hour: the default reward period


class OracleEndpoint(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """One ingest service; every report goes to every configured oracle."""

    name: str
    url: str  # base URL; reports go to ``{url}/v1/reports``


class SenderSettings(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """Delivery tuning: batching and the exponential backoff after failures."""

    batch_size: int = 256  # reports per POST: 256 x ~200 B stays far below any body limit
    initial_backoff_ms: int = 500  # first retry delay after a transient failure
    max_backoff_ms: int = 60_000  # 1 min cap: an oracle back from an outage is found quickly
    request_timeout_s: float = 10.0  # one POST, connect included
    idle_poll_s: float = 1.0  # how long the runtime sleeps when nothing is due at all


class OutboxSettings(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """How long delivered reports stay in the outbox (for `status` and audits)."""

    retention_s: int = 7 * 86_400  # a week; reports still pending anywhere are never pruned
    prune_interval_s: float = 3600.0  # how often the runtime prunes


class MetricsSettings(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """Prometheus exposition: a textfile (node_exporter collector) and/or a port."""

    textfile: str = "metrics.prom"  # relative to data_dir; empty disables
    port: int = 0  # 0 disables the HTTP endpoint
    host: str = "127.0.0.1"
    interval_s: float = 5.0  # how often the textfile is rewritten


class RoleSettings(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """One role to run; ``options`` are passed to the role's factory."""

    name: str
    interval_s: float = 60.0
    options: dict[str, Any] = msgspec.field(default_factory=dict)


class AgentConfig(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """The whole agent configuration."""

    data_dir: str
    domain: DomainSettings
    oracles: list[OracleEndpoint] = msgspec.field(default_factory=list)
    device: DeviceSettings = msgspec.field(default_factory=DeviceSettings)
    epoch: EpochSettings = msgspec.field(default_factory=EpochSettings)
    sender: SenderSettings = msgspec.field(default_factory=SenderSettings)
    outbox: OutboxSettings = msgspec.field(default_factory=OutboxSettings)
    metrics: MetricsSettings = msgspec.field(default_factory=MetricsSettings)
    roles: list[RoleSettings] = msgspec.field(default_factory=list)

    def data_path(self, relative: str) -> Path:
        """Resolve a path from the config against the data directory."""
        path = Path(relative)
        return path if path.is_absolute() else Path(self.data_dir) / path

    @property
    def outbox_path(self) -> Path:
        return Path(self.data_dir) / "outbox.sqlite3"


def _apply_env(raw: dict[str, Any], env: Mapping[str, str]) -> dict[str, Any]:
    """Overlay ``DEPINKIT_AGENT_*`` variables onto the decoded TOML tables."""
    merged = dict(raw)
    if (value := env.get(ENV_PREFIX + "DATA_DIR")) is not None:
        merged["data_dir"] = value
    if (value := env.get(ENV_PREFIX + "ORACLES")) is not None:
        merged["oracles"] = _parse_oracle_list(value)
    for table, struct_type in (
        ("device", DeviceSettings),
        ("domain", DomainSettings),
        ("epoch", EpochSettings),
        ("sender", SenderSettings),
        ("outbox", OutboxSettings),
        ("metrics", MetricsSettings),
    ):
        section = dict(merged.get(table) or {})
        for field in msgspec.structs.fields(struct_type):
            name = f"{ENV_PREFIX}{table.upper()}_{field.name.upper()}"
            if name in env:
                section[field.name] = env[name]
        if section:
            merged[table] = section
    return merged


def _parse_oracle_list(value: str) -> list[dict[str, str]]:
    oracles = []
    for item in filter(None, (part.strip() for part in value.split(","))):
        name, sep, url = item.partition("=")
        if not sep or not name or not url:
            raise ConfigError(f"{ENV_PREFIX}ORACLES entries must be name=url, got {item!r}")
        oracles.append({"name": name.strip(), "url": url.strip()})
    return oracles


def _validate(config: AgentConfig) -> None:
    names = [oracle.name for oracle in config.oracles]
    if len(set(names)) != len(names):
        raise ConfigError(f"oracle names must be unique, got {names}")
    for oracle in config.oracles:
        if not oracle.url.startswith(("http://", "https://")):
            raise ConfigError(f"oracle {oracle.name!r}: url must be http(s), got {oracle.url!r}")
    sender = config.sender
    if sender.batch_size < 1:
        raise ConfigError("sender.batch_size must be at least 1")
    if not 0 < sender.initial_backoff_ms <= sender.max_backoff_ms:
        raise ConfigError("need 0 < sender.initial_backoff_ms <= sender.max_backoff_ms")
    if sender.request_timeout_s <= 0 or sender.idle_poll_s <= 0:
        raise ConfigError("sender timeouts must be positive")
    if config.outbox.retention_s < 0 or config.outbox.prune_interval_s <= 0:
        raise ConfigError("outbox.retention_s must be >= 0 and prune_interval_s positive")
    if config.epoch.length_s <= 0:
        raise ConfigError("epoch.length_s must be positive")
    role_names = [role.name for role in config.roles]
    if len(set(role_names)) != len(role_names):
        raise ConfigError(f"role names must be unique, got {role_names}")
    for role in config.roles:
        if role.interval_s <= 0:
            raise ConfigError(f"role {role.name!r}: interval_s must be positive")


def parse_config(
    raw: Mapping[str, Any], *, base_dir: Path, env: Mapping[str, str] | None = None
) -> AgentConfig:
    """Build an :class:`AgentConfig` from decoded TOML, overrides and a base directory."""
    merged = _apply_env(dict(raw), os.environ if env is None else env)
    try:
        config = msgspec.convert(merged, AgentConfig, strict=False)
    except msgspec.ValidationError as exc:
        raise ConfigError(f"invalid agent config: {exc}") from exc
    data_dir = Path(config.data_dir)
    if not data_dir.is_absolute():
        data_dir = base_dir / data_dir
    config = msgspec.structs.replace(config, data_dir=str(data_dir.resolve()))
    _validate(config)
    return config


def load_config(path: Path, env: Mapping[str, str] | None = None) -> AgentConfig:
    """Read and validate the agent config at ``path``; ConfigError on any problem."""
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise ConfigError(f"no agent config at {path}") from exc
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"cannot read agent config {path}: {exc}") from exc
    return parse_config(raw, base_dir=path.resolve().parent, env=env)


def render_config(config: AgentConfig) -> str:
    """TOML text for ``config`` (what ``depinkit agent init`` writes)."""
    lines = [
        "# depinkit device agent configuration (see `depinkit agent --help`).",
        "# Every scalar can be overridden with DEPINKIT_AGENT_<TABLE>_<FIELD>.",
        f"data_dir = {_toml_str(config.data_dir)}",
        "",
    ]
    for table in ("device", "domain", "epoch", "sender", "outbox", "metrics"):
        lines.append(f"[{table}]")
        section = getattr(config, table)
        for field in msgspec.structs.fields(section):
            lines.append(f"{field.name} = {_toml_value(getattr(section, field.name))}")
        lines.append("")
    for oracle in config.oracles:
        lines += [
            "[[oracles]]",
            f"name = {_toml_str(oracle.name)}",
            f"url = {_toml_str(oracle.url)}",
            "",
        ]
    for role in config.roles:
        lines += [
            "[[roles]]",
            f"name = {_toml_str(role.name)}",
            f"interval_s = {role.interval_s!r}",
        ]
        if role.options:
            lines.append("[roles.options]")
            lines += [
                f"{key} = {_toml_value(value)}" for key, value in sorted(role.options.items())
            ]
        lines.append("")
    return "\n".join(lines)


def _toml_str(value: str) -> str:
    return msgspec.json.encode(value).decode()  # a JSON string is a valid TOML basic string


def _toml_value(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        return _toml_str(value)
    raise ConfigError(f"cannot write {value!r} to TOML")
