"""Oracle settings: TOML file, env overrides, explicit overrides, validation."""

from __future__ import annotations

from pathlib import Path

import pytest

from depinkit.oracle.errors import SettingsError
from depinkit.oracle.settings import OracleSettings, load_settings


def test_defaults_file_env_and_overrides_in_that_order(tmp_path: Path) -> None:
    assert load_settings(env={}) == OracleSettings()
    config = tmp_path / "oracle.toml"
    config.write_text('db_url = "sqlite:///a.db"\nport = 9000\nmax_batch = 10\n')
    env = {"DEPINKIT_ORACLE_PORT": "9100", "DEPINKIT_ORACLE_CONFIRMATIONS": "5"}
    settings = load_settings(config, env=env, overrides={"db_url": "sqlite:///b.db", "host": None})
    assert settings.db_url == "sqlite:///b.db"
    assert settings.port == 9100
    assert settings.confirmations == 5
    assert settings.max_batch == 10
    assert settings.host == "127.0.0.1"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("max_batch = 0\n", "max_batch"),
        ("port = 'eighty'\n", "invalid oracle settings"),
        ("no_such_knob = 1\n", "invalid oracle settings"),
        ("port = \n", "cannot read"),
    ],
)
def test_bad_settings_are_refused(tmp_path: Path, text: str, message: str) -> None:
    config = tmp_path / "oracle.toml"
    config.write_text(text)
    with pytest.raises(SettingsError, match=message):
        load_settings(config, env={})
