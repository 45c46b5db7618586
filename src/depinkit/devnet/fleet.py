"""What every provider network of the devnet shares: layout, ports, roles, onboarding.

A provider network (storage, compute) runs devices that are each an agent plus a provider
service. This module holds the mechanism; ``devnet/storage.py`` and ``devnet/compute.py``
hold what differs (the role's options, the service's command, the walk-through).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Final

import h3
import msgspec
from eth_account.signers.local import LocalAccount

from depinkit.agent.config import CONFIG_FILENAME, RoleSettings, load_config, render_config
from depinkit.chain import params as P
from depinkit.chain.anvil import free_port
from depinkit.chain.client import dev_account
from depinkit.chain.depin import Depin
from depinkit.chain.registry import DeviceStatus
from depinkit.core.keys import Account

OWNER_GAS_WEI: Final[int] = 10**20  # 100 ETH: gas for years of devnet transactions


def even_splits(buckets: tuple[str, ...]) -> dict[str, int]:
    """A network's emission share split evenly over its buckets; the last takes the rounding."""
    each = P.BPS // len(buckets)
    splits = {b: each for b in buckets[:-1]}
    splits[buckets[-1]] = P.BPS - each * (len(buckets) - 1)
    return splits


@dataclass(frozen=True)
class FleetLayout:
    """Where a provider network keeps its state inside the devnet's data directory."""

    network: ClassVar[str]
    root: Path  # the devnet's data directory

    @property
    def dir(self) -> Path:
        return self.root / self.network

    @property
    def keys_file(self) -> Path:
        return self.dir / "keys.json"

    @property
    def ports_file(self) -> Path:
        return self.dir / "ports.json"

    @property
    def providers_file(self) -> Path:
        return self.dir / "providers.json"

    @property
    def readme(self) -> Path:
        return self.dir / "README.txt"

    def agent_dir(self, index: int) -> Path:
        return self.dir / "agents" / f"provider-{index}"

    @property
    def consumer_home(self) -> Path:  # one consumer pays every network
        return self.root / "consumer"

    @property
    def consumer_keystore(self) -> Path:
        return self.consumer_home / "keystore.json"

    @property
    def consumer_passphrase(self) -> Path:
        return self.consumer_home / "passphrase"


def provider_ports(layout: FleetLayout, count: int) -> list[int]:
    """Fixed at creation (the agents' configs name the URLs); grown on demand when a later
    run asks for more providers."""
    ports: list[int] = []
    if layout.ports_file.exists():
        ports = json.loads(layout.ports_file.read_text(encoding="utf-8"))
    if len(ports) < count:
        ports += [free_port() for _ in range(count - len(ports))]
        layout.ports_file.parent.mkdir(parents=True, exist_ok=True)
        layout.ports_file.write_text(json.dumps(ports), encoding="utf-8")
    return ports


def set_role(agent_dir: Path, name: str, interval_s: float, options: dict[str, Any]) -> None:
    """Replace the roles `agent init` wrote with the network's role and its options."""
    path = agent_dir / CONFIG_FILENAME
    config = load_config(path)
    roles = [RoleSettings(name=name, interval_s=interval_s, options=options)]
    config = msgspec.structs.replace(config, roles=roles)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(render_config(config), encoding="utf-8")
    tmp.replace(path)


def role_configured(agent_dir: Path, name: str) -> bool:
    config = load_config(agent_dir / CONFIG_FILENAME)
    return any(r.name == name and r.options for r in config.roles)


def onboard(
    depin: Depin, owner: LocalAccount, device: Account, network: str, cell: str, per_owner: int
) -> bool:
    """Onboard ``device`` on ``network`` unless it already is; True if a transaction went."""
    if depin.registry.device(device.address).status in (
        DeviceStatus.ACTIVE,
        DeviceStatus.UNBONDING,
    ):
        return False
    chain = depin.chain
    stake = depin.params.get_network(network, P.NET_STAKE)
    if chain.balance(owner.address) < OWNER_GAS_WEI // 10:
        chain.fund(owner.address, OWNER_GAS_WEI)
    if depin.token.balance_of(owner.address) < stake:
        depin.token.transfer(dev_account(), owner.address, stake * per_owner)
    depin.registry.onboard(owner, device, network, h3.str_to_int(cell))
    return True


def write_json(path: Path, value: Any) -> None:
    """``value`` as indented JSON, replacing ``path`` atomically."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(value, indent=2) + "\n", encoding="utf-8")
    tmp.replace(path)


def shown(path: Path, relative: bool) -> str:
    """``path`` relative to the working directory when inside it and ``relative``."""
    if relative and path.is_relative_to(Path.cwd()):
        return str(path.relative_to(Path.cwd()))
    return str(path)
