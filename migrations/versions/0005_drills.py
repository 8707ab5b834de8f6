"""drills: drills, participants, run log, evaluations, corrective actions

Corrective actions point at the plan (and the section key) they change, hence after 0004_plans.
The drill ↔ outage link comes later in 0007_drill_outages, once the outage desk exists.

Revision ID: 0005_drills
Revises: 0004_plans
"""
from __future__ import annotations

from alembic import op
import sqlalchemy as sa
import bcp_service.db


revision = '0005_drills'
down_revision = '0004_plans'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('drills',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('scenario_key', sa.String(length=100), nullable=False),
    sa.Column('mode', sa.String(length=16), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('region_code', sa.String(length=32), nullable=False),
    sa.Column('scheduled_at', bcp_service.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('duration_minutes', sa.Integer(), nullable=False),
    sa.Column('location', sa.String(length=200), nullable=True),
    sa.Column('contact', sa.String(length=200), nullable=True),
    sa.Column('objectives', sa.JSON(), nullable=False),
    sa.Column('plan_ids', sa.JSON(), nullable=False),
    sa.Column('summary', sa.Text(), nullable=True),
    sa.Column('started_at', bcp_service.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('ended_at', bcp_service.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('current_inject', sa.Integer(), nullable=False),
    sa.Column('sequence', sa.Integer(), nullable=False),
    sa.Column('reminders_done', sa.JSON(), nullable=False),
    sa.Column('next_reminder_at', bcp_service.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('created_by', sa.Integer(), nullable=True),
    sa.Column('created_at', bcp_service.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['created_by'], ['users.id'], name=op.f('fk_drills_created_by_users')),
    sa.ForeignKeyConstraint(['region_code'], ['regions.code'], name=op.f('fk_drills_region_code_regions')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_drills'))
    )
    with op.batch_alter_table('drills', schema=None) as batch_op:
        batch_op.create_index('ix_drills_next_reminder', ['next_reminder_at'], unique=False)
        batch_op.create_index('ix_drills_region_scheduled', ['region_code', 'scheduled_at'], unique=False)

    op.create_table('drill_evaluations',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('drill_id', sa.Integer(), nullable=False),
    sa.Column('objective', sa.String(length=500), nullable=False),
    sa.Column('rating', sa.String(length=1), nullable=False),
    sa.Column('strengths', sa.Text(), nullable=False),
    sa.Column('improvements', sa.Text(), nullable=False),
    sa.Column('root_cause', sa.Text(), nullable=False),
    sa.Column('evaluator_id', sa.Integer(), nullable=True),
    sa.Column('created_at', bcp_service.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['drill_id'], ['drills.id'], name=op.f('fk_drill_evaluations_drill_id_drills'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['evaluator_id'], ['users.id'], name=op.f('fk_drill_evaluations_evaluator_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_drill_evaluations')),
    sa.UniqueConstraint('drill_id', 'objective', name=op.f('uq_drill_evaluations_drill_id_objective'))
    )
    op.create_table('drill_log_entries',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('drill_id', sa.Integer(), nullable=False),
    sa.Column('at', bcp_service.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('inject_id', sa.String(length=100), nullable=True),
    sa.Column('question', sa.String(length=32), nullable=True),
    sa.Column('organization_id', sa.Integer(), nullable=True),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('author_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['author_id'], ['users.id'], name=op.f('fk_drill_log_entries_author_id_users')),
    sa.ForeignKeyConstraint(['drill_id'], ['drills.id'], name=op.f('fk_drill_log_entries_drill_id_drills'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['organization_id'], ['organizations.id'], name=op.f('fk_drill_log_entries_organization_id_organizations')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_drill_log_entries'))
    )
    with op.batch_alter_table('drill_log_entries', schema=None) as batch_op:
        batch_op.create_index('ix_drill_log_entries_drill_at', ['drill_id', 'at'], unique=False)

    op.create_table('drill_participants',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('drill_id', sa.Integer(), nullable=False),
    sa.Column('organization_id', sa.Integer(), nullable=False),
    sa.Column('contact_name', sa.String(length=200), nullable=True),
    sa.Column('contact_phone_e164', sa.String(length=20), nullable=True),
    sa.Column('contact_email', sa.String(length=254), nullable=True),
    sa.Column('invited_at', bcp_service.db.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['drill_id'], ['drills.id'], name=op.f('fk_drill_participants_drill_id_drills'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['organization_id'], ['organizations.id'], name=op.f('fk_drill_participants_organization_id_organizations')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_drill_participants')),
    sa.UniqueConstraint('drill_id', 'organization_id', name=op.f('uq_drill_participants_drill_id_organization_id'))
    )
    with op.batch_alter_table('drill_participants', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_drill_participants_organization_id'), ['organization_id'], unique=False)

    op.create_table('corrective_actions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('drill_id', sa.Integer(), nullable=False),
    sa.Column('evaluation_id', sa.Integer(), nullable=True),
    sa.Column('title', sa.String(length=500), nullable=False),
    sa.Column('element', sa.String(length=16), nullable=False),
    sa.Column('owner_org_id', sa.Integer(), nullable=False),
    sa.Column('contact', sa.String(length=200), nullable=True),
    sa.Column('start', sa.Date(), nullable=True),
    sa.Column('due', sa.Date(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('plan_id', sa.Integer(), nullable=True),
    sa.Column('section_key', sa.String(length=100), nullable=True),
    sa.Column('created_at', bcp_service.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('closed_at', bcp_service.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('last_reminded_on', sa.Date(), nullable=True),
    sa.ForeignKeyConstraint(['drill_id'], ['drills.id'], name=op.f('fk_corrective_actions_drill_id_drills'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['evaluation_id'], ['drill_evaluations.id'], name=op.f('fk_corrective_actions_evaluation_id_drill_evaluations'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['owner_org_id'], ['organizations.id'], name=op.f('fk_corrective_actions_owner_org_id_organizations')),
    sa.ForeignKeyConstraint(['plan_id'], ['plans.id'], name=op.f('fk_corrective_actions_plan_id_plans'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_corrective_actions'))
    )
    with op.batch_alter_table('corrective_actions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_corrective_actions_owner_org_id'), ['owner_org_id'], unique=False)
        batch_op.create_index('ix_corrective_actions_plan', ['plan_id', 'section_key'], unique=False)
        batch_op.create_index('ix_corrective_actions_status_due', ['status', 'due'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('corrective_actions', schema=None) as batch_op:
        batch_op.drop_index('ix_corrective_actions_status_due')
        batch_op.drop_index('ix_corrective_actions_plan')
        batch_op.drop_index(batch_op.f('ix_corrective_actions_owner_org_id'))

    op.drop_table('corrective_actions')
    with op.batch_alter_table('drill_participants', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_drill_participants_organization_id'))

    op.drop_table('drill_participants')
    with op.batch_alter_table('drill_log_entries', schema=None) as batch_op:
        batch_op.drop_index('ix_drill_log_entries_drill_at')

    op.drop_table('drill_log_entries')
    op.drop_table('drill_evaluations')
    with op.batch_alter_table('drills', schema=None) as batch_op:
        batch_op.drop_index('ix_drills_region_scheduled')
        batch_op.drop_index('ix_drills_next_reminder')

    op.drop_table('drills')
