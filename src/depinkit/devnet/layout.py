"""Where a devnet keeps its state, and the keys it made for itself.

Everything lives under one data directory, so running `depinkit devnet` again
resumes the same network: anvil's chain state, the deployment manifest, the
owner and oracle keys, each oracle's store and each device's agent directory.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

from depinkit.core.keys import Account

DEVNET_FILE_MODE = 0o600  # keys of a local devnet: private to the user who started it


@dataclass(frozen=True)
class Layout:
    root: Path

    @property
    def anvil_state(self) -> Path:
        return self.root / "anvil-state.json"

    @property
    def manifest(self) -> Path:
        return self.root / "deployment.json"

    @property
    def keys_file(self) -> Path:
        return self.root / "keys.json"

    @property
    def logs(self) -> Path:
        return self.root / "logs"

    def oracle_dir(self, index: int) -> Path:
        return self.root / "oracles" / f"oracle-{index}"

    def agent_dir(self, index: int) -> Path:
        return self.root / "agents" / f"device-{index}"

    def sqlite_url(self, index: int) -> str:
        return f"sqlite:///{self.oracle_dir(index) / 'oracle.db'}"


@dataclass(frozen=True)
class DevnetKeys:
    """The owner and oracle keys of one devnet (plain hex: local use only).

    The deployer is anvil's first development account, funded at genesis.
    """

    owners: tuple[Account, ...]
    oracles: tuple[Account, ...]

    @classmethod
    def create(cls, owners: int, oracles: int) -> DevnetKeys:
        return cls(
            owners=tuple(Account.generate() for _ in range(owners)),
            oracles=tuple(Account.generate() for _ in range(oracles)),
        )

    def save(self, path: Path) -> None:
        doc = {
            "warning": "devnet keys: never use them on a real chain",
            "owners": [a.private_key.hex() for a in self.owners],
            "oracles": [a.private_key.hex() for a in self.oracles],
        }
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, DEVNET_FILE_MODE)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(doc, fh, indent=2)

    @classmethod
    def load(cls, path: Path) -> DevnetKeys:
        doc = json.loads(path.read_text(encoding="utf-8"))
        return cls(
            owners=tuple(Account.from_key(k) for k in doc["owners"]),
            oracles=tuple(Account.from_key(k) for k in doc["oracles"]),
        )
