"""A complete local network: anvil, the contracts, oracles and device agents.

Every component runs as its own process on loopback, started through the same
commands an operator uses (`depinkit oracle serve`, `depinkit oracle index`,
`depinkit agent run`), so the devnet exercises the production paths. The first
run deploys and onboards; later runs find the manifest, the keys and anvil's
persisted state in the data directory and resume the same network.
"""

from __future__ import annotations

import functools
import json
import os
import secrets
import sys
from dataclasses import dataclass, field
from pathlib import Path

import h3
import httpx
import msgspec
from eth_account import Account as EthAccount
from eth_account.signers.local import LocalAccount
from eth_utils import to_checksum_address
from sqlalchemy import func, select

from depinkit.agent.config import CONFIG_FILENAME, load_config
from depinkit.agent.outbox import Outbox
from depinkit.chain import params as P
from depinkit.chain.anvil import Anvil, free_port
from depinkit.chain.client import Chain, dev_account
from depinkit.chain.depin import Depin
from depinkit.chain.deploy import DeployConfig, Deployment, NetworkConfig, deploy
from depinkit.chain.registry import DeviceStatus
from depinkit.cli.claim import claim_from_oracle, fetch_claim
from depinkit.core.errors import DepinkitError
from depinkit.core.keys import Account, load_keystore, save_keystore
from depinkit.devnet import compute as cp
from depinkit.devnet import coverage as cv
from depinkit.devnet import defaults, fleet
from depinkit.devnet import storage as st
from depinkit.devnet.layout import DevnetKeys, Layout
from depinkit.devnet.supervisor import Child, Supervisor
from depinkit.networks.uptime import SLOT_S
from depinkit.oracle.rewards import decode_manifest_json
from depinkit.oracle.store import Store
from depinkit.oracle.store.schema import reports as reports_table

NETWORK = "uptime"  # the reference network every devnet device joins
BLOCK_TIME_S = 1  # epochs start at a block, so blocks must come without transactions
# --mixed-mining: a transaction is mined at once (set-up takes seconds), and a block still
# comes every BLOCK_TIME_S without any.
STATE_DUMP_INTERVAL_S = 5  # anvil writes its state this often, not only on a clean exit
DEVICES_PER_OWNER = 3  # several devices per owner, as real fleets have
OWNER_GAS_WEI = 10**20  # 100 ETH each: plenty for years of devnet transactions
DEVNET_CENTER = (52.5200, 13.4050)  # devices sit on a small grid around this point
DEVNET_CELL_RES = 8  # ~0.7 km^2 hexagons
DEVICE_SCRYPT_N = 2**14  # devnet keystores: lighter than the standard 2**18 to start fast
SLOTS_PER_EPOCH = 6  # uptime slots per devnet epoch: a device can earn up to 6 points an epoch
SETTLE_GRACE_S = 5.0  # late reports get this long after an epoch's end before it is scored
ORACLE_GAS_WEI = 10**20  # oracles pay submitRoot's gas


class DevnetError(DepinkitError):
    """The devnet could not be set up or resumed."""


@dataclass(frozen=True)
class DevnetOptions:
    data_dir: Path
    devices: int = 10
    oracles: int = 3
    threshold: int = 2
    epoch_length_s: int = 60
    heartbeat_s: float | None = None  # None: twice per uptime slot
    db_url: str | None = None  # None: one SQLite file per oracle; else a PostgreSQL URL
    storage_providers: int = 0  # storage network providers (0: uptime only)
    compute_providers: int = 0  # compute network providers (0: no compute network)
    hotspots: int = 0  # coverage network hotspots on a simulated radio (0: no coverage network)

    def check(self) -> None:
        if self.devices < 1 or self.oracles < 1:
            raise DevnetError("a devnet needs at least one device and one oracle")
        if self.storage_providers < 0:
            raise DevnetError("--storage-providers cannot be negative")
        if self.compute_providers < 0:
            raise DevnetError("--compute-providers cannot be negative")
        if not 0 <= self.hotspots <= cv.MAX_HOTSPOTS:
            raise DevnetError(f"--hotspots must be between 0 and {cv.MAX_HOTSPOTS}")
        if not 1 <= self.threshold <= self.oracles:
            raise DevnetError(f"threshold must be between 1 and {self.oracles}")
        if self.epoch_length_s < 30:
            raise DevnetError("epochs shorter than 30 s leave no time to settle")

    @property
    def heartbeat_interval_s(self) -> float:
        if self.heartbeat_s is not None:
            return self.heartbeat_s
        return self.epoch_length_s / SLOTS_PER_EPOCH / 2


@dataclass(frozen=True)
class DeviceView:
    index: int
    address: str
    owner: str
    h3_cell: str
    status: str
    acknowledged: int
    pending: int
    stored: tuple[int, ...]  # reports stored, per oracle
    last_reward: int  # base units the latest settled epoch gave this device
    owner_earned: int  # the owner's cumulative rewards in the latest root
    owner_claimed: int  # what the owner has claimed on chain
    network: str = NETWORK  # the network the device is onboarded on


@dataclass(frozen=True)
class Snapshot:
    chain_id: int
    block: int
    epoch: int
    seconds_to_next_epoch: int
    oracles_up: tuple[bool, ...]
    agents_up: int
    devices: tuple[DeviceView, ...]
    settled_epoch: int | None  # latest epoch whose root is on chain
    root: str  # that root, 0x hex ("" before the first)
    total_cumulative: int
    claims_sent: int  # claim transactions the devnet's owners sent
    providers_up: int = 0  # storage provider services running
    providers: int = 0  # storage provider services the devnet runs
    compute_up: int = 0  # compute provider services running
    compute: int = 0  # compute provider services the devnet runs
    hotspots_up: int = 0  # hotspot agents running
    hotspots: int = 0  # hotspots the devnet runs
    medium_up: bool = True  # the simulated radio medium runs (it does, or none is needed)


@dataclass
class Devnet:
    options: DevnetOptions
    layout: Layout = field(init=False)
    supervisor: Supervisor = field(init=False)
    anvil: Anvil | None = None
    depin: Depin | None = None
    oracle_children: list[Child] = field(default_factory=list)
    indexer_children: list[Child] = field(default_factory=list)
    settle_children: list[Child] = field(default_factory=list)
    agent_children: list[Child] = field(default_factory=list)
    provider_children: list[Child] = field(default_factory=list)
    compute_children: list[Child] = field(default_factory=list)  # compute provider services
    _ports: list[int] = field(default_factory=list)
    _devices: list[str] = field(default_factory=list)
    _providers: list[str] = field(default_factory=list)  # storage devices' addresses
    _provider_ports: list[int] = field(default_factory=list)
    _storage_keys: st.StorageKeys | None = None
    store_commands: list[str] = field(default_factory=list)  # `depinkit store` walk-through
    _compute: list[str] = field(default_factory=list)  # compute devices' addresses
    _compute_ports: list[int] = field(default_factory=list)
    _compute_keys: st.StorageKeys | None = None  # the compute providers' owners
    compute_commands: list[str] = field(default_factory=list)  # `depinkit compute run`
    hotspot_children: list[Child] = field(default_factory=list)  # also in agent_children
    medium_child: Child | None = None  # the simulated radio medium
    _hotspots: list[str] = field(default_factory=list)  # hotspots' addresses
    _coverage_keys: st.StorageKeys | None = None  # the hotspots' owners
    _medium_port: int = 0
    _stores: list[Store] = field(default_factory=list)
    _keys: DevnetKeys | None = None
    _claims_sent: int = 0
    _manifest_cache: tuple[int, dict[str, int]] | None = None
    _totals_cache: tuple[bytes, dict[str, int]] | None = None

    def __post_init__(self) -> None:
        self.layout = Layout(self.options.data_dir.resolve())
        self.storage = st.StorageLayout(self.layout.root)
        self.compute = cp.ComputeLayout(self.layout.root)
        self.coverage = cv.CoverageLayout(self.layout.root)
        self.supervisor = Supervisor(log_dir=self.layout.logs)

    # --- lifecycle ----------------------------------------------------------------------
    def start(self) -> None:
        self.options.check()
        self._check_resumable()
        self.layout.root.mkdir(parents=True, exist_ok=True)
        self.anvil = Anvil(
            state=self.layout.anvil_state,
            block_time=BLOCK_TIME_S,
            extra_args=("--mixed-mining", "--state-interval", str(STATE_DUMP_INTERVAL_S)),
        ).start()
        chain = Chain.connect(self.anvil.url)
        keys = self._keys = self._load_keys()
        deployment = self._deployment(chain, keys)
        self.depin = Depin(chain, deployment)
        self._ports = self._oracle_ports()
        storage = self.options.storage_providers > 0
        compute = self.options.compute_providers > 0
        coverage = self.options.hotspots > 0
        # Every `agent init` at once: each is a Python start-up and a scrypt.
        inits = self._init_devices(keys) + (self._init_providers() if storage else [])
        inits += self._init_compute() if compute else []
        inits += self._init_hotspots() if coverage else []
        self._wait_inits(inits)
        self._devices = [
            _device_account(self.layout.agent_dir(i)).address for i in range(self.options.devices)
        ]
        self._onboard(keys)
        if storage:
            self._setup_storage(keys)
        if compute:
            self._setup_compute(keys)
        if coverage:
            self._setup_coverage()
        self._prepare_oracles(keys)
        if storage:
            self._start_providers(keys)  # they boot while the oracles do
        if compute:
            self._start_compute()
        if coverage:
            self._start_medium()
        self._start_oracles(deployment)
        self._start_agents()
        if storage:
            self._start_provider_agents()
        if compute:
            self._start_compute_agents()
        if coverage:
            self._start_hotspots()

    def stop(self) -> None:
        """Agents first (they flush their outboxes), then oracles, then the chain."""
        for store in self._stores:
            store.close()
        self._stores.clear()
        for child in reversed(self.agent_children):
            self.supervisor.stop(child)
        self.supervisor.stop_all()
        if self.anvil is not None:
            self.anvil.stop()

    def __enter__(self) -> Devnet:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # --- set-up steps (each one skips what an earlier run already did) -------------------
    def _check_resumable(self) -> None:
        """Refuse, before anything starts, what this data directory's deployment cannot do."""
        path = self.layout.manifest
        if not path.exists():
            return
        deployed = Deployment.load(path).network_parameters
        wanted = (
            (self.options.storage_providers, st.STORAGE, "--storage-providers"),
            (self.options.compute_providers, cp.COMPUTE, "--compute-providers"),
            (self.options.hotspots, cv.COVERAGE, "--hotspots"),
        )
        for count, network, option in wanted:
            if count and network not in deployed:
                raise DevnetError(
                    f"{self.layout.root} holds a devnet deployed without the {network} "
                    f"network, so it cannot run {option}: run it without that option, or give "
                    f"another --data-dir for a devnet with {network}"
                )

    def _load_keys(self) -> DevnetKeys:
        path = self.layout.keys_file
        if path.exists():
            keys = DevnetKeys.load(path)
            if len(keys.oracles) != self.options.oracles:
                raise DevnetError(
                    f"{self.layout.root} holds a devnet with {len(keys.oracles)} oracles; "
                    "use another --data-dir to change the number of oracles"
                )
            return keys
        owners = -(-self.options.devices // DEVICES_PER_OWNER)
        keys = DevnetKeys.create(owners=owners, oracles=self.options.oracles)
        keys.save(path)
        return keys

    def _deployment(self, chain: Chain, keys: DevnetKeys) -> Deployment:
        path = self.layout.manifest
        if path.exists():
            deployment = Deployment.load(path)
            if deployment.chain_id != chain.chain_id or not chain.w3.eth.get_code(
                to_checksum_address(deployment.registry)
            ):
                raise DevnetError(
                    f"{path} describes contracts this chain does not have "
                    f"(anvil state lost?): remove {self.layout.root} to start afresh"
                )
            return deployment
        networks = deployed_networks(self.options)
        config = DeployConfig(
            epoch_length_s=self.options.epoch_length_s,
            networks=networks,
            oracles=tuple(o.address for o in keys.oracles),
            threshold=self.options.threshold,
        )
        deployment = deploy(chain, dev_account(), config)
        deployment.save(path)
        return deployment

    def _oracle_ports(self) -> list[int]:
        """Ports are fixed at creation: agents' configs name the oracles' URLs."""
        path = self.layout.root / "ports.json"
        if path.exists():
            ports: list[int] = json.loads(path.read_text(encoding="utf-8"))
            if len(ports) == self.options.oracles:
                return ports
        ports = [free_port() for _ in range(self.options.oracles)]
        path.write_text(json.dumps(ports), encoding="utf-8")
        return ports

    def _oracle_url(self, index: int) -> str:
        return f"http://127.0.0.1:{self._ports[index]}"

    def _init_devices(self, keys: DevnetKeys) -> list[tuple[str, Child]]:
        """`depinkit agent init` started for every device not set up yet."""
        pending: list[tuple[str, Child]] = []
        for index in range(self.options.devices):
            directory = self.layout.agent_dir(index)
            if (directory / CONFIG_FILENAME).exists():
                continue
            owner = keys.owners[index // DEVICES_PER_OWNER]
            name = f"device-{index}"
            argv = self._init_argv(directory, owner.address, device_cell(index), NETWORK)
            pending.append((name, self.supervisor.start(f"init-{name}", argv)))
        return pending

    def _init_argv(self, directory: Path, owner: str, cell: str, network: str) -> list[str]:
        assert self.depin is not None
        deployment = self.depin.deployment
        genesis_s = deployment.parameters[P.EPOCH_GENESIS]
        argv = [
            *depinkit_command(), "agent", "init",
            "--data-dir", str(directory),
            "--chain-id", str(deployment.chain_id),
            "--registry", deployment.registry,
            "--owner", owner,
            "--h3-cell", cell,
            "--network", network,
            "--heartbeat-s", str(self.options.heartbeat_interval_s),
            "--epoch-genesis-ms", str(genesis_s * 1000),
            "--epoch-length-s", str(self.options.epoch_length_s),
            "--scrypt-n", str(DEVICE_SCRYPT_N),
        ]  # fmt: skip
        for i in range(self.options.oracles):
            argv += ["--oracle", f"oracle-{i}={self._oracle_url(i)}"]
        return argv

    def _wait_inits(self, pending: list[tuple[str, Child]]) -> None:
        for name, child in pending:
            code = child.process.wait()
            self.supervisor.children.remove(child)
            if code != 0:
                raise DevnetError(f"agent init for {name} failed:\n{child.tail()}")

    # --- the storage network (opt-in) ---------------------------------------------------
    def _init_providers(self) -> list[tuple[str, Child]]:
        """`depinkit agent init` started for every storage provider device not set up yet."""
        layout, count = self.storage, self.options.storage_providers
        owners = -(-count // DEVICES_PER_OWNER)
        skeys = self._storage_keys = st.StorageKeys.load_or_create(layout.keys_file, owners)
        self._provider_ports = fleet.provider_ports(layout, count)
        pending: list[tuple[str, Child]] = []
        for index in range(count):
            directory = layout.agent_dir(index)
            if (directory / CONFIG_FILENAME).exists():
                continue
            owner_address = skeys.owners[index // DEVICES_PER_OWNER].address
            name = f"provider-{index}"
            cell = st.provider_cell(index)
            argv = self._init_argv(directory, owner_address, cell, st.STORAGE)
            pending.append((name, self.supervisor.start(f"init-{name}", argv)))
        return pending

    def _setup_storage(self, keys: DevnetKeys) -> None:
        """Provider devices (role options, key file, onboarding), the consumer's credits,
        providers.json and the `depinkit store` commands; each step skips what is done."""
        assert self.depin is not None and self._storage_keys is not None
        layout, count, skeys = self.storage, self.options.storage_providers, self._storage_keys
        providers = []
        self._providers = []
        for index in range(count):
            directory = layout.agent_dir(index)
            url = self._provider_url(index)
            if not fleet.role_configured(directory, st.STORAGE):
                st.add_role_options(directory, layout.pieces_dir(index), url)
            device = _device_account(directory)
            owner = skeys.owners[index // DEVICES_PER_OWNER]
            key_file = layout.key_file(index)
            if not key_file.exists():
                key_file.parent.mkdir(parents=True, exist_ok=True)
                _write_private(key_file, device.private_key.hex() + "\n")
            layout.pieces_dir(index).mkdir(parents=True, exist_ok=True)
            st.onboard_provider(self.depin, _local(owner), device, index, DEVICES_PER_OWNER)
            self._providers.append(device.address)
            providers.append(
                {
                    "address": device.address,
                    "url": url,
                    "owner": owner.address,
                    "cell": st.provider_cell(index),
                }
            )
        st.ensure_consumer(self.depin, layout, keys.oracles)
        st.write_providers(layout, providers)
        deployment = self.depin.deployment
        commands = functools.partial(
            st.store_commands,
            layout,
            chain_id=deployment.chain_id,
            registry=deployment.registry,
            genesis_ms=deployment.parameters[P.EPOCH_GENESIS] * 1000,
            epoch_s=self.options.epoch_length_s,
        )
        self.store_commands = commands()  # printed: paths relative to the working directory
        st.write_readme(layout, commands(relative=False))  # README.txt: from anywhere

    # --- the compute network (opt-in) ---------------------------------------------------
    def _init_compute(self) -> list[tuple[str, Child]]:
        """`depinkit agent init` started for every compute provider device not set up yet."""
        layout, count = self.compute, self.options.compute_providers
        owners = -(-count // DEVICES_PER_OWNER)
        ckeys = self._compute_keys = st.StorageKeys.load_or_create(layout.keys_file, owners)
        self._compute_ports = fleet.provider_ports(layout, count)
        pending: list[tuple[str, Child]] = []
        for index in range(count):
            directory = layout.agent_dir(index)
            if (directory / CONFIG_FILENAME).exists():
                continue
            owner_address = ckeys.owners[index // DEVICES_PER_OWNER].address
            name = f"compute-provider-{index}"
            argv = self._init_argv(directory, owner_address, cp.provider_cell(index), cp.COMPUTE)
            pending.append((name, self.supervisor.start(f"init-{name}", argv)))
        return pending

    def _setup_compute(self, keys: DevnetKeys) -> None:
        """Provider devices (role options, key file, onboarding), the consumer's credits
        (shared with storage) and the `depinkit compute run` commands; each step skips what
        is done."""
        assert self.depin is not None and self._compute_keys is not None
        layout, count, ckeys = self.compute, self.options.compute_providers, self._compute_keys
        providers = []
        self._compute = []
        for index in range(count):
            directory = layout.agent_dir(index)
            url = self._compute_url(index)
            if not fleet.role_configured(directory, cp.COMPUTE):
                cp.add_role_options(directory, url)
            device = _device_account(directory)
            owner = ckeys.owners[index // DEVICES_PER_OWNER]
            key_file = layout.key_file(index)
            if not key_file.exists():
                key_file.parent.mkdir(parents=True, exist_ok=True)
                _write_private(key_file, device.private_key.hex() + "\n")
            cp.onboard_provider(self.depin, _local(owner), device, index, DEVICES_PER_OWNER)
            self._compute.append(device.address)
            providers.append({"address": device.address, "url": url, "owner": owner.address})
        st.ensure_consumer(self.depin, layout.consumer, keys.oracles)
        cp.write_providers(layout, providers)
        deployment = self.depin.deployment
        commands = functools.partial(
            cp.run_commands,
            layout,
            [p["url"] for p in providers],
            chain_id=deployment.chain_id,
            registry=deployment.registry,
        )
        self.compute_commands = commands()  # printed: paths relative to the working directory
        cp.write_readme(layout, commands(relative=False))  # README.txt: from anywhere

    def _compute_url(self, index: int) -> str:
        return f"http://127.0.0.1:{self._compute_ports[index]}"

    def _start_compute(self) -> None:
        """Each compute provider's job service."""
        assert self.depin is not None
        deployment = self.depin.deployment
        for index in range(self.options.compute_providers):
            argv = cp.provider_argv(
                self.compute,
                index,
                self._compute_ports[index],
                chain_id=deployment.chain_id,
                registry=deployment.registry,
            )
            self.compute_children.append(self.supervisor.start(f"compute-{index}", argv))

    def _start_compute_agents(self) -> None:
        """Each compute device's agent, once its service answers (the role asks it)."""
        layout = self.compute
        for index, child in enumerate(self.compute_children):
            self.supervisor.wait_http(child, f"{self._compute_url(index)}/v1/info")
            argv = [*depinkit_command(), "agent", "run", "--config", str(layout.agent_dir(index))]
            self.agent_children.append(self.supervisor.start(f"compute-provider-{index}", argv))

    # --- the coverage network (opt-in) --------------------------------------------------
    def _init_hotspots(self) -> list[tuple[str, Child]]:
        """`depinkit agent init` started for every hotspot device not set up yet."""
        layout, count = self.coverage, self.options.hotspots
        owners = cv.owners_needed(count)
        ckeys = self._coverage_keys = st.StorageKeys.load_or_create(layout.keys_file, owners)
        self._medium_port = fleet.provider_ports(layout, 1)[0]
        pending: list[tuple[str, Child]] = []
        for index in range(count):
            directory = layout.agent_dir(index)
            if (directory / CONFIG_FILENAME).exists():
                continue
            owner_address = ckeys.owners[cv.owner_index(index)].address
            name = f"hotspot-{index}"
            cell = cv.hotspot_cell(index)
            argv = self._init_argv(directory, owner_address, cell, cv.COVERAGE)
            pending.append((name, self.supervisor.start(f"init-{name}", argv)))
        return pending

    def _setup_coverage(self) -> None:
        """Hotspot devices: the role's radio options and onboarding at their cells; each
        step skips what is done."""
        assert self.depin is not None and self._coverage_keys is not None
        layout, ckeys = self.coverage, self._coverage_keys
        self._hotspots = []
        for index in range(self.options.hotspots):
            directory = layout.agent_dir(index)
            if not fleet.role_configured(directory, cv.COVERAGE):
                cv.add_role_options(directory, self.medium_url)
            device = _device_account(directory)
            owner = ckeys.owners[cv.owner_index(index)]
            cv.onboard_hotspot(self.depin, _local(owner), device, index)
            self._hotspots.append(device.address)
        hotspots = [
            {
                "address": address,
                "owner": ckeys.owners[cv.owner_index(i)].address,
                "cell": cv.hotspot_cell(i),
            }
            for i, address in enumerate(self._hotspots)
        ]
        fleet.write_json(layout.hotspots_file, hotspots)

    @property
    def medium_url(self) -> str:
        return f"http://127.0.0.1:{self._medium_port}"

    def _start_medium(self) -> None:
        self.medium_child = self.supervisor.start("medium", cv.medium_argv(self._medium_port))

    def _start_hotspots(self) -> None:
        """Every radio placed on the medium at its hotspot's cell, then the hotspots' agents
        (the medium keeps radios in memory: placed again on every start)."""
        assert self.medium_child is not None
        self.supervisor.wait_http(self.medium_child, f"{self.medium_url}/v1/health")
        cells = {a: cv.hotspot_cell(i) for i, a in enumerate(self._hotspots)}
        try:
            cv.place_radios(self.medium_url, cells)
        except DepinkitError as exc:
            raise DevnetError(f"the radio medium refused a hotspot: {exc}") from exc
        for index in range(self.options.hotspots):
            directory = self.coverage.agent_dir(index)
            argv = [*depinkit_command(), "agent", "run", "--config", str(directory)]
            child = self.supervisor.start(f"hotspot-{index}", argv)
            self.agent_children.append(child)
            self.hotspot_children.append(child)

    def _provider_url(self, index: int) -> str:
        return f"http://127.0.0.1:{self._provider_ports[index]}"

    def _start_providers(self, keys: DevnetKeys) -> None:
        """Each provider's piece service; the oracles audit, so they are its auditors."""
        assert self.depin is not None
        deployment = self.depin.deployment
        layout = self.storage
        for index in range(self.options.storage_providers):
            argv = [
                sys.executable, "-m", "depinkit.networks.storage.provider",
                "--data", str(layout.pieces_dir(index)),
                "--port", str(self._provider_ports[index]),
                "--key", str(layout.key_file(index)),
                "--chain-id", str(deployment.chain_id),
                "--registry", deployment.registry,
            ]  # fmt: skip
            for oracle in keys.oracles:
                argv += ["--auditor", oracle.address]
            self.provider_children.append(self.supervisor.start(f"storage-{index}", argv))

    def _start_provider_agents(self) -> None:
        """Each provider device's agent, once its service answers (the role asks it)."""
        layout = self.storage
        for index, child in enumerate(self.provider_children):
            self.supervisor.wait_http(child, f"{self._provider_url(index)}/v1/info")
            argv = [*depinkit_command(), "agent", "run", "--config", str(layout.agent_dir(index))]
            self.agent_children.append(self.supervisor.start(f"provider-{index}", argv))

    def _onboard(self, keys: DevnetKeys) -> None:
        assert self.depin is not None
        depin = self.depin
        chain = depin.chain
        deployer = dev_account()
        stake = depin.params.get_network(NETWORK, P.NET_STAKE)
        for index, address in enumerate(self._devices):
            if depin.registry.device(address).status in (
                DeviceStatus.ACTIVE,
                DeviceStatus.UNBONDING,
            ):
                continue
            owner = _local(keys.owners[index // DEVICES_PER_OWNER])
            if chain.balance(owner.address) < OWNER_GAS_WEI // 10:
                chain.fund(owner.address, OWNER_GAS_WEI)
            if depin.token.balance_of(owner.address) < stake:
                depin.token.transfer(deployer, owner.address, stake * DEVICES_PER_OWNER)
            device = _device_account(self.layout.agent_dir(index))
            depin.registry.onboard(owner, device, NETWORK, h3.str_to_int(device_cell(index)))

    def _all_owners(self) -> list[Account]:
        assert self._keys is not None
        extra = self._storage_keys.owners if self._storage_keys is not None else ()
        more = self._compute_keys.owners if self._compute_keys is not None else ()
        hotspots = self._coverage_keys.owners if self._coverage_keys is not None else ()
        return [*self._keys.owners, *extra, *more, *hotspots]

    def _prepare_oracles(self, keys: DevnetKeys) -> None:
        """Each oracle's key as a keystore (the settle process signs with it) and gas money."""
        assert self.depin is not None
        for i, key in enumerate(keys.oracles):
            directory = self.layout.oracle_dir(i)
            directory.mkdir(parents=True, exist_ok=True)
            keystore = directory / "key.json"
            if not keystore.exists():
                passphrase = secrets.token_urlsafe(24)
                _write_private(directory / "passphrase", passphrase + "\n")
                save_keystore(key, keystore, passphrase, iterations=DEVICE_SCRYPT_N)
            if self.depin.chain.balance(key.address) < ORACLE_GAS_WEI // 10:
                self.depin.chain.fund(key.address, ORACLE_GAS_WEI)

    def _start_oracles(self, deployment: Deployment) -> None:
        assert self.anvil is not None
        for i in range(self.options.oracles):
            self.layout.oracle_dir(i).mkdir(parents=True, exist_ok=True)
            db = self._db_url(i)
            serve = self.supervisor.start(
                f"oracle-{i}",
                [
                    *depinkit_command(), "oracle", "serve",
                    "--db", db,
                    "--host", "127.0.0.1",
                    "--port", str(self._ports[i]),
                    "--chain-id", str(deployment.chain_id),
                    "--registry", deployment.registry,
                    "--migrate",
                ],
            )  # fmt: skip
            self.oracle_children.append(serve)
        # All oracles boot at once; each indexer starts after its oracle migrated the store.
        for i, serve in enumerate(list(self.oracle_children)):
            db = self._db_url(i)
            self.supervisor.wait_http(serve, f"{self._oracle_url(i)}/v1/health")
            index = self.supervisor.start(
                f"indexer-{i}",
                [
                    *depinkit_command(), "oracle", "index",
                    "--rpc", self.anvil.url,
                    "--manifest", str(self.layout.manifest),
                    "--db", db,
                ],
            )  # fmt: skip
            self.indexer_children.append(index)
            self._stores.append(Store.open(db))
        for i in range(self.options.oracles):
            directory = self.layout.oracle_dir(i)
            argv = [
                *depinkit_command(), "oracle", "settle",
                "--rpc", self.anvil.url,
                "--manifest", str(self.layout.manifest),
                "--db", self._db_url(i),
                "--key-file", str(directory / "key.json"),
                "--passphrase-file", str(directory / "passphrase"),
                "--grace", str(SETTLE_GRACE_S),
            ]  # fmt: skip
            for j in range(self.options.oracles):
                if j != i:
                    argv += ["--peer", self._oracle_url(j)]
            self.settle_children.append(self.supervisor.start(f"settle-{i}", argv))

    def _db_url(self, index: int) -> str:
        if self.options.db_url is None:
            return self.layout.sqlite_url(index)
        return postgres_database_url(self.options.db_url, index)

    def _start_agents(self) -> None:
        for i in range(self.options.devices):
            argv = [*depinkit_command(), "agent", "run", "--config", str(self.layout.agent_dir(i))]
            self.agent_children.append(self.supervisor.start(f"device-{i}", argv))

    # --- what the live view shows -------------------------------------------------------
    def snapshot(self) -> Snapshot:
        assert self.depin is not None
        depin = self.depin
        block = depin.chain.block_number()
        now = depin.chain.now()
        genesis = depin.deployment.parameters[P.EPOCH_GENESIS]
        length = self.options.epoch_length_s
        epoch = max(0, (now - genesis) // length)
        stored = [_reports_per_device(store) for store in self._stores]
        chain_root = depin.rewards.root()
        has_root = any(chain_root)
        settled = depin.rewards.last_epoch() if has_root else None
        rewards = self._device_rewards(settled)
        earned = self._owner_totals(chain_root) if has_root else {}
        views = []
        fleet = [(i, a, self.layout.agent_dir(i), NETWORK) for i, a in enumerate(self._devices)]
        fleet += [
            (i, a, self.storage.agent_dir(i), st.STORAGE) for i, a in enumerate(self._providers)
        ]
        fleet += [
            (i, a, self.compute.agent_dir(i), cp.COMPUTE) for i, a in enumerate(self._compute)
        ]
        fleet += [
            (i, a, self.coverage.agent_dir(i), cv.COVERAGE) for i, a in enumerate(self._hotspots)
        ]
        for index, address, directory, network in fleet:
            record = depin.registry.device(address)
            ack, pending = _agent_counts(directory, address)
            views.append(
                DeviceView(
                    index=index,
                    address=address,
                    owner=record.owner,
                    h3_cell=h3.int_to_str(record.h3_cell) if record.h3_cell else "-",
                    status=DeviceStatus(record.status).name.lower(),
                    acknowledged=ack,
                    pending=pending,
                    stored=tuple(s.get(address, 0) for s in stored),
                    last_reward=rewards.get(address.lower(), 0),
                    owner_earned=earned.get(record.owner.lower(), 0),
                    owner_claimed=depin.rewards.claimed(record.owner),
                    network=network,
                )
            )
        return Snapshot(
            chain_id=depin.deployment.chain_id,
            block=block,
            epoch=epoch,
            seconds_to_next_epoch=int(genesis + (epoch + 1) * length - now),
            oracles_up=tuple(c.alive() for c in self.oracle_children),
            agents_up=sum(c.alive() for c in self.agent_children),
            devices=tuple(views),
            settled_epoch=settled,
            root="0x" + chain_root.hex() if has_root else "",
            total_cumulative=depin.rewards.total_cumulative(),
            claims_sent=self._claims_sent,
            providers_up=sum(c.alive() for c in self.provider_children),
            providers=len(self.provider_children),
            compute_up=sum(c.alive() for c in self.compute_children),
            compute=len(self.compute_children),
            hotspots_up=sum(c.alive() for c in self.hotspot_children),
            hotspots=len(self.hotspot_children),
            medium_up=self.medium_child is None or self.medium_child.alive(),
        )

    def _device_rewards(self, epoch: int | None) -> dict[str, int]:
        """Per-device rewards of ``epoch`` from the first oracle's manifest (cached)."""
        if epoch is None:
            return {}
        if self._manifest_cache is not None and self._manifest_cache[0] == epoch:
            return self._manifest_cache[1]
        try:
            reply = httpx.get(f"{self._oracle_url(0)}/v1/epochs/{epoch}/manifest", timeout=5)
            manifest = decode_manifest_json(reply.content) if reply.status_code == 200 else None
        except (httpx.HTTPError, DepinkitError):
            manifest = None
        if manifest is None:
            return {}
        rewards = {d.device.lower(): int(d.reward) for d in manifest.devices}
        self._manifest_cache = (epoch, rewards)
        return rewards

    def _owner_totals(self, chain_root: bytes) -> dict[str, int]:
        """Owners' cumulative totals in ``chain_root``, fetched once per root.

        Totals change only when a new root lands, so the table does not ask the oracle for
        every owner on every refresh; an answer for another root (an oracle behind the chain)
        is not kept.
        """
        if self._totals_cache is not None and self._totals_cache[0] == chain_root:
            return self._totals_cache[1]
        totals = {}
        complete = True
        for owner in self._all_owners():
            try:
                cumulative, _, root = fetch_claim(self._oracle_url(0), owner.address)
            except DepinkitError:
                complete = False
                continue
            complete = complete and root == chain_root
            totals[owner.address.lower()] = cumulative
        if complete:
            self._totals_cache = (chain_root, totals)
        return totals

    def claim_rewards(self) -> int:
        """Owners claim what the latest root owes them, as real owners would; claims sent."""
        assert self.depin is not None and self._keys is not None
        if not any(self.depin.rewards.root()):
            return 0
        sent = 0
        for owner in self._all_owners():
            try:
                claim_from_oracle(self.depin, _local(owner), self._oracle_url(0), owner.address)
            except DepinkitError:
                continue  # nothing new, or the oracle has not caught up with the chain yet
            sent += 1
        self._claims_sent += sent
        return sent


def fleet_sizes(
    data_dir: Path, storage: int | None, compute: int | None, hotspots: int | None
) -> tuple[int, int, int]:
    """Storage providers, compute providers and hotspots to run, filling in the defaults.

    A size left unset is the network's default for a new devnet, and for a devnet resumed
    from ``data_dir`` when its deployment has that network; 0 when it was deployed without it
    (a network cannot be added to a deployment). A size given is kept as given, so asking
    for a network the deployment lacks is refused by ``Devnet.start`` with the reason.
    """
    manifest = Layout(data_dir.resolve()).manifest
    deployed = Deployment.load(manifest).network_parameters if manifest.exists() else None
    sizes = []
    wanted = (
        (storage, st.STORAGE, defaults.STORAGE_PROVIDERS),
        (compute, cp.COMPUTE, defaults.COMPUTE_PROVIDERS),
        (hotspots, cv.COVERAGE, defaults.HOTSPOTS),
    )
    for given, network, default in wanted:
        if given is not None:
            sizes.append(given)
        elif deployed is None or network in deployed:
            sizes.append(default)
        else:
            sizes.append(0)
    return sizes[0], sizes[1], sizes[2]


def deployed_networks(options: DevnetOptions) -> tuple[NetworkConfig, ...]:
    """Uptime, plus storage, compute and coverage when asked for: the emission split evenly
    between the deployed networks (uptime takes the rounding)."""
    slot_s = options.epoch_length_s // SLOTS_PER_EPOCH
    count = 1 + (options.storage_providers > 0) + (options.compute_providers > 0)
    count += options.hotspots > 0
    share = P.BPS // count
    others: list[NetworkConfig] = []
    if options.storage_providers:
        storage = st.storage_network(options.epoch_length_s)
        others.append(msgspec.structs.replace(storage, weight_bps=share))
    if options.compute_providers:
        others.append(cp.compute_network(options.epoch_length_s, share))
    if options.hotspots:
        others.append(cv.coverage_network(options.epoch_length_s, share))
    uptime = NetworkConfig(
        name=NETWORK,
        weight_bps=P.BPS - share * len(others),
        parameters={SLOT_S: slot_s},
    )
    return (uptime, *others)


def depinkit_command() -> list[str]:
    """The `depinkit` CLI of this very interpreter (no reliance on PATH)."""
    return [sys.executable, "-m", "depinkit"]


def postgres_database_url(base: str, index: int) -> str:
    """One database per oracle on the given server, created when missing."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    url = make_url(base)
    if not url.drivername.startswith("postgresql"):
        raise DevnetError(f"--db takes a PostgreSQL URL, got {url.drivername}")
    if url.drivername == "postgresql":
        url = url.set(drivername="postgresql+psycopg")
    name = f"{url.database or 'depinkit'}_oracle{index}"
    admin = create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            exists = conn.execute(
                text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name}
            ).first()
            if exists is None:
                conn.execute(text(f'CREATE DATABASE "{name}"'))
    finally:
        admin.dispose()
    return url.set(database=name).render_as_string(hide_password=False)


def device_cell(index: int) -> str:
    """Devices on a 5-wide grid about 2 km apart, so each has a cell of its own."""
    row, col = divmod(index, 5)
    lat, lng = DEVNET_CENTER[0] + 0.018 * row, DEVNET_CENTER[1] + 0.03 * col
    return str(h3.latlng_to_cell(lat, lng, DEVNET_CELL_RES))


def _write_private(path: Path, text: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(text)


def _local(account: Account) -> LocalAccount:
    return EthAccount.from_key(account.private_key)


def _device_account(directory: Path) -> Account:
    config = load_config(directory / CONFIG_FILENAME)
    passphrase = (directory / config.device.passphrase_file).read_text(encoding="utf-8").strip()
    return load_keystore(directory / config.device.keystore, passphrase)


def _reports_per_device(store: Store) -> dict[str, int]:
    query = select(reports_table.c.device, func.count()).group_by(reports_table.c.device)
    with store.engine.connect() as conn:
        return {str(device): int(n) for device, n in conn.execute(query)}


def _agent_counts(directory: Path, device: str) -> tuple[int, int]:
    """(acknowledged by every oracle, still pending somewhere) from the agent's outbox."""
    config = load_config(directory / CONFIG_FILENAME)
    if not config.outbox_path.exists():
        return 0, 0
    names = [o.name for o in config.oracles]
    with Outbox(config.outbox_path, device=device, oracles=names) as outbox:
        counts = outbox.counts()
    acknowledged = min((c.acked for c in counts), default=0)
    pending = max((c.pending for c in counts), default=0)
    return acknowledged, pending


__all__ = ["Devnet", "DevnetError", "DevnetOptions", "Snapshot"]
