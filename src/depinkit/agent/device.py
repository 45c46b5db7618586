"""The device's identity on disk: its keystore, passphrase and config file.

A device runs unattended, so by default its keystore passphrase is a random
secret in a 0600 file next to the keystore: the keystore still protects the
key when the data directory is copied off the device without that file. An
operator who prefers to inject the passphrase sets ``DEPINKIT_AGENT_PASSPHRASE``
instead, and no passphrase file is written.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Mapping
from pathlib import Path

import msgspec

from depinkit.agent.config import (
    CONFIG_FILENAME,
    PASSPHRASE_ENV,
    AgentConfig,
    load_config,
    render_config,
)
from depinkit.agent.errors import ConfigError
from depinkit.core.keys import Account, load_keystore, save_keystore

SECRET_MODE = 0o600  # owner read/write only: the file unlocks the device key
PASSPHRASE_BYTES = 32  # 256 bits of randomness, URL-safe base64 in the file


def create_device(
    data_dir: Path,
    config: AgentConfig,
    *,
    passphrase: str | None = None,
    kdf_iterations: int | None = None,
) -> Account:
    """Write a new key, its passphrase (unless given) and the config into ``data_dir``.

    Refuses when a device already lives there: overwriting a key would orphan
    the device registered on chain and its rewards.
    """
    data_dir.mkdir(parents=True, exist_ok=True)
    config_file = data_dir / CONFIG_FILENAME
    keystore = data_dir / config.device.keystore
    if config_file.exists() or keystore.exists():
        raise ConfigError(f"{data_dir} already holds a device; refusing to overwrite it")
    if passphrase is None:
        passphrase = secrets.token_urlsafe(PASSPHRASE_BYTES)
        secret = data_dir / config.device.passphrase_file
        fd = os.open(secret, os.O_WRONLY | os.O_CREAT | os.O_EXCL, SECRET_MODE)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(passphrase + "\n")
    else:
        config = msgspec.structs.replace(
            config, device=msgspec.structs.replace(config.device, passphrase_file="")
        )
    account = Account.generate()
    save_keystore(account, keystore, passphrase, iterations=kdf_iterations)
    config_file.write_text(render_config(config), encoding="utf-8")
    load_config(config_file, env={})  # what we wrote must load
    return account


def device_passphrase(config: AgentConfig, env: Mapping[str, str] | None = None) -> str:
    """The keystore passphrase: from the configured file, else the environment."""
    if config.device.passphrase_file:
        file = config.data_path(config.device.passphrase_file)
        try:
            return file.read_text(encoding="utf-8").rstrip("\n")
        except OSError as exc:
            raise ConfigError(f"cannot read passphrase file {file}: {exc}") from exc
    value = (os.environ if env is None else env).get(PASSPHRASE_ENV)
    if value is None:
        raise ConfigError(f"no passphrase: set {PASSPHRASE_ENV} or device.passphrase_file")
    return value


def load_device(config: AgentConfig, env: Mapping[str, str] | None = None) -> Account:
    """Unlock the device key named by ``config`` (KeystoreError on a wrong passphrase)."""
    return load_keystore(config.data_path(config.device.keystore), device_passphrase(config, env))
