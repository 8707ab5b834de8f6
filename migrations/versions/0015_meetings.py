"""meetings: 協議の場 records (date, attendees by organisation, agenda, decisions) per region (issue 16)

Decisions may become corrective actions: corrective_actions gets ``meeting_id`` and ``drill_id`` becomes
nullable (an action comes from a drill finding or a meeting decision). Existing actions keep their drill.

Revision ID: 0015_meetings
Revises: 0014_child_care_capabilities
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import bcp_service.db

revision = "0015_meetings"
down_revision = "0014_child_care_capabilities"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "meetings",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("region_code", sa.String(length=32), nullable=False),
        sa.Column("held_on", sa.Date(), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("agenda", sa.Text(), nullable=False),
        sa.Column("notes", sa.Text(), nullable=True),
        sa.Column("created_by", sa.Integer(), nullable=True),
        sa.Column("created_at", bcp_service.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["region_code"], ["regions.code"], name=op.f("fk_meetings_region_code_regions")),
        sa.ForeignKeyConstraint(["created_by"], ["users.id"], name=op.f("fk_meetings_created_by_users"),
                                ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_meetings")),
    )
    op.create_index(op.f("ix_meetings_region_code"), "meetings", ["region_code"], unique=False)
    op.create_table(
        "meeting_attendees",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("meeting_id", sa.Integer(), nullable=False),
        sa.Column("organization_id", sa.Integer(), nullable=False),
        sa.Column("names", sa.String(length=500), nullable=True),
        sa.ForeignKeyConstraint(["meeting_id"], ["meetings.id"], name=op.f("fk_meeting_attendees_meeting_id_meetings"),
                                ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["organization_id"], ["organizations.id"],
                                name=op.f("fk_meeting_attendees_organization_id_organizations")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_meeting_attendees")),
    )
    op.create_index(op.f("ix_meeting_attendees_meeting_id"), "meeting_attendees", ["meeting_id"], unique=False)
    with op.batch_alter_table("corrective_actions", schema=None) as batch_op:
        batch_op.alter_column("drill_id", existing_type=sa.Integer(), nullable=True)
        batch_op.add_column(sa.Column("meeting_id", sa.Integer(), nullable=True))
        batch_op.create_foreign_key(batch_op.f("fk_corrective_actions_meeting_id_meetings"), "meetings", ["meeting_id"], ["id"],
                                    ondelete="CASCADE")
        batch_op.create_index(batch_op.f("ix_corrective_actions_meeting_id"), ["meeting_id"], unique=False)
    op.create_table(
        "meeting_decisions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("meeting_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("action_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["meeting_id"], ["meetings.id"], name=op.f("fk_meeting_decisions_meeting_id_meetings"),
                                ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["action_id"], ["corrective_actions.id"],
                                name=op.f("fk_meeting_decisions_action_id_corrective_actions"), ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_meeting_decisions")),
    )
    op.create_index(op.f("ix_meeting_decisions_meeting_id"), "meeting_decisions", ["meeting_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_meeting_decisions_meeting_id"), table_name="meeting_decisions")
    op.drop_table("meeting_decisions")
    op.execute("DELETE FROM corrective_actions WHERE drill_id IS NULL")
    with op.batch_alter_table("corrective_actions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_corrective_actions_meeting_id"))
        batch_op.drop_constraint(batch_op.f("fk_corrective_actions_meeting_id_meetings"), type_="foreignkey")
        batch_op.drop_column("meeting_id")
        batch_op.alter_column("drill_id", existing_type=sa.Integer(), nullable=False)
    op.drop_index(op.f("ix_meeting_attendees_meeting_id"), table_name="meeting_attendees")
    op.drop_table("meeting_attendees")
    op.drop_index(op.f("ix_meetings_region_code"), table_name="meetings")
    op.drop_table("meetings")
