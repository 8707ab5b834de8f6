"""orgs: home_care_support (在宅療養支援診療所・病院) for the fee rule's BCP deadline (issue 16)

Existing organisations get false: the 拠点 marks the ones that are 在宅療養支援診療所・病院.

Revision ID: 0013_home_care_support
Revises: 0009_runway_equipment
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013_home_care_support"
down_revision = "0009_runway_equipment"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # A plain ADD COLUMN (SQLite can): a batch copy would drop and re-create organizations, which the
    # rows referencing it forbid.
    op.add_column("organizations", sa.Column("home_care_support", sa.Boolean(), server_default=sa.false(),
                                             nullable=False))


def downgrade() -> None:
    with op.batch_alter_table("organizations", schema=None) as batch_op:
        batch_op.drop_column("home_care_support")
