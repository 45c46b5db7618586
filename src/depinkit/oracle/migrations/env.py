"""Alembic environment: always run online, on the connection the caller passes in."""

from __future__ import annotations

from alembic import context

from depinkit.oracle.store.schema import metadata

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run migrations through depinkit.oracle.store.migrate.upgrade()")
context.configure(connection=connection, target_metadata=metadata)
with context.begin_transaction():
    context.run_migrations()
