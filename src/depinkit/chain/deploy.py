"""Deploy the settlement contracts, wire them, and hand every rule to governance.

Order: Parameters, OracleSet, DepinToken, TimelockController, DepinGovernor, DeviceRegistry,
RewardsDistributor, Credits, HexBoosts. The deployer starts as owner/admin of everything so it
can set the initial parameters, oracle set and makers, then transfers ownership and the token's
admin role to the timelock and renounces its own roles: after ``deploy`` returns, only a
passed governance proposal can change a rule. The result is a JSON manifest that every
other component loads (chain id, addresses, deployment block, initial parameters).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Final

import msgspec
from eth_account.signers.local import LocalAccount
from eth_utils import to_checksum_address
from web3 import Web3

from depinkit.chain import params as P
from depinkit.chain.client import Chain
from depinkit.chain.errors import ChainError, ManifestError

TOKEN: Final[int] = 10**18  # base units per whole DPK (18 decimals)
ZERO_ADDRESS: Final[str] = "0x0000000000000000000000000000000000000000"
MANIFEST_VERSION: Final[int] = 1


class NetworkConfig(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """Initial per-network parameters; all governed afterwards."""

    name: str
    stake: int = 100 * TOKEN  # 100 DPK: enough to make a Sybil fleet cost something
    require_maker: bool = False  # devnets onboard any device
    weight_bps: int = P.BPS  # share of each epoch's emission (one network: all of it)
    splits: dict[str, int] = msgspec.field(default_factory=lambda: {"uptime": P.BPS})
    makers: tuple[str, ...] = ()  # approved hardware makers
    # the network module's own governed parameters (e.g. uptime's "slot_s"), by name
    parameters: dict[str, int] = msgspec.field(default_factory=dict)


class DeployConfig(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """What a deployment starts with. Defaults suit a local devnet."""

    cap: int = 1_000_000_000 * TOKEN  # 1e9 DPK hard cap
    initial_supply: int = 100_000_000 * TOKEN  # 10% genesis allocation (treasury / testers)
    initial_holder: str | None = None  # None: the deployer
    epoch_length_s: int = 60  # devnet epochs of one minute
    epoch_genesis: int | None = None  # None: the latest block's timestamp at deployment
    emission_initial: int = 800 * TOKEN  # per epoch; x2 x halving = cap - supply, roughly
    halving_epochs: int = 525_600  # one year of 60 s epochs
    unbonding_period_s: int = 600  # ten devnet epochs
    credit_price_usd_e8: int = 1_000_000  # USD 0.01 per credit
    price_max_age_s: int = 300  # a signed token price is good for five minutes
    networks: tuple[NetworkConfig, ...] = (NetworkConfig(name="uptime"),)
    oracles: tuple[str, ...] = ()  # empty: the deployer alone (a one-oracle devnet)
    threshold: int = 0  # 0: a strict majority of the oracles
    timelock_delay_s: int = 60  # a passed proposal waits a minute on a devnet
    voting_delay_blocks: int = 1
    voting_period_blocks: int = 10
    quorum_percent: int = 4
    extra_parameters: dict[str, int] = msgspec.field(default_factory=dict)


class Deployment(msgspec.Struct, kw_only=True):
    """The deployment manifest: where the contracts are and what they started with."""

    version: int = MANIFEST_VERSION
    chain_id: int
    deployment_block: int
    deployer: str
    contracts: dict[str, str]
    parameters: dict[str, int]
    network_parameters: dict[str, dict[str, int]]
    oracles: list[str]
    threshold: int
    governance: dict[str, int]

    def address(self, name: str) -> str:
        try:
            return self.contracts[name]
        except KeyError:
            raise ManifestError(f"manifest has no contract {name}") from None

    @property
    def token(self) -> str:
        return self.address("DepinToken")

    @property
    def registry(self) -> str:
        return self.address("DeviceRegistry")

    @property
    def rewards(self) -> str:
        return self.address("RewardsDistributor")

    @property
    def credits(self) -> str:
        return self.address("Credits")

    @property
    def hex_boosts(self) -> str:
        return self.address("HexBoosts")

    @property
    def oracle_set(self) -> str:
        return self.address("OracleSet")

    @property
    def parameters_address(self) -> str:
        return self.address("Parameters")

    @property
    def timelock(self) -> str:
        return self.address("TimelockController")

    @property
    def governor(self) -> str:
        return self.address("DepinGovernor")

    def to_json(self) -> bytes:
        return msgspec.json.format(msgspec.json.encode(self), indent=2)

    def save(self, path: Path | str) -> Path:
        target = Path(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_suffix(target.suffix + ".tmp")
        tmp.write_bytes(self.to_json() + b"\n")
        tmp.replace(target)
        return target

    @classmethod
    def from_json(cls, data: bytes | str) -> Deployment:
        try:
            manifest = msgspec.json.decode(data, type=cls)
        except msgspec.DecodeError as exc:
            raise ManifestError(f"not a deployment manifest: {exc}") from exc
        if manifest.version != MANIFEST_VERSION:
            raise ManifestError(f"unsupported manifest version {manifest.version}")
        return manifest

    @classmethod
    def load(cls, path: Path | str) -> Deployment:
        try:
            data = Path(path).read_bytes()
        except OSError as exc:
            raise ManifestError(f"cannot read manifest {path}: {exc}") from exc
        return cls.from_json(data)


def _as_chain(w3: Web3 | Chain) -> Chain:
    return w3 if isinstance(w3, Chain) else Chain(w3)


def _check(config: DeployConfig, oracles: list[str]) -> int:
    if config.initial_supply > config.cap:
        raise ChainError("initial supply above the cap")
    if config.epoch_length_s <= 0:
        raise ChainError("epoch length must be positive")
    threshold = config.threshold or len(oracles) // 2 + 1
    if not 1 <= threshold <= len(oracles):
        raise ChainError(f"threshold {threshold} not in 1..{len(oracles)}")
    for net in config.networks:
        if sum(net.splits.values()) != P.BPS:
            raise ChainError(f"splits of {net.name} do not add up to {P.BPS} bps")
    if sum(n.weight_bps for n in config.networks) != P.BPS:
        raise ChainError(f"network weights do not add up to {P.BPS} bps")
    return threshold


def initial_parameters(config: DeployConfig, genesis: int) -> dict[str, int]:
    values = {
        P.EPOCH_GENESIS: genesis,
        P.EPOCH_LENGTH: config.epoch_length_s,
        P.EMISSION_INITIAL: config.emission_initial,
        P.EMISSION_HALVING_EPOCHS: config.halving_epochs,
        P.UNBONDING_PERIOD: config.unbonding_period_s,
        P.CREDIT_PRICE_USD_E8: config.credit_price_usd_e8,
        P.CREDIT_PRICE_MAX_AGE: config.price_max_age_s,
    }
    values.update(config.extra_parameters)
    return values


def network_parameters(config: DeployConfig) -> dict[str, dict[str, int]]:
    out: dict[str, dict[str, int]] = {}
    for net in config.networks:
        values = {
            P.NET_STAKE: net.stake,
            P.NET_REQUIRE_MAKER: int(net.require_maker),
            P.NET_WEIGHT: net.weight_bps,
        }
        values.update({P.split_name(b): bps for b, bps in net.splits.items()})
        values.update(net.parameters)
        out[net.name] = values
    return out


def deploy(
    w3: Web3 | Chain, deployer: LocalAccount, config: DeployConfig | None = None
) -> Deployment:
    """Deploy and wire every contract; returns the manifest (not yet saved)."""
    chain = _as_chain(w3)
    config = config or DeployConfig()
    me = deployer.address
    oracles: list[str] = [str(to_checksum_address(o)) for o in config.oracles] or [me]
    threshold = _check(config, oracles)
    holder = to_checksum_address(config.initial_holder) if config.initial_holder else me

    addr: dict[str, str] = {}
    addr["Parameters"], first = chain.deploy_contract(deployer, "Parameters", me)
    addr["OracleSet"], _ = chain.deploy_contract(deployer, "OracleSet", me)
    addr["DepinToken"], _ = chain.deploy_contract(
        deployer, "DepinToken", config.cap, config.initial_supply, holder, me
    )
    addr["TimelockController"], _ = chain.deploy_contract(
        deployer, "TimelockController", config.timelock_delay_s, [], [ZERO_ADDRESS], me
    )
    addr["DepinGovernor"], _ = chain.deploy_contract(
        deployer,
        "DepinGovernor",
        addr["DepinToken"],
        addr["TimelockController"],
        config.voting_delay_blocks,
        config.voting_period_blocks,
        config.quorum_percent,
    )
    shared = (addr["DepinToken"], addr["Parameters"], addr["OracleSet"])
    addr["DeviceRegistry"], _ = chain.deploy_contract(deployer, "DeviceRegistry", me, *shared)
    addr["RewardsDistributor"], _ = chain.deploy_contract(deployer, "RewardsDistributor", *shared)
    addr["Credits"], _ = chain.deploy_contract(deployer, "Credits", *shared)
    addr["HexBoosts"], _ = chain.deploy_contract(
        deployer, "HexBoosts", me, addr["DepinToken"], addr["Parameters"]
    )

    c = {name: chain.contract(name, a) for name, a in addr.items()}
    token, timelock = c["DepinToken"], c["TimelockController"]
    send = chain.transact

    genesis = config.epoch_genesis if config.epoch_genesis is not None else chain.now()
    globals_ = initial_parameters(config, genesis)
    per_net = network_parameters(config)
    keys = [P.param_key(n) for n in globals_]
    values = list(globals_.values())
    for net_name, net_values in per_net.items():
        keys += [P.network_key(net_name, n) for n in net_values]
        values += list(net_values.values())
    send(deployer, c["Parameters"].functions.setMany(keys, values))
    send(deployer, c["OracleSet"].functions.setOracles(oracles, threshold))
    for net in config.networks:
        for maker in net.makers:
            fn = c["DeviceRegistry"].functions.setMaker(P.network_id(net.name), maker, True)
            send(deployer, fn)
    minter = chain.call(token.functions.MINTER_ROLE())
    send(deployer, token.functions.grantRole(minter, addr["RewardsDistributor"]))

    # Governance: the governor proposes and cancels, anyone executes after the delay.
    proposer = chain.call(timelock.functions.PROPOSER_ROLE())
    canceller = chain.call(timelock.functions.CANCELLER_ROLE())
    send(deployer, timelock.functions.grantRole(proposer, addr["DepinGovernor"]))
    send(deployer, timelock.functions.grantRole(canceller, addr["DepinGovernor"]))

    # Hand every rule to the timelock, then drop the deployer's powers.
    for name in ("Parameters", "OracleSet", "DeviceRegistry", "HexBoosts"):
        send(deployer, c[name].functions.transferOwnership(addr["TimelockController"]))
    admin = chain.call(token.functions.DEFAULT_ADMIN_ROLE())
    send(deployer, token.functions.grantRole(admin, addr["TimelockController"]))
    send(deployer, token.functions.renounceRole(admin, me))
    timelock_admin = chain.call(timelock.functions.DEFAULT_ADMIN_ROLE())
    send(deployer, timelock.functions.renounceRole(timelock_admin, me))

    return Deployment(
        chain_id=chain.chain_id,
        deployment_block=int(first["blockNumber"]),
        deployer=me,
        contracts=addr,
        parameters=globals_,
        network_parameters=per_net,
        oracles=oracles,
        threshold=threshold,
        governance={
            "voting_delay_blocks": config.voting_delay_blocks,
            "voting_period_blocks": config.voting_period_blocks,
            "quorum_percent": config.quorum_percent,
            "timelock_delay_s": config.timelock_delay_s,
        },
    )


def verify_deployment(chain: Chain, deployment: Deployment) -> None:
    """ManifestError unless ``deployment`` describes contracts on this very chain."""
    if chain.chain_id != deployment.chain_id:
        raise ManifestError(
            f"manifest is for chain {deployment.chain_id}, connected to {chain.chain_id}"
        )
    for name, address in deployment.contracts.items():
        if not chain.w3.eth.get_code(to_checksum_address(address)):
            raise ManifestError(f"no contract code for {name} at {address}")


def describe(deployment: Deployment) -> dict[str, Any]:
    """A flat summary for the CLI."""
    return {
        "chain_id": deployment.chain_id,
        "deployment_block": deployment.deployment_block,
        **deployment.contracts,
        "oracles": ", ".join(deployment.oracles),
        "threshold": deployment.threshold,
    }
