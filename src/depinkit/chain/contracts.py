"""Compiled contract artifacts shipped inside the package (``depinkit/chain/artifacts``).

``make contracts`` writes one JSON file per contract with at least its ABI and creation
bytecode. Reading happens on demand, never at import time, so the package imports even
before the contracts are built.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from importlib import resources
from typing import Any, Final

from depinkit.chain.errors import ArtifactMissing

CONTRACT_NAMES: Final[tuple[str, ...]] = (
    "Parameters",
    "OracleSet",
    "DepinToken",
    "DeviceRegistry",
    "RewardsDistributor",
    "Credits",
    "HexBoosts",
    "TimelockController",
    "DepinGovernor",
)


@dataclass(frozen=True)
class Artifact:
    """ABI and creation bytecode of one contract."""

    name: str
    abi: list[dict[str, Any]]
    bytecode: str  # 0x hex creation code


def _bytecode_of(doc: dict[str, Any]) -> str:
    for candidate in (
        doc.get("bytecode"),
        doc.get("evm", {}).get("bytecode"),
    ):
        if isinstance(candidate, dict):
            candidate = candidate.get("object")
        if isinstance(candidate, str) and candidate:
            return candidate if candidate.startswith("0x") else "0x" + candidate
    return "0x"


def load_artifact(name: str) -> Artifact:
    """The artifact of contract ``name``; ArtifactMissing when it has not been built."""
    path = resources.files("depinkit.chain").joinpath("artifacts", f"{name}.json")
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ArtifactMissing(f"no compiled artifact for {name}: run `make contracts`") from None
    except (OSError, ValueError) as exc:
        raise ArtifactMissing(f"unreadable artifact for {name}: {exc}") from exc
    abi = doc.get("abi")
    if not isinstance(abi, list):
        raise ArtifactMissing(f"artifact for {name} has no ABI")
    return Artifact(name=name, abi=abi, bytecode=_bytecode_of(doc))


def load_all() -> dict[str, Artifact]:
    """Artifacts of every contract depinkit deploys."""
    return {name: load_artifact(name) for name in CONTRACT_NAMES}
