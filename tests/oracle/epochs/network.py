"""A small real network for the epoch tests: anvil, contracts, N oracles on loopback HTTP.

Each oracle has its own SQLite store, key, device indexer, ingest + epoch API (a uvicorn
server on a free port) and :class:`EpochPipeline`; devices are onboarded on chain by their
owners before the settled epoch starts.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import msgspec
from eth_account import Account as EthAccount
from eth_account.signers.local import LocalAccount

from depinkit.chain import TOKEN, Anvil, Chain, Depin, DeployConfig, deploy, dev_account
from depinkit.core.envelope import Report, ReportDomain, encode_report, sign_report
from depinkit.core.keys import Account
from depinkit.networks import NetworkRegistry, default_registry
from depinkit.networks.uptime import HEARTBEAT, Heartbeat, expected_challenge
from depinkit.oracle.app import create_app
from depinkit.oracle.clock import FixedClock
from depinkit.oracle.epochs import (
    ChainInputs,
    EpochPipeline,
    EpochStore,
    Reconciler,
    connect_peers,
)
from depinkit.oracle.indexer import RegistryIndexer
from depinkit.oracle.server import ServerThread
from depinkit.oracle.settings import OracleSettings
from depinkit.oracle.store import Store

EPOCH_S = 60  # the suite's epoch length (chain seconds)
H3_CELL = 0x8928308280FFFFF
OWNER_TOKENS = 1_000 * TOKEN  # enough for a few 100 DPK stakes


@dataclass
class Oracle:
    key: Account
    sender: LocalAccount
    store: Store
    server: ServerThread
    clock: FixedClock  # ingest clock
    pipeline_clock: FixedClock
    db_url: str
    pipeline: EpochPipeline | None = None

    @property
    def url(self) -> str:
        return self.server.url

    @property
    def epochs(self) -> EpochStore:
        return EpochStore(self.store)


@dataclass
class Net:
    chain: Chain
    depin: Depin
    domain: ReportDomain
    networks: NetworkRegistry
    oracles: list[Oracle]
    owners: list[LocalAccount]
    devices: list[Account]
    stack: ExitStack
    pipelines: list[EpochPipeline] = field(default_factory=list)

    @property
    def genesis(self) -> int:
        return self.depin.deployment.parameters["epoch.genesis"]

    def epoch_start_s(self, epoch: int) -> int:
        return self.genesis + epoch * EPOCH_S

    def advance_to(self, timestamp_s: int) -> None:
        now = self.chain.now()
        self.chain.advance_time(max(timestamp_s - now, 0))

    def start_block_hash(self, epoch: int) -> bytes:
        inputs = ChainInputs(self.depin, self.networks)
        return inputs.start_block(inputs.epoch_clock(), epoch)[1]

    def heartbeat(
        self, device: Account, epoch: int, seq: int, *, offset_s: int = 5, good: bool = True
    ) -> Report:
        entropy = self.start_block_hash(epoch)
        challenge = expected_challenge(entropy, device.address, 0) if good else b"\x01" * 16
        return sign_report(
            device,
            self.domain,
            network="uptime",
            kind=HEARTBEAT,
            seq=seq,
            timestamp_ms=(self.epoch_start_s(epoch) + offset_s) * 1000,
            epoch=epoch,
            body=Heartbeat(uptime_s=seq, challenge=challenge),
        )

    def ingest(self, oracle: Oracle, reports: Sequence[Report]) -> None:
        oracle.clock.set(max(r.timestamp_ms for r in reports) + 1_000)
        body = msgspec.msgpack.encode({"reports": [encode_report(r) for r in reports]})
        response = httpx.post(
            f"{oracle.url}/v1/reports",
            content=body,
            headers={"content-type": "application/msgpack"},
            timeout=30,
        )
        assert response.status_code == 200, response.text
        assert response.json()["rejected"] == 0, response.text

    def pipeline(self, oracle: Oracle) -> EpochPipeline:
        """A fresh pipeline over ``oracle``'s store: what a (re)started settle process builds."""
        epochs = EpochStore(oracle.store)
        peers = connect_peers([o.url for o in self.oracles if o is not oracle])
        for peer in peers:
            self.stack.callback(peer.close)
        reconciler = Reconciler(
            epochs=epochs, domain=self.domain, networks=self.networks, peers=peers
        )
        return EpochPipeline(
            epochs=epochs,
            inputs=ChainInputs(self.depin, self.networks),
            networks=self.networks,
            reconciler=reconciler,
            peers=peers,
            signer=oracle.key,
            sender=oracle.sender,
            clock=oracle.pipeline_clock,
            grace_ms=1_000,
        )

    def root_submissions(self) -> list[int]:
        """Epochs of every RootSubmitted event so far, in order."""
        event = self.depin.rewards.contract.events.RootSubmitted()
        logs = event.get_logs(from_block=self.depin.deployment.deployment_block)
        return [int(log["args"]["epoch"]) for log in logs]

    def set_pipeline_clocks(self) -> None:
        for oracle in self.oracles:
            oracle.pipeline_clock.set(self.chain.now() * 1000)


@contextmanager
def local_network(
    tmp_path: Path, *, oracles: int = 3, threshold: int = 2, devices: int = 3
) -> Iterator[Net]:
    with ExitStack() as stack:
        node = stack.enter_context(Anvil())
        chain = Chain.connect(node.url)
        keys = [Account.generate() for _ in range(oracles)]
        senders = [EthAccount.from_key(k.private_key) for k in keys]
        owners = [EthAccount.create() for _ in range(2)]
        chain.fund([s.address for s in senders] + [o.address for o in owners])
        deployer = dev_account()
        config = DeployConfig(
            epoch_length_s=EPOCH_S,
            oracles=tuple(k.address for k in keys),
            threshold=threshold,
        )
        deployment = deploy(chain, deployer, config)
        depin = Depin(chain, deployment)
        device_keys = [Account.generate() for _ in range(devices)]
        for owner in owners:
            depin.token.transfer(deployer, owner.address, OWNER_TOKENS)
        for i, device in enumerate(device_keys):
            depin.registry.onboard(owners[i % len(owners)], device, "uptime", H3_CELL)
        domain = ReportDomain(chain_id=chain.chain_id, registry=deployment.registry)
        networks = default_registry(plugins=lambda: ())
        settings = OracleSettings(chain_id=chain.chain_id, registry=deployment.registry)
        members: list[Oracle] = []
        for i, key in enumerate(keys):
            db_url = f"sqlite:///{tmp_path / f'oracle-{i}.sqlite3'}"
            store = Store.open(db_url, migrate=True)
            stack.callback(store.close)
            RegistryIndexer(
                chain.w3,
                deployment.registry,
                store,
                start_block=deployment.deployment_block,
                confirmations=0,
                max_block_range=10_000,
                network_names_=networks.names(),
            ).catch_up()
            clock = FixedClock(chain.now() * 1000)
            app = create_app(settings=settings, store=store, networks=networks, clock=clock)
            server = stack.enter_context(ServerThread(app))
            members.append(Oracle(key, senders[i], store, server, clock, FixedClock(0), db_url))
        yield Net(chain, depin, domain, networks, members, owners, device_keys, stack)
