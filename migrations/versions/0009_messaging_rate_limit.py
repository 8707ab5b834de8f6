"""messaging: the provider rate limit shared by every dispatcher process (one row per limit)

Revision ID: 0009_messaging_rate_limit
Revises: 0008_outbox_unknown_outcome
"""
from __future__ import annotations

from alembic import op
import sqlalchemy as sa

revision = "0009_messaging_rate_limit"
down_revision = "0008_outbox_unknown_outcome"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "messaging_rate_limit",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("tat", sa.Double(), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_messaging_rate_limit")),
    )


def downgrade() -> None:
    op.drop_table("messaging_rate_limit")
