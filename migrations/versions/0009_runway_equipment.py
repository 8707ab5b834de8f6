"""registry: equipment fields of the runway model (issue 14) and the power-data check date

Devices get ``role`` (primary|spare; existing rows: primary) and ``flow_lpm``; backups get
``device_kind``, ``liters``, ``conserver_ratio``, ``dc_output`` (existing rows: false), ``fuel_cans``,
``fuel_liters``, ``checked_on``, ``purchased_on``; patients get ``power_checked_on``. Every existing
value is kept as it is; the new columns are empty, so old rows keep today's runway.

Revision ID: 0009_runway_equipment
Revises: 0008_outbox_unknown_outcome
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009_runway_equipment"
down_revision = "0008_outbox_unknown_outcome"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("patient_devices", schema=None) as batch_op:
        batch_op.add_column(sa.Column("role", sa.String(length=8), server_default="primary", nullable=False))
        batch_op.add_column(sa.Column("flow_lpm", sa.Float(), nullable=True))
    with op.batch_alter_table("patient_backups", schema=None) as batch_op:
        batch_op.add_column(sa.Column("device_kind", sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column("liters", sa.Float(), nullable=True))
        batch_op.add_column(sa.Column("conserver_ratio", sa.Float(), nullable=True))
        batch_op.add_column(sa.Column("dc_output", sa.Boolean(), server_default=sa.false(), nullable=False))
        batch_op.add_column(sa.Column("fuel_cans", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("fuel_liters", sa.Float(), nullable=True))
        batch_op.add_column(sa.Column("checked_on", sa.Date(), nullable=True))
        batch_op.add_column(sa.Column("purchased_on", sa.Date(), nullable=True))
    with op.batch_alter_table("patients", schema=None) as batch_op:
        batch_op.add_column(sa.Column("power_checked_on", sa.Date(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("patients", schema=None) as batch_op:
        batch_op.drop_column("power_checked_on")
    with op.batch_alter_table("patient_backups", schema=None) as batch_op:
        for col in ("purchased_on", "checked_on", "fuel_liters", "fuel_cans", "dc_output", "conserver_ratio",
                    "liters", "device_kind"):
            batch_op.drop_column(col)
    with op.batch_alter_table("patient_devices", schema=None) as batch_op:
        batch_op.drop_column("flow_lpm")
        batch_op.drop_column("role")
