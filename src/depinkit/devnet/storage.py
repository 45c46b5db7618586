"""The devnet's storage network: provider devices, their piece stores, and a paying consumer.

Opt-in (`depinkit devnet --storage-providers N`). Each provider is a device onboarded on the
`storage` network with an H3 cell of its own, run as two processes under the devnet's
supervisor, as an operator runs them: the provider service
(`python -m depinkit.networks.storage.provider`) that stores and serves pieces, and the
device's agent (`depinkit agent run`) whose `storage` role reports capacity, deals, proofs
and receipts from the provider's directory. A consumer account buys credits on chain at
set-up (DPK from the deployer, burned at a token price the devnet's oracles sign), so
`depinkit store put/get/pay` work against the devnet with the commands in
`storage/README.txt`.

Everything lives under the devnet's data directory (``storage/`` and ``consumer/``): keys,
fixed ports and the providers' pieces, so the next run resumes the same providers.
"""

from __future__ import annotations

import json
import os
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar, Final

from eth_account import Account as EthAccount
from eth_account.signers.local import LocalAccount

from depinkit.chain import eip712
from depinkit.chain.client import dev_account
from depinkit.chain.depin import Depin
from depinkit.chain.deploy import TOKEN, NetworkConfig
from depinkit.core.keys import Account, load_keystore, save_keystore
from depinkit.devnet.fleet import (
    FleetLayout,
    even_splits,
    onboard,
    set_role,
    shown,
    write_json,
)
from depinkit.devnet.layout import DEVNET_FILE_MODE
from depinkit.networks.storage.module import StorageModule

STORAGE: Final[str] = "storage"  # the network's name on chain and in the oracles' manifests
STORAGE_WEIGHT_BPS: Final[int] = 5_000  # bps of each epoch's emission: storage and uptime halve
STORAGE_CELL_OFFSET: Final[int] = 50  # grid index of provider 0: rows 10+ of the device grid
ROLE_INTERVAL_S: Final[float] = 5.0  # storage role runs: proofs go out within 5 s of a beacon
CONSUMER_TOKENS: Final[int] = 100 * TOKEN  # DPK the consumer burns for credits at set-up
TOKEN_PRICE_USD_E8: Final[int] = 100_000_000  # USD 1 per DPK, the price the oracles sign
# 100 DPK at USD 1 and USD 0.01 per credit: 10,000 credits (1e13 nanocredits), far more
# than a devnet's files cost at the governed prices (5000 nanocredits per GiB-epoch).
CONSUMER_GAS_WEI: Final[int] = 10**19  # 10 ETH: approve and buyCredits
SCRYPT_N: Final[int] = 2**14  # the consumer's keystore: devnet-light, as the devices' keys


def storage_network(epoch_length_s: int) -> NetworkConfig:
    """The storage network's initial configuration: half the emission, split evenly.

    Its buckets (capacity, usage, repair) come from the module; the last takes the rounding.
    Every storage parameter counts epochs, not seconds, so short devnet epochs need none.
    """
    del epoch_length_s  # kept in the signature: short-epoch parameters would go here
    # Every module parameter is written: the chain returns 0 for a key never set, and the
    # oracles take that 0 for a parameter whose minimum is 0 rather than its default.
    parameters = {spec.name: spec.default for spec in StorageModule.parameters}
    return NetworkConfig(
        name=STORAGE,
        weight_bps=STORAGE_WEIGHT_BPS,
        splits=even_splits(StorageModule.buckets),
        parameters=dict(sorted(parameters.items())),
    )


def provider_cell(index: int) -> str:
    """Providers continue the devnet's device grid, rows apart from the uptime devices."""
    from depinkit.devnet.network import device_cell

    return device_cell(STORAGE_CELL_OFFSET + index)


@dataclass(frozen=True)
class StorageLayout(FleetLayout):
    """The storage network's state (``storage/``), with each provider's piece store."""

    network: ClassVar[str] = STORAGE

    def pieces_dir(self, index: int) -> Path:
        return self.dir / "pieces" / f"provider-{index}"

    def key_file(self, index: int) -> Path:
        return self.dir / "pieces" / f"provider-{index}.key"


@dataclass(frozen=True)
class StorageKeys:
    """The providers' owners (one per ``per_owner`` providers); local devnet keys only."""

    owners: tuple[Account, ...]

    @classmethod
    def load_or_create(cls, path: Path, owners: int) -> StorageKeys:
        known: list[Account] = []
        if path.exists():
            doc = json.loads(path.read_text(encoding="utf-8"))
            known = [Account.from_key(k) for k in doc["owners"]]
            if len(known) >= owners:
                return cls(owners=tuple(known))
        keys = cls(owners=(*known, *(Account.generate() for _ in range(owners - len(known)))))
        path.parent.mkdir(parents=True, exist_ok=True)
        doc = {
            "warning": "devnet keys: never use them on a real chain",
            "owners": [a.private_key.hex() for a in keys.owners],
        }
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(doc, indent=2), encoding="utf-8")
        tmp.chmod(DEVNET_FILE_MODE)
        tmp.replace(path)
        return keys


def add_role_options(agent_dir: Path, pieces: Path, url: str) -> None:
    """Give the `storage` role `agent init` wrote its options: the piece store and URL."""
    set_role(agent_dir, STORAGE, ROLE_INTERVAL_S, {"data_dir": str(pieces), "url": url})


def onboard_provider(
    depin: Depin, owner: LocalAccount, device: Account, index: int, per_owner: int
) -> bool:
    """Onboard ``device`` on the storage network unless it already is; True if sent."""
    return onboard(depin, owner, device, STORAGE, provider_cell(index), per_owner)


def ensure_consumer(depin: Depin, layout: StorageLayout, oracles: tuple[Account, ...]) -> str:
    """The consumer's keystore and passphrase file, and credits bought on chain once.

    The deployer sends the consumer DPK and gas; the consumer burns the DPK in
    ``Credits.buyCredits`` at a token price every devnet oracle signs (a quorum of them).
    """
    home = layout.consumer_home
    home.mkdir(parents=True, exist_ok=True)
    if layout.consumer_keystore.exists():
        passphrase = layout.consumer_passphrase.read_text(encoding="utf-8").strip()
        consumer = load_keystore(layout.consumer_keystore, passphrase)
    else:
        consumer = Account.generate()
        passphrase = secrets.token_urlsafe(24)
        _write_private(layout.consumer_passphrase, passphrase + "\n")
        save_keystore(consumer, layout.consumer_keystore, passphrase, iterations=SCRYPT_N)
    if depin.credits.credits_of(consumer.address) > 0:
        return consumer.address
    chain = depin.chain
    if chain.balance(consumer.address) < CONSUMER_GAS_WEI // 10:
        chain.fund(consumer.address, CONSUMER_GAS_WEI)
    if depin.token.balance_of(consumer.address) < CONSUMER_TOKENS:
        depin.token.transfer(dev_account(), consumer.address, CONSUMER_TOKENS)
    timestamp = chain.now()
    digest = depin.credits.price_digest(TOKEN_PRICE_USD_E8, timestamp)
    signatures = eip712.quorum_signatures(oracles, digest)
    buyer = _local(consumer)
    depin.credits.buy(buyer, CONSUMER_TOKENS, TOKEN_PRICE_USD_E8, timestamp, signatures)
    return consumer.address


def write_providers(layout: StorageLayout, providers: list[dict[str, str]]) -> None:
    """`providers.json` as `depinkit store` reads it, in storage/ and the consumer's home."""
    for path in (layout.providers_file, layout.consumer_home / "providers.json"):
        write_json(path, providers)


def store_commands(
    layout: StorageLayout,
    *,
    chain_id: int,
    registry: str,
    genesis_ms: int,
    epoch_s: int,
    relative: bool = True,
) -> list[str]:
    """The `depinkit store` walk-through against this devnet; paths relative to the working
    directory when inside it (``relative``), else absolute."""

    def _shown(path: Path) -> str:
        return shown(path, relative)

    home = _shown(layout.consumer_home)
    common = (
        f"--home {home} --keystore {_shown(layout.consumer_keystore)} "
        f"--passphrase-file {_shown(layout.consumer_passphrase)} "
        f"--providers {_shown(layout.providers_file)} "
        f"--chain-id {chain_id} --registry {registry}"
    )
    clock = f"--genesis-ms {genesis_ms} --epoch-s {epoch_s}"
    return [
        f"depinkit store put FILE {common} {clock}",
        f"depinkit store ls --home {home} --keystore {_shown(layout.consumer_keystore)} "
        f"--passphrase-file {_shown(layout.consumer_passphrase)}",
        f"depinkit store get FILE --out COPY {common}",
        f"depinkit store pay FILE {common} {clock}",
    ]


def write_readme(layout: StorageLayout, commands: list[str]) -> None:
    lines = [
        "# The devnet's storage network: put, list, get and pay for a file as its consumer.",
        "# The consumer bought credits on chain at set-up; `pay` sends receipts for storage",
        "# through the current epoch and for egress (run it once per epoch).",
        *commands,
        "",
    ]
    layout.readme.write_text("\n".join(lines), encoding="utf-8")


def _write_private(path: Path, text: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, DEVNET_FILE_MODE)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(text)


def _local(account: Account) -> LocalAccount:
    return EthAccount.from_key(account.private_key)


__all__ = [
    "STORAGE",
    "StorageKeys",
    "StorageLayout",
    "add_role_options",
    "ensure_consumer",
    "onboard_provider",
    "provider_cell",
    "storage_network",
    "store_commands",
    "write_providers",
    "write_readme",
]
