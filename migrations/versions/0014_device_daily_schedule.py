"""registry: daily use schedules of devices (issue 13 item 4)

``patient_devices.daily_schedule``: ``{"start": "HH:MM", "end": "HH:MM"}`` in Asia/Tokyo, or NULL.
Existing rows get NULL (no schedule), so their runway and triage stay exactly as they are.
Also joins the three 0009 heads of merge-geo into one.

Revision ID: 0014_device_daily_schedule
Revises: 0009_auth_sessions_totp, 0009_messaging_rate_limit, 0009_runway_equipment
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014_device_daily_schedule"
down_revision = ("0009_auth_sessions_totp", "0009_messaging_rate_limit", "0009_runway_equipment")
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("patient_devices", schema=None) as batch_op:
        batch_op.add_column(sa.Column("daily_schedule", sa.JSON(none_as_null=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("patient_devices", schema=None) as batch_op:
        batch_op.drop_column("daily_schedule")
