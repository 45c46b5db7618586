"""Alembic migrations of the oracle store (run by depinkit.oracle.store.migrate)."""
