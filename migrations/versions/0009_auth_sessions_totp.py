"""auth: a per-user session generation (logout, password or role change end every session) and the
last TOTP time-step used (each code works once)

Revision ID: 0009_auth_sessions_totp
Revises: 0008_outbox_unknown_outcome
"""
from __future__ import annotations

from alembic import op
import sqlalchemy as sa

revision = "0009_auth_sessions_totp"
down_revision = "0008_outbox_unknown_outcome"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("users", schema=None) as batch_op:
        # Existing users start at generation 0; their current cookies carry none and must sign in again.
        batch_op.add_column(sa.Column("session_generation", sa.Integer(), nullable=False, server_default="0"))
        batch_op.add_column(sa.Column("totp_last_step", sa.BigInteger(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_column("totp_last_step")
        batch_op.drop_column("session_generation")
