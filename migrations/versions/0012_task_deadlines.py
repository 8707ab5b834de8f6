"""outages: family contacts in the check-in and field tasks with an acknowledgement deadline (issue 19)

``outage_contact_checkins`` records each registered contact asked to check in for a silent or
unreachable patient (the one-tap token names the row, so an answer is labelled as the contact's).
``outage_patients`` gets ``contact_step`` (existing rows: 0) and ``answered_by_contact``;
``field_tasks`` gets ``ack_deadline_at``, ``handoff_of_id`` and ``handoff_reason``. Existing tasks
keep no deadline (nothing moves them); existing rows are otherwise unchanged.

Revision ID: 0012_task_deadlines
Revises: 0009_runway_equipment
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from bcp_service.db import UTCDateTime

UTC = UTCDateTime(timezone=True)

revision = "0012_task_deadlines"
down_revision = "0009_runway_equipment"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "outage_contact_checkins",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("outage_id", sa.Integer(), nullable=False),
        sa.Column("patient_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("relation", sa.String(length=50), nullable=True),
        sa.Column("channel", sa.String(length=8), nullable=False),
        sa.Column("sent_at", UTC, nullable=False),
        sa.Column("answered_at", UTC, nullable=True),
        sa.Column("answer", sa.String(length=16), nullable=True),
        sa.ForeignKeyConstraint(["outage_id"], ["outages.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["patient_id"], ["patients.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_outage_contact_checkins_patient", "outage_contact_checkins", ["outage_id", "patient_id"])
    with op.batch_alter_table("outage_patients", schema=None) as batch_op:
        batch_op.add_column(sa.Column("contact_step", sa.Integer(), server_default="0", nullable=False))
        batch_op.add_column(sa.Column("answered_by_contact", sa.Integer(), nullable=True))
    with op.batch_alter_table("field_tasks", schema=None) as batch_op:
        batch_op.add_column(sa.Column("ack_deadline_at", UTC, nullable=True))
        batch_op.add_column(sa.Column("handoff_of_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("handoff_reason", sa.String(length=16), nullable=True))
        batch_op.create_index("ix_field_tasks_ack_deadline_at", ["ack_deadline_at"])


def downgrade() -> None:
    with op.batch_alter_table("field_tasks", schema=None) as batch_op:
        batch_op.drop_index("ix_field_tasks_ack_deadline_at")
        batch_op.drop_column("handoff_reason")
        batch_op.drop_column("handoff_of_id")
        batch_op.drop_column("ack_deadline_at")
    with op.batch_alter_table("outage_patients", schema=None) as batch_op:
        batch_op.drop_column("answered_by_contact")
        batch_op.drop_column("contact_step")
    op.drop_index("ix_outage_contact_checkins_patient", table_name="outage_contact_checkins")
    op.drop_table("outage_contact_checkins")
