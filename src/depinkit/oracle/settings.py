"""Oracle settings: a TOML file decoded into a msgspec Struct, then env overrides.

Every knob has a default fit for a local devnet; production sets the database
URL and the report domain (chain id and DeviceRegistry address of the
deployment) explicitly. ``DEPINKIT_ORACLE_<FIELD>`` environment variables
override the file, so a container can be configured without one.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import msgspec

from depinkit.oracle.errors import SettingsError

ENV_PREFIX = "DEPINKIT_ORACLE_"

DEFAULT_MAX_BATCH = 1000  # reports per POST: 1000 x 16 KiB bounds a request body at ~16 MiB
DEFAULT_MAX_FUTURE_MS = 120_000  # 2 min: tolerates device clock skew, refuses pre-dated reports
DEFAULT_MAX_AGE_MS = 86_400_000  # 24 h: an agent offline for a day can still flush its outbox
DEFAULT_PAGE_LIMIT = 100  # reports per listing page unless the client asks for fewer or more
MAX_PAGE_LIMIT = 1000  # reports per listing page at most: bounds one response's size


class OracleSettings(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Everything the ingest service and indexer need to know about their deployment."""

    db_url: str = "sqlite:///oracle.sqlite3"
    host: str = "127.0.0.1"
    port: int = 8500
    chain_id: int = 31337  # anvil's default chain id
    registry: str = "0x0000000000000000000000000000000000000000"
    max_batch: int = DEFAULT_MAX_BATCH
    max_future_ms: int = DEFAULT_MAX_FUTURE_MS
    max_age_ms: int = DEFAULT_MAX_AGE_MS
    rpc_url: str = "http://127.0.0.1:8545"
    confirmations: int = 2  # blocks: a device row follows the chain only once this deep
    max_block_range: int = 2000  # blocks per eth_getLogs call: providers cap ranges/results
    poll_interval_s: float = 2.0

    def __post_init__(self) -> None:
        if self.max_batch < 1:
            raise SettingsError("max_batch must be at least 1")
        if self.max_future_ms < 0 or self.max_age_ms < 0:
            raise SettingsError("timestamp windows must not be negative")
        if self.confirmations < 0 or self.max_block_range < 1:
            raise SettingsError("confirmations >= 0 and max_block_range >= 1 are required")


def load_settings(
    path: Path | None = None,
    *,
    env: Mapping[str, str] | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> OracleSettings:
    """Read ``path`` (TOML, optional), apply env overrides, then explicit overrides."""
    raw: dict[str, Any] = {}
    if path is not None:
        try:
            raw.update(tomllib.loads(path.read_text()))
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise SettingsError(f"cannot read oracle settings {path}: {exc}") from exc
    environ = os.environ if env is None else env
    for field in OracleSettings.__struct_fields__:
        value = environ.get(ENV_PREFIX + field.upper())
        if value is not None:
            raw[field] = value
    if overrides:
        raw.update({k: v for k, v in overrides.items() if v is not None})
    try:
        return msgspec.convert(raw, OracleSettings, strict=False)
    except msgspec.ValidationError as exc:
        raise SettingsError(f"invalid oracle settings: {exc}") from exc
