"""Fixtures for the oracle tests: a migrated store, devices, a live ingest server."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

import httpx
import msgspec
import pytest

from depinkit.core import Account, Report, ReportDomain, UnsignedReport, keccak256
from depinkit.core.envelope import REPORT_VERSION, report_digest
from depinkit.networks import NetworkRegistry, NetworkSpec
from depinkit.networks.uptime import Heartbeat, network_spec
from depinkit.oracle.app import create_app
from depinkit.oracle.clock import FixedClock
from depinkit.oracle.server import ServerThread
from depinkit.oracle.settings import OracleSettings
from depinkit.oracle.store import DeviceRow, DeviceStatus, Store

NOW_MS = 1_750_000_000_000  # the oracle clock in these tests
REGISTRY = "0x5FbDB2315678afecb367f032d93F642f64180aa3"
CHAIN_ID = 31337


class Reading(msgspec.Struct, frozen=True, array_like=True):
    """Body of the test-only ``weather`` network's ``reading`` kind."""

    millikelvin: int


def network_id(name: str) -> str:
    return "0x" + keccak256(name.encode()).hex()


def make_report(
    account: Account,
    domain: ReportDomain,
    *,
    seq: int = 0,
    timestamp_ms: int = NOW_MS,
    epoch: int = 0,
    network: str = "uptime",
    kind: str = "heartbeat",
    body: bytes | None = None,
    device: str | None = None,
) -> Report:
    """A report signed by ``account`` with any body bytes (valid or not)."""
    unsigned = UnsignedReport(
        version=REPORT_VERSION,
        network=network,
        kind=kind,
        device=device or account.address,
        seq=seq,
        timestamp_ms=timestamp_ms,
        epoch=epoch,
        body=msgspec.msgpack.encode(Heartbeat(uptime_s=seq)) if body is None else body,
    )
    signature = account.sign_digest(report_digest(domain, unsigned))
    fields = {f: getattr(unsigned, f) for f in unsigned.__struct_fields__}
    return Report(**fields, signature=signature)


@pytest.fixture(scope="module")
def anvil_url() -> Iterator[str]:
    """A real anvil node for this test module."""
    from depinkit.chain import Anvil

    with Anvil() as node:
        yield node.url


@pytest.fixture
def domain() -> ReportDomain:
    return ReportDomain(chain_id=CHAIN_ID, registry=REGISTRY)


@pytest.fixture
def networks() -> NetworkRegistry:
    return NetworkRegistry(
        [network_spec(), NetworkSpec(name="weather", kinds={"reading": Reading})]
    )


@pytest.fixture
def store(db_url: str) -> Iterator[Store]:
    s = Store.open(db_url, migrate=True)
    yield s
    s.close()


@pytest.fixture
def add_device(store: Store) -> Callable[..., Account]:
    def add(
        account: Account | None = None,
        *,
        network: str = "uptime",
        status: str = DeviceStatus.ACTIVE,
    ) -> Account:
        account = account or Account.generate()
        store.upsert_devices(
            [
                DeviceRow(
                    address=account.address,
                    owner=account.address,
                    network_id=network_id(network),
                    network=network,
                    h3_cell=0x8928308280FFFFF,
                    status=status,
                    stake=10**18,
                    unbonding_ends=0,
                    last_block=1,
                )
            ]
        )
        return account

    return add


@dataclass
class Ingest:
    url: str
    client: httpx.Client
    store: Store
    clock: FixedClock
    settings: OracleSettings

    def post(self, body: bytes, content_type: str = "application/msgpack") -> httpx.Response:
        return self.client.post("/v1/reports", content=body, headers={"content-type": content_type})


@pytest.fixture
def ingest(store: Store, networks: NetworkRegistry) -> Iterator[Ingest]:
    """The ingest app served over real HTTP on a free loopback port."""
    settings = OracleSettings(chain_id=CHAIN_ID, registry=REGISTRY, max_batch=50)
    clock = FixedClock(NOW_MS)
    app = create_app(settings=settings, store=store, networks=networks, clock=clock)
    with ServerThread(app) as server, httpx.Client(base_url=server.url, timeout=30) as client:
        yield Ingest(server.url, client, store, clock, settings)
