"""The chain indexer: event -> row logic, then against a real anvil with the real contracts."""

from __future__ import annotations

import pytest

from depinkit.core import Account, keccak256
from depinkit.oracle.device_events import DeviceEvent, apply_event, apply_events, network_names
from depinkit.oracle.errors import IndexerError
from depinkit.oracle.indexer import CHECKPOINT, RegistryIndexer
from depinkit.oracle.store import DeviceRow, DeviceStatus, Store

NAMES = network_names(["uptime"])
UPTIME = keccak256(b"uptime")
CELL, OTHER_CELL = 0x8A2A1072B59FFFF, 0x8A2A1072B597FFF
DEVICE = Account.generate().address
OWNER, BUYER = Account.generate().address, Account.generate().address


def _event(name: str, block: int, **args: object) -> DeviceEvent:
    return DeviceEvent(name=name, args={"device": DEVICE, **args}, block=block, log_index=0)


def test_events_move_a_device_through_its_life() -> None:
    onboarded = apply_event(
        None,
        _event("DeviceOnboarded", 5, owner=OWNER, network=UPTIME, h3Cell=CELL, stake=100),
        NAMES,
    )
    assert onboarded == DeviceRow(
        DEVICE, OWNER, "0x" + UPTIME.hex(), "uptime", CELL, DeviceStatus.ACTIVE, 100, 0, 5
    )
    rows = apply_events(
        {DEVICE: onboarded},
        [
            _event("LocationUpdated", 6, h3Cell=OTHER_CELL),
            _event("DeviceTransferred", 7, **{"from": OWNER, "to": BUYER}),
            _event("DeviceSlashed", 8, amount=30, reason=b"\x00" * 32),
            _event("DeviceDeactivated", 9, unbondingEnds=1_000),
            _event("StakeWithdrawn", 10, owner=BUYER, amount=70),
        ],
        NAMES,
    )
    assert rows[DEVICE] == DeviceRow(
        DEVICE, BUYER, "0x" + UPTIME.hex(), "uptime", OTHER_CELL, DeviceStatus.WITHDRAWN, 0,
        1_000, 10,
    )  # fmt: skip


def test_unknown_network_keeps_its_id_without_a_name() -> None:
    other = keccak256(b"someone-elses")
    row = apply_event(
        None,
        _event("DeviceOnboarded", 1, owner=OWNER, network=other, h3Cell=CELL, stake=1),
        NAMES,
    )
    assert row.network is None and row.network_id == "0x" + other.hex()


def test_slash_beyond_the_stake_leaves_zero() -> None:
    row = apply_event(
        None, _event("DeviceOnboarded", 1, owner=OWNER, network=UPTIME, h3Cell=CELL, stake=5), NAMES
    )
    assert apply_event(row, _event("DeviceSlashed", 2, amount=9, reason=b""), NAMES).stake == 0


def test_event_for_a_device_never_onboarded_is_an_error() -> None:
    with pytest.raises(IndexerError, match="deployment block"):
        apply_event(None, _event("LocationUpdated", 3, h3Cell=CELL), NAMES)
    with pytest.raises(IndexerError, match="not a device event"):
        apply_event(None, _event("MakerSet", 3), NAMES)


# --- against a real anvil -------------------------------------------------------------------


def _assert_matches_chain(store: Store, depin: object, addresses: list[str]) -> None:
    from depinkit.chain import Depin

    assert isinstance(depin, Depin)
    rows = store.get_devices(addresses)
    for address in addresses:
        record = depin.registry.device(address)
        row = rows[address]
        assert (row.owner, row.network_id, row.h3_cell, row.stake, row.unbonding_ends) == (
            record.owner,
            "0x" + record.network.hex(),
            record.h3_cell,
            record.stake,
            record.unbonding_ends,
        )
        assert row.status == {1: "active", 2: "unbonding", 3: "withdrawn"}[int(record.status)]


@pytest.mark.anvil
def test_indexer_follows_the_registry_on_anvil(anvil_url: str, db_url: str) -> None:
    from depinkit.chain import Chain, Depin, deploy, dev_account

    chain = Chain.connect(anvil_url)
    owner = dev_account()
    deployment = deploy(chain, owner)
    depin = Depin(chain, deployment)
    store = Store.open(db_url, migrate=True)

    def indexer() -> RegistryIndexer:  # a fresh one each time: a restart
        return RegistryIndexer(
            chain.w3,
            deployment.registry,
            store,
            start_block=deployment.deployment_block,
            confirmations=2,
            max_block_range=3,  # small, so a catch-up spans several get_logs ranges
            network_names_=["uptime"],
        )

    a, b, c = Account.generate(), Account.generate(), Account.generate()
    buyer = Account.generate().address
    for device in (a, b, c):
        depin.registry.onboard(owner, device, "uptime", CELL)
    depin.registry.transfer(owner, b.address, buyer)
    depin.registry.deactivate(owner, c.address)
    depin.registry.update_location(owner, a.address, OTHER_CELL)
    chain.mine(2)
    last = indexer().catch_up()
    assert last == chain.block_number() - 2 == store.checkpoint(CHECKPOINT)
    addresses = [a.address, b.address, c.address]
    _assert_matches_chain(store, depin, addresses)
    assert store.get_devices([b.address])[b.address].owner == buyer
    assert store.get_devices([c.address])[c.address].status == DeviceStatus.UNBONDING

    # Confirmations: a fresh event is not indexed until it is 2 blocks deep.
    depin.registry.update_location(owner, a.address, CELL)
    restarted = indexer()
    assert restarted.last_block() == last  # resumes from its checkpoint
    restarted.catch_up()
    assert store.get_devices([a.address])[a.address].h3_cell == OTHER_CELL
    chain.mine(1)
    restarted.catch_up()
    assert store.get_devices([a.address])[a.address].h3_cell == OTHER_CELL
    chain.mine(1)
    restarted.catch_up()
    assert store.get_devices([a.address])[a.address].h3_cell == CELL

    # Unbonding over: withdrawal zeroes the stake; a restart does not re-apply anything.
    chain.advance_time(deployment.parameters["registry.unbondingPeriod"] + 1)
    depin.registry.withdraw(owner, c.address)
    chain.mine(2)
    indexer().catch_up()
    indexer().catch_up()
    _assert_matches_chain(store, depin, addresses)
    assert store.get_devices([c.address])[c.address].status == DeviceStatus.WITHDRAWN
    assert store.get_devices([c.address])[c.address].stake == 0
    store.close()
