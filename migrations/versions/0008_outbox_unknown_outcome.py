"""outbox: remember when a send's outcome became unknown (dispatcher died, or the request timed out)

Before such a row is sent again the dispatcher asks the provider whether it already accepted it.

Revision ID: 0008_outbox_unknown_outcome
Revises: 0007_drill_outages
"""
from __future__ import annotations

from alembic import op
import sqlalchemy as sa

from bcp_service.db import UTCDateTime

revision = "0008_outbox_unknown_outcome"
down_revision = "0007_drill_outages"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("messaging_outbox", schema=None) as batch_op:
        batch_op.add_column(sa.Column("unknown_since", UTCDateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("messaging_outbox", schema=None) as batch_op:
        batch_op.drop_column("unknown_since")
