"""Epoch settlement: epoch state, cumulative totals, manifests, signatures.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "epochs",
        sa.Column("epoch", sa.BigInteger, primary_key=True),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("start_block", sa.BigInteger, nullable=False),
        sa.Column("entropy", sa.LargeBinary(32), nullable=False),
        sa.Column("start_ms", sa.BigInteger, nullable=False),
        sa.Column("end_ms", sa.BigInteger, nullable=False),
        sa.Column("parameters", sa.Text, nullable=False),
        sa.Column("reconciled_ms", sa.BigInteger, nullable=True),
        sa.Column("root", sa.LargeBinary(32), nullable=True),
        sa.Column("total", sa.String(78), nullable=True),
        sa.Column("carry_out", sa.String(78), nullable=True),
        sa.Column("digest", sa.LargeBinary(32), nullable=True),
        sa.Column("oracles", sa.Text, nullable=True),
        sa.Column("threshold", sa.Integer, nullable=True),
        sa.Column("tx_hash", sa.LargeBinary(32), nullable=True),
        sa.Column("updated_ms", sa.BigInteger, nullable=False),
    )
    op.create_table(
        "epoch_totals",
        sa.Column("epoch", sa.BigInteger, primary_key=True),
        sa.Column("account", sa.String(42), primary_key=True),
        sa.Column("amount", sa.String(78), nullable=False),
    )
    op.create_table(
        "epoch_manifests",
        sa.Column("epoch", sa.BigInteger, primary_key=True),
        sa.Column("hash", sa.LargeBinary(32), nullable=False),
        sa.Column("body", sa.LargeBinary, nullable=False),
    )
    op.create_table(
        "epoch_signatures",
        sa.Column("epoch", sa.BigInteger, primary_key=True),
        sa.Column("signer", sa.String(42), primary_key=True),
        sa.Column("signature", sa.LargeBinary(65), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("epoch_signatures")
    op.drop_table("epoch_manifests")
    op.drop_table("epoch_totals")
    op.drop_table("epochs")
