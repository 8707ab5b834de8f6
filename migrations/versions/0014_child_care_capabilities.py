"""orgs: paediatric ventilation and 医療的ケア児 capabilities (issue 16)

Two booleans on organizations, false for existing rows (the 拠点 sets them). The new organisation
kinds (medical_association, disability_welfare, consultation_support) need no schema change: kind is a
string checked by the API.

Revision ID: 0014_child_care_capabilities
Revises: 0013_home_care_support
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014_child_care_capabilities"
down_revision = "0013_home_care_support"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Plain ADD COLUMNs (SQLite can): a batch copy would drop and re-create organizations.
    op.add_column("organizations", sa.Column("pediatric_ventilation", sa.Boolean(), server_default=sa.false(),
                                             nullable=False))
    op.add_column("organizations", sa.Column("medical_care_children", sa.Boolean(), server_default=sa.false(),
                                             nullable=False))


def downgrade() -> None:
    with op.batch_alter_table("organizations", schema=None) as batch_op:
        batch_op.drop_column("medical_care_children")
        batch_op.drop_column("pediatric_ventilation")
