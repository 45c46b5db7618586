"""The committed contract artifacts match contracts/ and the pinned compiler.

`node scripts/build_contracts.mjs` stamps every artifact with a sourceHash over the compiler
version, the solc settings and the sha256 of every source unit it read (ours and
OpenZeppelin's), and lists those inputs in build-info.json. The fast tests recompute that hash
from the working tree without node, so an edited .sol file, a new one, a different OpenZeppelin
or solc version fails here until the artifacts are rebuilt. The slow test rebuilds into a
temporary directory and demands byte-identical output, which also proves the build is
deterministic.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
from pathlib import Path
from typing import Any, Final

import pytest

ROOT: Final[Path] = Path(__file__).resolve().parents[2]
ARTIFACTS: Final[Path] = ROOT / "src" / "depinkit" / "chain" / "artifacts"
NODE_MODULES: Final[Path] = ROOT / "node_modules"
BUILD_SCRIPT: Final[Path] = ROOT / "scripts" / "build_contracts.mjs"
CONTRACTS: Final[tuple[str, ...]] = (
    "Parameters",
    "OracleSet",
    "DepinToken",
    "DeviceRegistry",
    "RewardsDistributor",
    "Credits",
    "HexBoosts",
    "DepinGovernor",
    "TimelockController",
)
ARTIFACT_KEYS: Final[set[str]] = {
    "contractName",
    "abi",
    "bytecode",
    "deployedBytecode",
    "sourceHash",
}
EIP170_CODE_LIMIT: Final[int] = 24_576  # bytes of deployed code a chain accepts (EIP-170)

needs_toolchain = pytest.mark.skipif(
    not (NODE_MODULES / "solc").is_dir() or shutil.which("node") is None,
    reason="node and the pinned npm toolchain (npm ci) are needed to check against sources",
)


def _build_info() -> dict[str, Any]:
    return json.loads((ARTIFACTS / "build-info.json").read_text(encoding="utf-8"))


def _artifact(name: str) -> dict[str, Any]:
    return json.loads((ARTIFACTS / f"{name}.json").read_text(encoding="utf-8"))


def _source_path(unit: str) -> Path:
    return ROOT / unit if unit.startswith("contracts/") else NODE_MODULES / unit


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _source_hash(compiler: str, settings: dict[str, Any], sources: dict[str, str]) -> str:
    canonical = json.dumps(
        {"compiler": compiler, "settings": settings, "sources": sources},
        sort_keys=True,
        separators=(",", ":"),
    )
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


@pytest.mark.parametrize("name", CONTRACTS)
def test_artifact_has_the_agreed_shape(name: str) -> None:
    artifact = _artifact(name)
    assert set(artifact) == ARTIFACT_KEYS
    assert artifact["contractName"] == name
    assert artifact["bytecode"].startswith("0x") and len(artifact["bytecode"]) > 2
    deployed = bytes.fromhex(artifact["deployedBytecode"][2:])
    assert 0 < len(deployed) <= EIP170_CODE_LIMIT
    assert artifact["sourceHash"] == _build_info()["sourceHash"]


@pytest.mark.parametrize("name", CONTRACTS)
def test_artifact_names_no_path_of_the_build_machine(name: str) -> None:
    text = (ARTIFACTS / f"{name}.json").read_text(encoding="utf-8")
    assert str(ROOT) not in text
    assert str(Path.home()) not in text


def test_build_settings_are_the_agreed_ones() -> None:
    settings = _build_info()["settings"]
    assert settings["evmVersion"] == "cancun"
    assert settings["optimizer"] == {"enabled": True, "runs": 200}
    assert not settings.get("viaIR", False)


def test_source_hash_is_reproducible_from_build_info() -> None:
    info = _build_info()
    assert _source_hash(info["compiler"], info["settings"], info["sources"]) == info["sourceHash"]


@needs_toolchain
def test_compiler_is_the_pinned_solc() -> None:
    package = json.loads((NODE_MODULES / "solc" / "package.json").read_text(encoding="utf-8"))
    assert _build_info()["compiler"].startswith(package["version"] + "+")


@needs_toolchain
def test_every_contract_source_was_compiled() -> None:
    compiled = set(_build_info()["sources"])
    ours = {f"contracts/{p.name}" for p in (ROOT / "contracts").glob("*.sol")}
    missing = ours - compiled
    assert not missing, f"not in the artifacts, run `node scripts/build_contracts.mjs`: {missing}"


@needs_toolchain
def test_artifacts_are_fresh_against_sources() -> None:
    info = _build_info()
    stale = [
        unit
        for unit, digest in info["sources"].items()
        if not _source_path(unit).is_file() or _sha256(_source_path(unit)) != digest
    ]
    assert not stale, f"artifacts are stale, run `node scripts/build_contracts.mjs`: {stale}"


@pytest.mark.slow
@needs_toolchain
def test_rebuild_is_byte_identical(tmp_path: Path) -> None:
    subprocess.run(
        ["node", str(BUILD_SCRIPT), "--out", str(tmp_path)],
        cwd=ROOT,
        check=True,
        capture_output=True,
        timeout=300,
    )
    built = sorted(p.name for p in tmp_path.glob("*.json"))
    committed = sorted(p.name for p in ARTIFACTS.glob("*.json"))
    assert built == committed
    for name in built:
        assert (tmp_path / name).read_bytes() == (ARTIFACTS / name).read_bytes(), name
