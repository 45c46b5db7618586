"""Initial schema: reports, devices, indexer checkpoints.

Revision ID: 0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "reports",
        sa.Column("id", sa.LargeBinary(32), primary_key=True),
        sa.Column("device", sa.String(42), nullable=False),
        sa.Column("network", sa.String(32), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("seq", sa.BigInteger, nullable=False),
        sa.Column("epoch", sa.BigInteger, nullable=False),
        sa.Column("timestamp_ms", sa.BigInteger, nullable=False),
        sa.Column("received_ms", sa.BigInteger, nullable=False),
        sa.Column("raw", sa.LargeBinary, nullable=False),
        sa.UniqueConstraint("device", "seq", name="uq_reports_device_seq"),
    )
    op.create_index("ix_reports_epoch_device", "reports", ["epoch", "device"])
    op.create_table(
        "devices",
        sa.Column("address", sa.String(42), primary_key=True),
        sa.Column("owner", sa.String(42), nullable=False),
        sa.Column("network_id", sa.String(66), nullable=False),
        sa.Column("network", sa.String(32), nullable=True),
        sa.Column("h3_cell", sa.String(78), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("stake", sa.String(78), nullable=False),
        sa.Column("unbonding_ends", sa.BigInteger, nullable=False),
        sa.Column("last_block", sa.BigInteger, nullable=False),
    )
    op.create_table(
        "checkpoints",
        sa.Column("name", sa.String(64), primary_key=True),
        sa.Column("block", sa.BigInteger, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("checkpoints")
    op.drop_table("devices")
    op.drop_index("ix_reports_epoch_device", table_name="reports")
    op.drop_table("reports")
