"""The oracle's tables, as SQLAlchemy Core objects used by queries.

The DDL itself lives in the Alembic migrations (``depinkit/oracle/migrations``);
a test checks that the migrated database and these objects agree, so a column
added here without a migration fails the suite.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    BigInteger,
    Column,
    Dialect,
    Index,
    LargeBinary,
    MetaData,
    String,
    Table,
    UniqueConstraint,
)
from sqlalchemy.types import TypeDecorator

UINT_DIGITS = 78  # decimal digits of 2**256 - 1: any uint256 from the chain fits

ADDRESS_CHARS = 42  # "0x" + 40 hex digits, EIP-55 checksummed
NAME_CHARS = 32  # network and kind names: [a-z0-9_-], at most 32 chars (core envelope rule)


class Uint(TypeDecorator[int]):
    """An unsigned integer of up to 256 bits, stored exactly as decimal text.

    SQLite has no exact type wider than 64 bits (NUMERIC silently becomes a
    float), and stakes are uint256 in token base units; text keeps every
    backend exact with one code path.
    """

    impl = String(UINT_DIGITS)
    cache_ok = True

    def process_bind_param(self, value: int | None, dialect: Dialect) -> str | None:
        if value is None:
            return None
        if value < 0:
            raise ValueError("Uint columns hold non-negative integers only")
        return str(value)

    def process_result_value(self, value: Any, dialect: Dialect) -> int | None:
        return None if value is None else int(value)


metadata = MetaData()

reports = Table(
    "reports",
    metadata,
    Column("id", LargeBinary(32), primary_key=True),  # report digest (core.report_id)
    Column("device", String(ADDRESS_CHARS), nullable=False),
    Column("network", String(NAME_CHARS), nullable=False),
    Column("kind", String(NAME_CHARS), nullable=False),
    Column("seq", BigInteger, nullable=False),
    Column("epoch", BigInteger, nullable=False),
    Column("timestamp_ms", BigInteger, nullable=False),  # device clock
    Column("received_ms", BigInteger, nullable=False),  # oracle clock at acceptance
    Column("raw", LargeBinary, nullable=False),  # the encoded signed report as received
    UniqueConstraint("device", "seq", name="uq_reports_device_seq"),
    Index("ix_reports_epoch_device", "epoch", "device"),
)

devices = Table(
    "devices",
    metadata,
    Column("address", String(ADDRESS_CHARS), primary_key=True),
    Column("owner", String(ADDRESS_CHARS), nullable=False),
    Column("network_id", String(66), nullable=False),  # bytes32 hex: keccak256(network name)
    Column("network", String(NAME_CHARS), nullable=True),  # name, when the oracle knows it
    Column("h3_cell", Uint, nullable=False),
    Column("status", String(16), nullable=False),  # see DeviceStatus
    Column("stake", Uint, nullable=False),  # token base units still locked
    Column("unbonding_ends", BigInteger, nullable=False),  # unix s, 0 unless unbonding
    Column("last_block", BigInteger, nullable=False),  # block of the last event applied
)

checkpoints = Table(
    "checkpoints",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("block", BigInteger, nullable=False),  # last block fully processed
)
