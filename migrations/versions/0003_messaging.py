"""messaging: outbox, provider events, opt-outs, staff roll-calls

Revision ID: 0003_messaging
Revises: 0001_foundation
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import bcp_service.db

revision = "0003_messaging"
down_revision = "0001_foundation"
branch_labels = None
depends_on = None

UTC = bcp_service.db.UTCDateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "messaging_outbox",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("channel", sa.String(length=8), nullable=False),
        sa.Column("to", sa.String(length=20), nullable=False),
        sa.Column("body", sa.Text(), nullable=True),
        sa.Column("twiml_url", sa.String(length=500), nullable=True),
        sa.Column("purpose", sa.String(length=32), nullable=False),
        sa.Column("priority", sa.Integer(), nullable=False),
        sa.Column("patient_id", sa.Integer(), nullable=True),
        sa.Column("outage_id", sa.Integer(), nullable=True),
        sa.Column("round", sa.Integer(), nullable=True),
        sa.Column("ref_id", sa.Integer(), nullable=True),
        sa.Column("drill", sa.Boolean(), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", UTC, nullable=False),
        sa.Column("lease_until", UTC, nullable=True),
        sa.Column("provider", sa.String(length=16), nullable=True),
        sa.Column("provider_id", sa.String(length=64), nullable=True),
        sa.Column("error_code", sa.Integer(), nullable=True),
        sa.Column("error_message", sa.String(length=200), nullable=True),
        sa.Column("fallback_of_id", sa.Integer(), nullable=True),
        sa.Column("escalated_at", UTC, nullable=True),
        sa.Column("created_at", UTC, nullable=False),
        sa.Column("updated_at", UTC, nullable=False),
        sa.Column("sent_at", UTC, nullable=True),
        sa.Column("delivered_at", UTC, nullable=True),
        sa.ForeignKeyConstraint(["fallback_of_id"], ["messaging_outbox.id"],
                                name=op.f("fk_messaging_outbox_fallback_of_id_messaging_outbox")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_messaging_outbox")),
        sa.UniqueConstraint("key", name=op.f("uq_messaging_outbox_key")),
        sa.UniqueConstraint("provider_id", name=op.f("uq_messaging_outbox_provider_id")),
    )
    op.create_index("ix_messaging_outbox_due", "messaging_outbox", ["status", "next_attempt_at", "priority"])
    op.create_index("ix_messaging_outbox_outage", "messaging_outbox", ["outage_id", "patient_id"])
    op.create_index(op.f("ix_messaging_outbox_to"), "messaging_outbox", ["to"])

    op.create_table(
        "messaging_provider_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("dedupe_key", sa.String(length=160), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("provider_sid", sa.String(length=64), nullable=True),
        sa.Column("from_number", sa.String(length=20), nullable=True),
        sa.Column("body", sa.Text(), nullable=True),
        sa.Column("outcome", sa.String(length=32), nullable=True),
        sa.Column("outbox_id", sa.Integer(), nullable=True),
        sa.Column("received_at", UTC, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_messaging_provider_events")),
        sa.UniqueConstraint("dedupe_key", name=op.f("uq_messaging_provider_events_dedupe_key")),
    )
    op.create_index(op.f("ix_messaging_provider_events_provider_sid"), "messaging_provider_events", ["provider_sid"])
    op.create_index(op.f("ix_messaging_provider_events_outbox_id"), "messaging_provider_events", ["outbox_id"])
    op.create_index(op.f("ix_messaging_provider_events_received_at"), "messaging_provider_events", ["received_at"])

    op.create_table(
        "messaging_opt_outs",
        sa.Column("phone", sa.String(length=20), nullable=False),
        sa.Column("opted_out_at", UTC, nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.PrimaryKeyConstraint("phone", name=op.f("pk_messaging_opt_outs")),
    )

    op.create_table(
        "messaging_rollcalls",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("title", sa.String(length=100), nullable=False),
        sa.Column("organization_id", sa.Integer(), nullable=True),
        sa.Column("drill", sa.Boolean(), nullable=False),
        sa.Column("created_by", sa.Integer(), nullable=True),
        sa.Column("created_at", UTC, nullable=False),
        sa.Column("closed_at", UTC, nullable=True),
        sa.ForeignKeyConstraint(["organization_id"], ["organizations.id"],
                                name=op.f("fk_messaging_rollcalls_organization_id_organizations")),
        sa.ForeignKeyConstraint(["created_by"], ["users.id"], name=op.f("fk_messaging_rollcalls_created_by_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_messaging_rollcalls")),
    )
    op.create_index(op.f("ix_messaging_rollcalls_organization_id"), "messaging_rollcalls", ["organization_id"])

    op.create_table(
        "messaging_rollcall_members",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("rollcall_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("phone", sa.String(length=20), nullable=False),
        sa.Column("answer", sa.String(length=20), nullable=True),
        sa.Column("eta_minutes", sa.Integer(), nullable=True),
        sa.Column("channel", sa.String(length=8), nullable=True),
        sa.Column("answered_at", UTC, nullable=True),
        sa.ForeignKeyConstraint(["rollcall_id"], ["messaging_rollcalls.id"], ondelete="CASCADE",
                                name=op.f("fk_messaging_rollcall_members_rollcall_id_messaging_rollcalls")),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_messaging_rollcall_members_user_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_messaging_rollcall_members")),
        sa.UniqueConstraint("rollcall_id", "phone", name=op.f("uq_messaging_rollcall_members_rollcall_id_phone")),
    )
    op.create_index(op.f("ix_messaging_rollcall_members_rollcall_id"), "messaging_rollcall_members", ["rollcall_id"])


def downgrade() -> None:
    op.drop_table("messaging_rollcall_members")
    op.drop_table("messaging_rollcalls")
    op.drop_table("messaging_opt_outs")
    op.drop_table("messaging_provider_events")
    op.drop_table("messaging_outbox")
