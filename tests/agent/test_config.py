"""Agent config: TOML into Structs, env overrides, clear errors, a round trip."""

from __future__ import annotations

from pathlib import Path

import pytest

from depinkit.agent.config import load_config, parse_config, render_config
from depinkit.agent.errors import ConfigError

from .conftest import CHAIN_ID, REGISTRY

TOML = f"""
data_dir = "data"
[domain]
chain_id = {CHAIN_ID}
registry = "{REGISTRY}"
[sender]
batch_size = 10
[[oracles]]
name = "a"
url = "http://127.0.0.1:9000"
[[roles]]
name = "uptime"
interval_s = 30
"""


def write(tmp_path: Path, text: str = TOML) -> Path:
    path = tmp_path / "agent.toml"
    path.write_text(text)
    return path


def test_load_resolves_data_dir_against_the_file(tmp_path: Path) -> None:
    config = load_config(write(tmp_path), env={})
    assert Path(config.data_dir) == (tmp_path / "data").resolve()
    assert config.sender.batch_size == 10 and config.sender.max_backoff_ms == 60_000
    assert config.roles[0].interval_s == 30
    assert config.outbox_path.parent == Path(config.data_dir)


def test_env_overrides(tmp_path: Path) -> None:
    env = {
        "DEPINKIT_AGENT_DATA_DIR": str(tmp_path / "elsewhere"),
        "DEPINKIT_AGENT_SENDER_BATCH_SIZE": "64",
        "DEPINKIT_AGENT_DOMAIN_CHAIN_ID": "1",
        "DEPINKIT_AGENT_ORACLES": "x=http://127.0.0.1:1, y=http://127.0.0.1:2",
    }
    config = load_config(write(tmp_path), env=env)
    assert config.data_dir == str((tmp_path / "elsewhere").resolve())
    assert config.sender.batch_size == 64 and config.domain.chain_id == 1
    assert [(o.name, o.url) for o in config.oracles] == [
        ("x", "http://127.0.0.1:1"),
        ("y", "http://127.0.0.1:2"),
    ]


@pytest.mark.parametrize(
    ("text", "env", "match"),
    [
        (TOML.replace("batch_size = 10", "batch_size = 0"), {}, "batch_size"),
        (TOML.replace("batch_size = 10", "batch_sise = 10"), {}, "batch_sise"),
        (TOML + '[[oracles]]\nname = "a"\nurl = "http://x"\n', {}, "unique"),
        (TOML.replace("http://127", "ftp://127"), {}, "http"),
        (TOML, {"DEPINKIT_AGENT_SENDER_BATCH_SIZE": "many"}, "batch_size"),
        (TOML, {"DEPINKIT_AGENT_ORACLES": "nourl"}, "name=url"),
        (TOML.replace("interval_s = 30", "interval_s = 0"), {}, "interval_s"),
        ("data_dir = [", {}, "cannot read"),
    ],
)
def test_bad_config_is_refused(tmp_path: Path, text: str, env: dict[str, str], match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        load_config(write(tmp_path, text), env=env)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no agent config"):
        load_config(tmp_path / "absent.toml", env={})


def test_render_round_trip(tmp_path: Path) -> None:
    config = load_config(write(tmp_path), env={})
    again = parse_config(
        __import__("tomllib").loads(render_config(config)), base_dir=tmp_path, env={}
    )
    assert again == config
