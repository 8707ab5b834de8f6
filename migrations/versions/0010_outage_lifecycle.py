"""outages: follow-up cycles, urgent-request time, partial restoration, flagged transport proposals

``outage_patients`` gains ``cycle`` (re-checks started), ``last_answer_at``, ``help_requested_at`` and
``restored_at``; ``transports`` gains ``flag``. Existing rows: ``last_answer_at`` = ``answered_at``,
``help_requested_at`` = ``answered_at`` for rows already in ``needs_help``.

Revision ID: 0010_outage_lifecycle
Revises: 0009_runway_equipment
"""
from __future__ import annotations

from alembic import op
import sqlalchemy as sa

from bcp_service.db import UTCDateTime

revision = "0010_outage_lifecycle"
down_revision = "0009_runway_equipment"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("outage_patients", schema=None) as batch_op:
        batch_op.add_column(sa.Column("cycle", sa.Integer(), server_default="0", nullable=False))
        batch_op.add_column(sa.Column("last_answer_at", UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("help_requested_at", UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("restored_at", UTCDateTime(timezone=True), nullable=True))
    with op.batch_alter_table("transports", schema=None) as batch_op:
        batch_op.add_column(sa.Column("flag", sa.String(length=40), nullable=True))
    op.execute("UPDATE outage_patients SET last_answer_at = answered_at")
    op.execute("UPDATE outage_patients SET help_requested_at = answered_at WHERE checkin = 'needs_help'")


def downgrade() -> None:
    with op.batch_alter_table("transports", schema=None) as batch_op:
        batch_op.drop_column("flag")
    with op.batch_alter_table("outage_patients", schema=None) as batch_op:
        batch_op.drop_column("restored_at")
        batch_op.drop_column("help_requested_at")
        batch_op.drop_column("last_answer_at")
        batch_op.drop_column("cycle")
