"""outages: outages, affected patients with due actions, transports, reservations, field tasks, timeline

Revision ID: 0006_outages
Revises: 0002_registry, 0003_messaging
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import bcp_service.db

revision = "0006_outages"
down_revision = ("0002_registry", "0003_messaging")
branch_labels = None
depends_on = None

UTC = bcp_service.db.UTCDateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "outages",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("drill", sa.Boolean(), nullable=False),
        sa.Column("region_code", sa.String(length=32), nullable=True),
        sa.Column("cause", sa.Text(), nullable=True),
        sa.Column("area", sa.JSON(), nullable=False),
        sa.Column("area_kind", sa.String(length=32), nullable=False),
        sa.Column("patient_filter", sa.JSON(), nullable=True),
        sa.Column("started_at", UTC, nullable=False),
        sa.Column("expected_restoration_at", UTC, nullable=True),
        sa.Column("declared_at", UTC, nullable=False),
        sa.Column("declared_by", sa.Integer(), nullable=True),
        sa.Column("resolved_at", UTC, nullable=True),
        sa.Column("silence_minutes", sa.Float(), nullable=False),
        sa.Column("safety_margin_minutes", sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(["region_code"], ["regions.code"], name=op.f("fk_outages_region_code_regions")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outages")),
    )
    with op.batch_alter_table("outages", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_outages_region_code"), ["region_code"], unique=False)
        batch_op.create_index(batch_op.f("ix_outages_status"), ["status"], unique=False)

    op.create_table(
        "outage_patients",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("outage_id", sa.Integer(), nullable=False),
        sa.Column("patient_id", sa.Integer(), nullable=False),
        sa.Column("in_area", sa.Boolean(), nullable=False),
        sa.Column("runway_hours", sa.Float(), nullable=True),
        sa.Column("dependent_24h", sa.Boolean(), nullable=False),
        sa.Column("runs_out_at", UTC, nullable=False),
        sa.Column("reported_hours", sa.Float(), nullable=True),
        sa.Column("reported_at", UTC, nullable=True),
        sa.Column("checkin", sa.String(length=16), nullable=False),
        sa.Column("round", sa.Integer(), nullable=False),
        sa.Column("round_sent_at", UTC, nullable=True),
        sa.Column("first_sent_at", UTC, nullable=True),
        sa.Column("next_action_at", UTC, nullable=True),
        sa.Column("answered_at", UTC, nullable=True),
        sa.Column("answer_channel", sa.String(length=16), nullable=True),
        sa.Column("covered_by_outage_id", sa.Integer(), nullable=True),
        sa.Column("transport_id", sa.Integer(), nullable=True),
        sa.Column("added_at", UTC, nullable=False),
        sa.ForeignKeyConstraint(["outage_id"], ["outages.id"], name=op.f("fk_outage_patients_outage_id_outages"),
                                ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["patient_id"], ["patients.id"],
                                name=op.f("fk_outage_patients_patient_id_patients"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outage_patients")),
        sa.UniqueConstraint("outage_id", "patient_id", name=op.f("uq_outage_patients_outage_id_patient_id")),
    )
    with op.batch_alter_table("outage_patients", schema=None) as batch_op:
        batch_op.create_index("ix_outage_patients_due", ["next_action_at"], unique=False)
        batch_op.create_index("ix_outage_patients_triage", ["outage_id", "runs_out_at"], unique=False)
        batch_op.create_index("ix_outage_patients_patient", ["patient_id"], unique=False)

    op.create_table(
        "transports",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("outage_id", sa.Integer(), nullable=False),
        sa.Column("patient_id", sa.Integer(), nullable=False),
        sa.Column("facility_id", sa.Integer(), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.String(length=40), nullable=False),
        sa.Column("distance_km", sa.Float(), nullable=True),
        sa.Column("bed_reserved", sa.Boolean(), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("created_at", UTC, nullable=False),
        sa.Column("updated_at", UTC, nullable=False),
        sa.ForeignKeyConstraint(["facility_id"], ["organizations.id"],
                                name=op.f("fk_transports_facility_id_organizations")),
        sa.ForeignKeyConstraint(["outage_id"], ["outages.id"], name=op.f("fk_transports_outage_id_outages"),
                                ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["patient_id"], ["patients.id"], name=op.f("fk_transports_patient_id_patients"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_transports")),
    )
    with op.batch_alter_table("transports", schema=None) as batch_op:
        batch_op.create_index("ix_transports_outage", ["outage_id", "status"], unique=False)

    op.create_table(
        "facility_reservations",
        sa.Column("facility_id", sa.Integer(), nullable=False),
        sa.Column("reserved", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["facility_id"], ["organizations.id"],
                                name=op.f("fk_facility_reservations_facility_id_organizations"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("facility_id", name=op.f("pk_facility_reservations")),
    )

    op.create_table(
        "field_tasks",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("outage_id", sa.Integer(), nullable=False),
        sa.Column("patient_id", sa.Integer(), nullable=False),
        sa.Column("organization_id", sa.Integer(), nullable=True),
        sa.Column("transport_id", sa.Integer(), nullable=True),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("details", sa.JSON(), nullable=False),
        sa.Column("created_at", UTC, nullable=False),
        sa.Column("acknowledged_at", UTC, nullable=True),
        sa.ForeignKeyConstraint(["organization_id"], ["organizations.id"],
                                name=op.f("fk_field_tasks_organization_id_organizations")),
        sa.ForeignKeyConstraint(["outage_id"], ["outages.id"], name=op.f("fk_field_tasks_outage_id_outages"),
                                ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["patient_id"], ["patients.id"], name=op.f("fk_field_tasks_patient_id_patients"),
                                ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["transport_id"], ["transports.id"],
                                name=op.f("fk_field_tasks_transport_id_transports")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_field_tasks")),
    )
    with op.batch_alter_table("field_tasks", schema=None) as batch_op:
        batch_op.create_index("ix_field_tasks_outage", ["outage_id", "status"], unique=False)

    op.create_table(
        "outage_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("outage_id", sa.Integer(), nullable=False),
        sa.Column("at", UTC, nullable=False),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("patient_id", sa.Integer(), nullable=True),
        sa.Column("actor_user_id", sa.Integer(), nullable=True),
        sa.Column("detail", sa.JSON(), nullable=True),
        sa.ForeignKeyConstraint(["outage_id"], ["outages.id"], name=op.f("fk_outage_events_outage_id_outages"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outage_events")),
    )
    with op.batch_alter_table("outage_events", schema=None) as batch_op:
        batch_op.create_index("ix_outage_events_outage", ["outage_id", "id"], unique=False)


def downgrade() -> None:
    op.drop_table("outage_events")
    op.drop_table("field_tasks")
    op.drop_table("facility_reservations")
    op.drop_table("transports")
    op.drop_table("outage_patients")
    op.drop_table("outages")
