"""Outage desk tables.

Due work lives in rows: ``OutagePatient.next_action_at`` says when the clock must look at a patient
again (round 2, field task). A restarted clock finds the same rows and carries on on time.
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Boolean, Float, ForeignKey, Index, Integer, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from bcp_service.db import Base, UTCDateTime
from bcp_service.outages.states import OutageStatus, TaskStatus, TransportStatus

OUTAGE_STATUSES = tuple(s.value for s in OutageStatus)
CHECKIN_STATES = ("pending", "ok", "low_battery", "needs_help", "no_answer", "unreachable")
CHECKIN_LABELS = {
    "pending": "確認中", "ok": "問題なし", "low_battery": "バッテリー残少", "needs_help": "至急支援",
    "no_answer": "応答なし", "unreachable": "連絡不能",
}
TRANSPORT_STATUSES = tuple(s.value for s in TransportStatus)
TRANSPORT_LABELS = {
    "proposed": "提案", "assigned": "手配済", "en_route": "搬送中", "arrived": "到着", "cancelled": "取消",
}
TRANSPORT_REASONS = ("answer", "field_report", "runs_out_before_restoration", "desk")
TASK_KINDS = ("visit", "transport")
TASK_STATUSES = tuple(s.value for s in TaskStatus)


class Outage(Base):
    __tablename__ = "outages"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    status: Mapped[str] = mapped_column(String(16), default="active", index=True)
    drill: Mapped[bool] = mapped_column(Boolean, default=False)
    region_code: Mapped[str | None] = mapped_column(ForeignKey("regions.code"), index=True)
    cause: Mapped[str | None] = mapped_column(Text)
    area: Mapped[dict] = mapped_column(JSON)
    area_kind: Mapped[str] = mapped_column(String(32))
    # Drills restrict who is contacted: {"organization_ids": [...], "patient_ids": [...]}.
    patient_filter: Mapped[dict | None] = mapped_column(JSON)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expected_restoration_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    declared_at: Mapped[datetime] = mapped_column(UTCDateTime)
    declared_by: Mapped[int | None] = mapped_column(Integer)
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    silence_minutes: Mapped[float] = mapped_column(Float, default=15.0)
    safety_margin_minutes: Mapped[float] = mapped_column(Float, default=60.0)

    patients: Mapped[list["OutagePatient"]] = relationship(back_populates="outage", lazy="raise_on_sql",
                                                           foreign_keys="OutagePatient.outage_id")


class OutagePatient(Base):
    """One patient inside one outage: check-in state, rounds and the next due action."""

    __tablename__ = "outage_patients"
    __table_args__ = (
        UniqueConstraint("outage_id", "patient_id"),
        Index("ix_outage_patients_due", "next_action_at"),
        Index("ix_outage_patients_triage", "outage_id", "runs_out_at"),
        Index("ix_outage_patients_patient", "patient_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    outage_id: Mapped[int] = mapped_column(ForeignKey("outages.id", ondelete="CASCADE"))
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id", ondelete="CASCADE"))
    in_area: Mapped[bool] = mapped_column(Boolean, default=True)
    runway_hours: Mapped[float | None] = mapped_column(Float)         # at outage start
    dependent_24h: Mapped[bool] = mapped_column(Boolean, default=False)
    runs_out_at: Mapped[datetime] = mapped_column(UTCDateTime)
    reported_hours: Mapped[float | None] = mapped_column(Float)
    reported_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    checkin: Mapped[str] = mapped_column(String(16), default="pending")
    round: Mapped[int] = mapped_column(Integer, default=0)             # last round taken (3 = field task)
    round_sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    first_sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    next_action_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    answer_channel: Mapped[str | None] = mapped_column(String(16))
    # Family contacts (issue 19): how many registered contacts were sent the check-in in this cycle,
    # and which one (1-based position) answered for the patient, if a contact did.
    contact_step: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    answered_by_contact: Mapped[int | None] = mapped_column(Integer)
    # When another active outage already checks in with this patient, its id: no second message.
    covered_by_outage_id: Mapped[int | None] = mapped_column(Integer)
    transport_id: Mapped[int | None] = mapped_column(Integer)
    added_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # Follow-up after an answer (issue 13): a re-check starts a new contact cycle (0 = the first one);
    # the latest answer's time tells whether the current cycle still waits for an answer.
    cycle: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    last_answer_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # When the family asked for urgent help (answer 3): the desk serves the oldest request first.
    help_requested_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Power is back for this patient (a restored part of the area): no more check-ins, not active.
    restored_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    outage: Mapped[Outage] = relationship(back_populates="patients", foreign_keys=[outage_id])


# One live (not cancelled) transport per patient per outage: the declaring request, the clock and a
# family's answer may all try; the database keeps only one.
LIVE_TRANSPORT = "status <> 'cancelled'"


class Transport(Base):
    __tablename__ = "transports"
    __table_args__ = (
        Index("ix_transports_outage", "outage_id", "status"),
        Index("uq_transports_live", "outage_id", "patient_id", unique=True,
              sqlite_where=text(LIVE_TRANSPORT), postgresql_where=text(LIVE_TRANSPORT)),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    outage_id: Mapped[int] = mapped_column(ForeignKey("outages.id", ondelete="CASCADE"))
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id", ondelete="CASCADE"))
    facility_id: Mapped[int | None] = mapped_column(ForeignKey("organizations.id"))
    status: Mapped[str] = mapped_column(String(16), default="proposed")
    reason: Mapped[str] = mapped_column(String(40))
    distance_km: Mapped[float | None] = mapped_column(Float)
    bed_reserved: Mapped[bool] = mapped_column(Boolean, default=False)
    note: Mapped[str | None] = mapped_column(Text)
    # The patient's registered need (stretcher|wheelchair|ambulatory), carried to the desk and the team.
    transport_needs: Mapped[str | None] = mapped_column(String(16))
    # Something the desk should look at (e.g. "loan_covers": a power loan may make it unnecessary).
    desk_flag: Mapped[str | None] = mapped_column(String(40))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # For the desk to look at (never a silent drop): "not_needed" when a changed restoration or a
    # restored area means the patient no longer runs out before power returns.
    flag: Mapped[str | None] = mapped_column(String(40))


class FacilityReservation(Base):
    """Ventilator beds held at a facility across all active outages (proposals included); the
    Organization row stays untouched. Changed only by conditional UPDATEs (``outages.beds``)."""

    __tablename__ = "facility_reservations"

    facility_id: Mapped[int] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"),
                                             primary_key=True)
    reserved: Mapped[int] = mapped_column(Integer, default=0)


class FieldTask(Base):
    __tablename__ = "field_tasks"
    __table_args__ = (Index("ix_field_tasks_outage", "outage_id", "status"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    outage_id: Mapped[int] = mapped_column(ForeignKey("outages.id", ondelete="CASCADE"))
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id", ondelete="CASCADE"))
    organization_id: Mapped[int | None] = mapped_column(ForeignKey("organizations.id"))
    transport_id: Mapped[int | None] = mapped_column(ForeignKey("transports.id"))
    kind: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16), default="open")
    details: Mapped[dict] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    acknowledged_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Acknowledge by this time (from the patient's countdown, alerts/escalation.yaml ``tasks``), or the
    # task moves to the next team in the on-call order (a new row: each team's link names its own).
    ack_deadline_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
    handoff_of_id: Mapped[int | None] = mapped_column(Integer)          # the row it was moved from
    handoff_reason: Mapped[str | None] = mapped_column(String(16))      # declined | no_ack (on the old row)


class ContactCheckin(Base):
    """A patient's registered contact asked to check in for them (the patient stayed silent or could
    not be reached). The one-tap token names this row, so an answer is known to be the contact's."""

    __tablename__ = "outage_contact_checkins"
    __table_args__ = (Index("ix_outage_contact_checkins_patient", "outage_id", "patient_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    outage_id: Mapped[int] = mapped_column(ForeignKey("outages.id", ondelete="CASCADE"))
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id", ondelete="CASCADE"))
    position: Mapped[int] = mapped_column(Integer)                    # 1 = the first registered contact
    relation: Mapped[str | None] = mapped_column(String(50))          # 長女 … (no name: labels only)
    channel: Mapped[str] = mapped_column(String(8))                   # sms | voice
    sent_at: Mapped[datetime] = mapped_column(UTCDateTime)
    answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    answer: Mapped[str | None] = mapped_column(String(16))


class OutageEvent(Base):
    """The timeline: what happened when. No names or phone numbers in ``detail``."""

    __tablename__ = "outage_events"
    __table_args__ = (Index("ix_outage_events_outage", "outage_id", "id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    outage_id: Mapped[int] = mapped_column(ForeignKey("outages.id", ondelete="CASCADE"))
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    kind: Mapped[str] = mapped_column(String(40))
    patient_id: Mapped[int | None] = mapped_column(Integer)
    actor_user_id: Mapped[int | None] = mapped_column(Integer)
    detail: Mapped[dict | None] = mapped_column(JSON)


EQUIPMENT_KINDS = ("power_station", "generator", "external_battery")
EQUIPMENT_STATUSES = ("available", "lent", "retired")
LOAN_STATUSES = ("lent", "returned")


class LoanEquipment(Base):
    """Loanable power equipment held by an organisation (貸出用の予備電源)."""

    __tablename__ = "loan_equipment"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(32))
    label: Mapped[str | None] = mapped_column(String(100))
    watt_hours: Mapped[float | None] = mapped_column(Float)
    hours: Mapped[float | None] = mapped_column(Float)
    count: Mapped[int] = mapped_column(Integer, default=1)
    status: Mapped[str] = mapped_column(String(16), default="available")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class PowerLoan(Base):
    """Equipment handed over to a patient during an outage; it counts as their backup for that outage."""

    __tablename__ = "power_loans"
    __table_args__ = (
        Index("ix_power_loans_outage", "outage_id", "patient_id"),
        # A piece of equipment is with one patient at a time.
        Index("uq_power_loans_out", "equipment_id", unique=True,
              sqlite_where=text("returned_at IS NULL"), postgresql_where=text("returned_at IS NULL")),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    outage_id: Mapped[int] = mapped_column(ForeignKey("outages.id", ondelete="CASCADE"))
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id", ondelete="CASCADE"))
    equipment_id: Mapped[int] = mapped_column(ForeignKey("loan_equipment.id", ondelete="CASCADE"))
    added_hours: Mapped[float] = mapped_column(Float, default=0.0)
    runs_out_before: Mapped[datetime | None] = mapped_column(UTCDateTime)
    runs_out_after: Mapped[datetime | None] = mapped_column(UTCDateTime)
    handed_over_at: Mapped[datetime] = mapped_column(UTCDateTime)
    handed_over_by: Mapped[int | None] = mapped_column(Integer)
    returned_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    returned_by: Mapped[int | None] = mapped_column(Integer)
