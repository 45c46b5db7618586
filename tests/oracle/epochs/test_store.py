"""The epoch tables on both backends: moves are one step at a time, atomic, idempotent."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect

from depinkit.core.keys import Account
from depinkit.oracle.epochs import states
from depinkit.oracle.epochs.errors import EpochError
from depinkit.oracle.epochs.schema import epochs as epoch_table  # also registers the tables
from depinkit.oracle.epochs.store import EpochStore, Opened, Scored
from depinkit.oracle.store import Store
from depinkit.oracle.store.migrate import current_revision, head_revision
from depinkit.oracle.store.schema import metadata

NOW_MS = 1_750_000_000_000
ENTROPY = b"\x11" * 32


def _opened(epoch: int, block: int) -> Opened:
    return Opened(
        epoch=epoch,
        start_block=block,
        entropy=b"\x11" * 32,
        start_ms=NOW_MS + epoch * 60_000,
        end_ms=NOW_MS + (epoch + 1) * 60_000,
        parameters={"uptime": {"slot_s": 3_600}},
    )


@pytest.fixture
def epochs(db_url: str) -> Iterator[EpochStore]:
    store = Store.open(db_url, migrate=True)
    yield EpochStore(store)
    store.close()


def _scored(totals: dict[str, int], oracles: list[str]) -> Scored:
    return Scored(
        root=b"\x22" * 32,
        total=sum(totals.values()),
        carry_out=7,
        digest=b"\x33" * 32,
        oracles=oracles,
        threshold=2,
        totals=totals,
        manifest_hash=b"\x44" * 32,
        manifest=b"\x90",
    )


def test_migration_creates_the_epoch_tables(epochs: EpochStore) -> None:
    engine = epochs.store.engine
    assert current_revision(engine) == head_revision() == "0003"
    tables = set(inspect(engine).get_table_names())
    assert {
        "epochs",
        "epoch_totals",
        "epoch_manifests",
        "epoch_signatures",
        "epoch_network_state",
        "epoch_credits_spent",
    } <= tables
    with engine.connect() as conn:  # the epoch tables are on the store's MetaData
        assert compare_metadata(MigrationContext.configure(conn), metadata) == []


def test_an_epoch_walks_every_state_once(epochs: EpochStore) -> None:
    row = epochs.collect(_opened(3, 120), NOW_MS)
    assert (row.state, row.start_block, row.entropy) == (states.COLLECTED, 120, ENTROPY)
    assert epochs.collect(_opened(3, 999), NOW_MS).start_block == 120  # idempotent
    with pytest.raises(EpochError):
        epochs.scored(3, _scored({}, []), NOW_MS)  # skipping reconciled is refused
    epochs.reconciled(3, NOW_MS, NOW_MS)
    big = 2**200  # uint256 amounts survive both backends exactly
    oracle = Account.generate().address
    totals = {"0x" + "ab" * 20: big, "0x" + "01" * 20: 5}
    epochs.scored(3, _scored(totals, [oracle]), NOW_MS + 1)
    with pytest.raises(EpochError):
        epochs.scored(3, _scored({}, []), NOW_MS)  # a second scoring is refused
    row = epochs.get(3)
    assert row is not None and row.state == states.SCORED
    assert row.total == big + 5 and row.carry_out == 7 and row.oracles == [oracle]
    assert epochs.totals(3) == dict(sorted(totals.items()))
    assert epochs.manifest(3) == (b"\x44" * 32, b"\x90")
    epochs.signed(3, oracle, b"\x55" * 65, NOW_MS + 2)
    assert epochs.add_signatures(3, [(oracle, b"\x66" * 65)]) == 0  # first one kept
    assert epochs.signatures(3) == {oracle: b"\x55" * 65}
    epochs.submitted(3, b"\x77" * 32, NOW_MS + 3)
    assert epochs.latest(states.SUBMITTED) == epochs.get(3)
    with pytest.raises(EpochError):
        epochs.submitted(3, None, NOW_MS)
    assert epochs.latest(states.SUBMITTED) is not None
    assert epochs.get(4) is None


def test_latest_and_signature_order(epochs: EpochStore) -> None:
    assert epochs.latest(states.COLLECTED) is None
    for epoch in (1, 2):
        epochs.collect(_opened(epoch, epoch), NOW_MS)
    epochs.reconciled(1, NOW_MS, NOW_MS)
    assert epochs.latest(states.RECONCILED).epoch == 1  # type: ignore[union-attr]
    assert epochs.latest(states.COLLECTED).epoch == 2  # type: ignore[union-attr]
    signers = sorted((Account.generate().address for _ in range(4)), key=str.lower)
    assert epochs.add_signatures(1, [(s, bytes(65)) for s in reversed(signers)]) == 4
    assert list(epochs.signatures(1)) == sorted(signers, key=lambda s: int(s, 16))


def test_open_from_skips_the_settled_prefix(epochs: EpochStore) -> None:
    assert epochs.open_from(0) == 0
    for epoch in (0, 1, 3):
        epochs.collect(_opened(epoch, epoch), NOW_MS)
    assert epochs.open_from(0) == 0
    with epochs.store.write() as conn:  # mark 0, 1 and 3 submitted, leave 2 missing
        conn.execute(epoch_table.update().values(state=states.SUBMITTED))
    assert epochs.open_from(0) == 2
    assert epochs.open_from(3) == 4
    assert epochs.open_from(10) == 10
