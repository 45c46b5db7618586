"""Network modules' carried state and the credits each epoch spent.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "epoch_network_state",
        sa.Column("epoch", sa.BigInteger, primary_key=True),
        sa.Column("network", sa.String(32), primary_key=True),
        sa.Column("state", sa.LargeBinary, nullable=False),
    )
    op.create_table(
        "epoch_credits_spent",
        sa.Column("epoch", sa.BigInteger, primary_key=True),
        sa.Column("consumer", sa.String(42), primary_key=True),
        sa.Column("network", sa.String(32), primary_key=True),
        sa.Column("amount", sa.BigInteger, nullable=False),
    )
    op.create_index("ix_epoch_credits_spent_consumer", "epoch_credits_spent", ["consumer"])


def downgrade() -> None:
    op.drop_index("ix_epoch_credits_spent_consumer", table_name="epoch_credits_spent")
    op.drop_table("epoch_credits_spent")
    op.drop_table("epoch_network_state")
