"""Indexer checkpoints: the last block a named follower fully processed."""

from __future__ import annotations

from sqlalchemy import Connection, select, update
from sqlalchemy import insert as sa_insert

from depinkit.oracle.store.schema import checkpoints


def get_block(conn: Connection, name: str) -> int | None:
    found = conn.execute(select(checkpoints.c.block).where(checkpoints.c.name == name)).first()
    return None if found is None else int(found[0])


def set_block(conn: Connection, name: str, block: int) -> None:
    """Record ``block`` as processed, in the caller's transaction."""
    done = conn.execute(
        update(checkpoints).where(checkpoints.c.name == name).values(block=block)
    ).rowcount
    if not done:
        conn.execute(sa_insert(checkpoints).values(name=name, block=block))
