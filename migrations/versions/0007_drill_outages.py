"""drill outages: link a functional drill to the outage (drill = true) it runs on

Merges the drills and outages branches; written only once 0006_outages existed.

Revision ID: 0007_drill_outages
Revises: 0005_drills, 0006_outages
"""
from __future__ import annotations

from alembic import op
import sqlalchemy as sa


revision = "0007_drill_outages"
down_revision = ("0005_drills", "0006_outages")
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("drills", schema=None) as batch_op:
        batch_op.add_column(sa.Column("outage_id", sa.Integer(), nullable=True))
        batch_op.create_foreign_key(batch_op.f("fk_drills_outage_id_outages"), "outages", ["outage_id"], ["id"],
                                    ondelete="SET NULL")


def downgrade() -> None:
    with op.batch_alter_table("drills", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_drills_outage_id_outages"), type_="foreignkey")
        batch_op.drop_column("outage_id")
