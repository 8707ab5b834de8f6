"""registry: patients, devices, backups, contacts

Revision ID: 0002_registry
Revises: 0001_foundation
"""
from __future__ import annotations

from alembic import op
import sqlalchemy as sa
import bcp_service.db


revision = '0002_registry'
down_revision = '0001_foundation'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('patients',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('name_kana', sa.String(length=100), nullable=True),
    sa.Column('birth_date', sa.Date(), nullable=True),
    sa.Column('sex', sa.String(length=8), nullable=True),
    sa.Column('phone_e164', sa.String(length=20), nullable=False),
    sa.Column('phone_kind', sa.String(length=10), nullable=False),
    sa.Column('address', sa.Text(), nullable=True),
    sa.Column('postal_code', sa.String(length=7), nullable=True),
    sa.Column('municipality_code', sa.String(length=6), nullable=True),
    sa.Column('lat', sa.Float(), nullable=True),
    sa.Column('lon', sa.Float(), nullable=True),
    sa.Column('region_code', sa.String(length=32), nullable=False),
    sa.Column('primary_org_id', sa.Integer(), nullable=True),
    sa.Column('nursing_org_id', sa.Integer(), nullable=True),
    sa.Column('care_manager_org_id', sa.Integer(), nullable=True),
    sa.Column('care_manager_name', sa.String(length=100), nullable=True),
    sa.Column('consent_to_share', sa.Boolean(), nullable=False),
    sa.Column('consent_date', sa.Date(), nullable=True),
    sa.Column('consent_scope', sa.JSON(), nullable=False),
    sa.Column('drill_opt_in', sa.Boolean(), nullable=False),
    sa.Column('designated_facility_id', sa.Integer(), nullable=True),
    sa.Column('transport_needs', sa.String(length=16), nullable=True),
    sa.Column('transport_equipment', sa.Text(), nullable=True),
    sa.Column('power_company_registered', sa.Boolean(), nullable=False),
    sa.Column('evacuation_plan_status', sa.String(length=16), nullable=False),
    sa.Column('evacuation_plan_updated_on', sa.Date(), nullable=True),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('notes', sa.Text(), nullable=True),
    sa.Column('runway_hours', sa.Float(), nullable=False),
    sa.Column('runway_tier', sa.String(length=8), nullable=False),
    sa.Column('runway_explain', sa.Text(), nullable=False),
    sa.Column('created_at', bcp_service.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', bcp_service.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('deleted_at', bcp_service.db.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['care_manager_org_id'], ['organizations.id'], name=op.f('fk_patients_care_manager_org_id_organizations')),
    sa.ForeignKeyConstraint(['designated_facility_id'], ['organizations.id'], name=op.f('fk_patients_designated_facility_id_organizations')),
    sa.ForeignKeyConstraint(['nursing_org_id'], ['organizations.id'], name=op.f('fk_patients_nursing_org_id_organizations')),
    sa.ForeignKeyConstraint(['primary_org_id'], ['organizations.id'], name=op.f('fk_patients_primary_org_id_organizations')),
    sa.ForeignKeyConstraint(['region_code'], ['regions.code'], name=op.f('fk_patients_region_code_regions')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_patients'))
    )
    with op.batch_alter_table('patients', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_patients_deleted_at'), ['deleted_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_patients_municipality_code'), ['municipality_code'], unique=False)
        batch_op.create_index(batch_op.f('ix_patients_nursing_org_id'), ['nursing_org_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_patients_primary_org_id'), ['primary_org_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_patients_region_code'), ['region_code'], unique=False)
        live = sa.text('deleted_at IS NULL')
        batch_op.create_index('ix_patients_live_runway', ['region_code', 'runway_hours', 'id'], unique=False,
                              sqlite_where=live, postgresql_where=live)
        batch_op.create_index('ix_patients_live_tier', ['region_code', 'runway_tier', 'runway_hours', 'id'],
                              unique=False, sqlite_where=live, postgresql_where=live)
        batch_op.create_index('ix_patients_live_order', ['runway_hours', 'id'], unique=False,
                              sqlite_where=live, postgresql_where=live)
        batch_op.create_index(batch_op.f('ix_patients_status'), ['status'], unique=False)

    op.create_table('patient_backups',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('patient_id', sa.Integer(), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=32), nullable=False),
    sa.Column('hours', sa.Float(), nullable=True),
    sa.Column('count', sa.Integer(), nullable=False),
    sa.Column('watt_hours', sa.Float(), nullable=True),
    sa.Column('note', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['patient_id'], ['patients.id'], name=op.f('fk_patient_backups_patient_id_patients'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_patient_backups'))
    )
    with op.batch_alter_table('patient_backups', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_patient_backups_patient_id'), ['patient_id'], unique=False)

    op.create_table('patient_contacts',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('patient_id', sa.Integer(), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('relation', sa.String(length=50), nullable=True),
    sa.Column('phone_e164', sa.String(length=20), nullable=True),
    sa.Column('phone_kind', sa.String(length=10), nullable=True),
    sa.ForeignKeyConstraint(['patient_id'], ['patients.id'], name=op.f('fk_patient_contacts_patient_id_patients'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_patient_contacts'))
    )
    with op.batch_alter_table('patient_contacts', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_patient_contacts_patient_id'), ['patient_id'], unique=False)

    op.create_table('patient_devices',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('patient_id', sa.Integer(), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=32), nullable=False),
    sa.Column('mode', sa.String(length=8), nullable=True),
    sa.Column('model', sa.String(length=100), nullable=True),
    sa.Column('watts', sa.Float(), nullable=True),
    sa.Column('hours_per_day', sa.Float(), nullable=False),
    sa.Column('internal_battery_hours', sa.Float(), nullable=False),
    sa.Column('life_sustaining', sa.Boolean(), nullable=True),
    sa.Column('settings', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['patient_id'], ['patients.id'], name=op.f('fk_patient_devices_patient_id_patients'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_patient_devices'))
    )
    with op.batch_alter_table('patient_devices', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_patient_devices_patient_id'), ['patient_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('patient_devices', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_patient_devices_patient_id'))

    op.drop_table('patient_devices')
    with op.batch_alter_table('patient_contacts', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_patient_contacts_patient_id'))

    op.drop_table('patient_contacts')
    with op.batch_alter_table('patient_backups', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_patient_backups_patient_id'))

    op.drop_table('patient_backups')
    with op.batch_alter_table('patients', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_patients_status'))
        batch_op.drop_index('ix_patients_live_order')
        batch_op.drop_index('ix_patients_live_tier')
        batch_op.drop_index('ix_patients_live_runway')
        batch_op.drop_index(batch_op.f('ix_patients_region_code'))
        batch_op.drop_index(batch_op.f('ix_patients_primary_org_id'))
        batch_op.drop_index(batch_op.f('ix_patients_nursing_org_id'))
        batch_op.drop_index(batch_op.f('ix_patients_municipality_code'))
        batch_op.drop_index(batch_op.f('ix_patients_deleted_at'))

    op.drop_table('patients')
