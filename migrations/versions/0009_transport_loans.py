"""outages: one live transport per patient and outage, transport needs and desk flag on transports,
beds recounted across active outages, loanable power equipment and power loans (issue 19)

Existing data carried over: where a patient had two live transports in one outage (the declaring
request and the clock both proposed), the most advanced (then newest) stays and the others are
cancelled; ``outage_patients.transport_id`` follows. Held beds are recounted from the transports
that hold one in active outages. ``transport_needs`` is copied from the patient.

Revision ID: 0009_transport_loans
Revises: 0008_outbox_unknown_outcome
"""
from __future__ import annotations

from alembic import op
import sqlalchemy as sa

from bcp_service.db import UTCDateTime

revision = "0009_transport_loans"
down_revision = "0008_outbox_unknown_outcome"
branch_labels = None
depends_on = None

LIVE = "status <> 'cancelled'"


def _carry_over(conn) -> None:
    rows = conn.execute(sa.text(
        "SELECT id, outage_id, patient_id, status, facility_id, bed_reserved FROM transports "
        "WHERE status <> 'cancelled' ORDER BY outage_id, patient_id")).all()
    groups: dict[tuple[int, int], list] = {}
    for r in rows:
        groups.setdefault((r.outage_id, r.patient_id), []).append(r)
    for (outage_id, patient_id), live in groups.items():
        if len(live) < 2:
            continue
        keep = max(live, key=lambda r: (r.status != "proposed", r.id))
        for r in live:
            if r.id != keep.id:
                conn.execute(sa.text("UPDATE transports SET status = 'cancelled', bed_reserved = :f, "
                                     "note = 'duplicate (migration 0009)' WHERE id = :id"),
                             {"id": r.id, "f": False})
        conn.execute(sa.text("UPDATE outage_patients SET transport_id = :t WHERE outage_id = :o AND patient_id = :p"),
                     {"t": keep.id, "o": outage_id, "p": patient_id})
    conn.execute(sa.text("UPDATE transports SET transport_needs = "
                         "(SELECT transport_needs FROM patients WHERE patients.id = transports.patient_id)"))
    held = conn.execute(sa.text(
        "SELECT t.facility_id, count(*) FROM transports t JOIN outages o ON o.id = t.outage_id "
        "WHERE t.bed_reserved = :t AND t.status <> 'cancelled' AND o.status = 'active' "
        "AND t.facility_id IS NOT NULL GROUP BY t.facility_id"), {"t": True}).all()
    conn.execute(sa.text("UPDATE facility_reservations SET reserved = 0"))
    for facility_id, n in held:
        if conn.execute(sa.text("UPDATE facility_reservations SET reserved = :n WHERE facility_id = :f"),
                        {"n": n, "f": facility_id}).rowcount == 0:
            conn.execute(sa.text("INSERT INTO facility_reservations (facility_id, reserved) VALUES (:f, :n)"),
                         {"n": n, "f": facility_id})


def upgrade() -> None:
    with op.batch_alter_table("transports", schema=None) as batch_op:
        batch_op.add_column(sa.Column("transport_needs", sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column("desk_flag", sa.String(length=40), nullable=True))
    _carry_over(op.get_bind())
    op.create_index("uq_transports_live", "transports", ["outage_id", "patient_id"], unique=True,
                    sqlite_where=sa.text(LIVE), postgresql_where=sa.text(LIVE))
    op.create_table(
        "loan_equipment",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("organization_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("label", sa.String(length=100), nullable=True),
        sa.Column("watt_hours", sa.Float(), nullable=True),
        sa.Column("hours", sa.Float(), nullable=True),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("created_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["organization_id"], ["organizations.id"],
                                name=op.f("fk_loan_equipment_organization_id_organizations"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_loan_equipment")),
    )
    op.create_index(op.f("ix_loan_equipment_organization_id"), "loan_equipment", ["organization_id"])
    op.create_table(
        "power_loans",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("outage_id", sa.Integer(), nullable=False),
        sa.Column("patient_id", sa.Integer(), nullable=False),
        sa.Column("equipment_id", sa.Integer(), nullable=False),
        sa.Column("added_hours", sa.Float(), nullable=False),
        sa.Column("runs_out_before", UTCDateTime(timezone=True), nullable=True),
        sa.Column("runs_out_after", UTCDateTime(timezone=True), nullable=True),
        sa.Column("handed_over_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("handed_over_by", sa.Integer(), nullable=True),
        sa.Column("returned_at", UTCDateTime(timezone=True), nullable=True),
        sa.Column("returned_by", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["equipment_id"], ["loan_equipment.id"],
                                name=op.f("fk_power_loans_equipment_id_loan_equipment"), ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["outage_id"], ["outages.id"],
                                name=op.f("fk_power_loans_outage_id_outages"), ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["patient_id"], ["patients.id"],
                                name=op.f("fk_power_loans_patient_id_patients"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_power_loans")),
    )
    op.create_index("ix_power_loans_outage", "power_loans", ["outage_id", "patient_id"])
    op.create_index("uq_power_loans_out", "power_loans", ["equipment_id"], unique=True,
                    sqlite_where=sa.text("returned_at IS NULL"), postgresql_where=sa.text("returned_at IS NULL"))


def downgrade() -> None:
    op.drop_index("uq_power_loans_out", table_name="power_loans")
    op.drop_index("ix_power_loans_outage", table_name="power_loans")
    op.drop_table("power_loans")
    op.drop_index(op.f("ix_loan_equipment_organization_id"), table_name="loan_equipment")
    op.drop_table("loan_equipment")
    op.drop_index("uq_transports_live", table_name="transports")
    with op.batch_alter_table("transports", schema=None) as batch_op:
        batch_op.drop_column("desk_flag")
        batch_op.drop_column("transport_needs")
