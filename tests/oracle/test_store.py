"""The store on both backends: migrations, round trips, batch outcomes."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect

# The epoch pipeline's tables live on the same MetaData (migration 0002): imported here so the
# schema compared with the migrations is the whole one, whatever else a worker imported.
import depinkit.oracle.epochs.schema  # noqa: F401
from depinkit.oracle.errors import StoreError
from depinkit.oracle.store import DeviceRow, DeviceStatus, ReportRow, Store
from depinkit.oracle.store.migrate import current_revision, head_revision
from depinkit.oracle.store.schema import metadata


def _report(n: int, *, device: str = "0x" + "11" * 20, seq: int | None = None) -> ReportRow:
    return ReportRow(
        id=n.to_bytes(32, "big"),
        device=device,
        network="uptime",
        kind="heartbeat",
        seq=n if seq is None else seq,
        epoch=n // 10,
        timestamp_ms=1_700_000_000_000 + n,
        received_ms=1_700_000_000_500 + n,
        raw=b"\x99" + n.to_bytes(8, "big") * 3,
    )


def _device(address: str, *, block: int = 1, stake: int = 10**18) -> DeviceRow:
    return DeviceRow(
        address=address,
        owner="0x" + "22" * 20,
        network_id="0x" + "ab" * 32,
        network="uptime",
        h3_cell=0x8928308280FFFFF,
        status=DeviceStatus.ACTIVE,
        stake=stake,
        unbonding_ends=0,
        last_block=block,
    )


@pytest.fixture
def store(db_url: str) -> Iterator[Store]:
    s = Store.open(db_url, migrate=True)
    yield s
    s.close()


def test_migrations_from_empty_match_the_schema(db_url: str) -> None:
    s = Store.open(db_url, migrate=True)
    try:
        assert current_revision(s.engine) == head_revision() == "0003"
        with s.engine.connect() as conn:
            diffs = compare_metadata(MigrationContext.configure(conn), metadata)
        assert diffs == []
        assert {"reports", "devices", "checkpoints"} <= set(inspect(s.engine).get_table_names())
        s.migrate()  # running again is a no-op
        assert current_revision(s.engine) == "0003"
    finally:
        s.close()


def test_unmigrated_database_is_refused(db_url: str) -> None:
    with pytest.raises(StoreError, match="oracle migrate"):
        Store.open(db_url)


def test_unsupported_backend_is_refused() -> None:
    with pytest.raises(StoreError, match="unsupported"):
        Store.open("mysql://localhost/x")


def test_report_round_trip_and_listing(store: Store) -> None:
    rows = [_report(n) for n in range(25)]
    outcome = store.insert_reports(rows)
    assert outcome.inserted == {r.id for r in rows}
    assert not outcome.duplicates and not outcome.conflicts
    assert store.get_report(rows[3].id) == rows[3]
    assert store.get_report(b"\xff" * 32) is None
    assert store.count_reports() == 25
    page1 = store.list_reports(limit=10)
    page2 = store.list_reports(limit=10, after=page1[-1].id)
    page3 = store.list_reports(limit=10, after=page2[-1].id)
    assert page1 + page2 + page3 == sorted(rows, key=lambda r: r.id)
    assert store.list_reports(epoch=1) == rows[10:20]
    assert store.list_reports(device="0x" + "33" * 20) == []


def test_batch_insert_is_idempotent_and_refuses_seq_replay(store: Store) -> None:
    first = [_report(n) for n in range(5)]
    store.insert_reports(first)
    replay = _report(100, seq=2)  # same device and seq as first[2], other content
    again = store.insert_reports([*first[:2], replay, _report(6)])
    assert again.inserted == {_report(6).id}
    assert again.duplicates == {first[0].id, first[1].id}
    assert again.conflicts == {replay.id}
    assert store.count_reports() == 6
    assert store.get_report(first[2].id) == first[2]


def test_other_device_may_reuse_a_seq(store: Store) -> None:
    a, b = _report(1, seq=7), _report(2, seq=7, device="0x" + "33" * 20)
    assert store.insert_reports([a, b]).inserted == {a.id, b.id}


def test_devices_and_checkpoint_commit_together(store: Store) -> None:
    assert store.checkpoint("registry") is None
    d1, d2 = _device("0x" + "aa" * 20), _device("0x" + "bb" * 20, stake=2**255 + 1)
    store.commit_blocks("registry", [d1, d2], 10)
    assert store.checkpoint("registry") == 10
    assert store.get_devices([d1.address, d2.address, "0x" + "cc" * 20]) == {
        d1.address: d1,
        d2.address: d2,
    }
    moved = _device(d1.address, block=12)
    store.commit_blocks("registry", [moved], 12)
    assert store.checkpoint("registry") == 12
    assert store.all_devices() == [moved, d2]


def test_failed_transaction_writes_nothing(store: Store) -> None:
    d1 = _device("0x" + "aa" * 20)
    with pytest.raises(RuntimeError), store.write() as conn:
        from depinkit.oracle.store import checkpoints, devices

        devices.upsert_rows(conn, [d1])
        checkpoints.set_block(conn, "registry", 5)
        raise RuntimeError("crash between the rows and the commit")
    assert store.checkpoint("registry") is None
    assert store.all_devices() == []


def test_a_batch_larger_than_one_statement(store: Store) -> None:
    rows = [_report(n) for n in range(2500)]  # SQLite splits it into several INSERTs
    assert store.insert_reports(rows).inserted == {r.id for r in rows}
    again = store.insert_reports([*rows[:3], _report(9999, seq=5)])
    assert again.duplicates == {r.id for r in rows[:3]}
    assert again.conflicts == {_report(9999).id}
    assert store.count_reports() == 2500
