"""Device rows written by the chain indexer and read by the ingest checks."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from sqlalchemy import Connection, String, any_, bindparam, select
from sqlalchemy.dialects import postgresql, sqlite

from depinkit.oracle.store.rows import DeviceRow
from depinkit.oracle.store.schema import devices

_COLUMNS = tuple(devices.c)


def _row(values: Sequence[object]) -> DeviceRow:
    return DeviceRow(*values)  # type: ignore[arg-type]


def get_rows(conn: Connection, addresses: Iterable[str]) -> dict[str, DeviceRow]:
    wanted = list(set(addresses))
    if not wanted:
        return {}
    if conn.dialect.name == "postgresql":  # one array parameter, not one per address
        addresses_param = bindparam("addresses", wanted, type_=postgresql.ARRAY(String))
        query = select(*_COLUMNS).where(devices.c.address == any_(addresses_param))
    else:
        query = select(*_COLUMNS).where(devices.c.address.in_(wanted))
    return {row.address: row for row in map(_row, conn.execute(query))}


def all_rows(conn: Connection) -> list[DeviceRow]:
    return [_row(r) for r in conn.execute(select(*_COLUMNS).order_by(devices.c.address))]


def upsert_rows(conn: Connection, rows: Sequence[DeviceRow]) -> None:
    """Write ``rows`` over whatever the table holds for those addresses."""
    if not rows:
        return
    params = [{name: getattr(r, name) for name in r.__struct_fields__} for r in rows]
    updated = {c.name: c for c in _COLUMNS if c.name != "address"}
    if conn.dialect.name == "postgresql":
        pg = postgresql.insert(devices)
        conn.execute(
            pg.on_conflict_do_update(
                index_elements=[devices.c.address],
                set_={name: pg.excluded[name] for name in updated},
            ),
            params,
        )
    else:
        lite = sqlite.insert(devices)
        conn.execute(
            lite.on_conflict_do_update(
                index_elements=[devices.c.address],
                set_={name: lite.excluded[name] for name in updated},
            ),
            params,
        )
