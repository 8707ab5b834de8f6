"""Drill tables: the drill, its participating organisations, the run log, evaluations and
corrective actions (which point at the plan section they change, closing the PDCA loop).

Due work is in rows: ``Drill.next_reminder_at`` for the 7-day / 1-day / 1-hour reminders and
``CorrectiveAction.due`` + ``last_reminded_on`` for overdue reminders.
"""
from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import JSON, Date, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from bcp_service.db import Base, UTCDateTime
from bcp_service.drills.states import ActionStatus, DrillStatus
from bcp_service.orgs.models import Organization


class Drill(Base):
    __tablename__ = "drills"
    __table_args__ = (
        Index("ix_drills_region_scheduled", "region_code", "scheduled_at"),
        Index("ix_drills_next_reminder", "next_reminder_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    title: Mapped[str] = mapped_column(String(200))
    scenario_key: Mapped[str] = mapped_column(String(100))
    mode: Mapped[str] = mapped_column(String(16))                       # tabletop | drill (HSEEP names)
    status: Mapped[str] = mapped_column(String(16), default=DrillStatus.SCHEDULED)  # drills.states.DrillStatus
    region_code: Mapped[str] = mapped_column(ForeignKey("regions.code"))
    scheduled_at: Mapped[datetime] = mapped_column(UTCDateTime)
    duration_minutes: Mapped[int] = mapped_column(Integer, default=120)
    location: Mapped[str | None] = mapped_column(String(200))
    contact: Mapped[str | None] = mapped_column(String(200))            # 事務局 (an office, not a person's phone)
    objectives: Mapped[list[str]] = mapped_column(JSON, default=list)
    plan_ids: Mapped[list[int]] = mapped_column(JSON, default=list)
    summary: Mapped[str | None] = mapped_column(Text)                   # 総括, written after the drill
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    current_inject: Mapped[int] = mapped_column(Integer, default=0)     # tabletop: index of the inject on screen
    sequence: Mapped[int] = mapped_column(Integer, default=0)           # iCalendar SEQUENCE, bumped on change
    reminders_done: Mapped[list[str]] = mapped_column(JSON, default=list)
    next_reminder_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # A functional drill runs on a real outage row with drill = true (migration 0007_drill_outages).
    outage_id: Mapped[int | None] = mapped_column(ForeignKey("outages.id", ondelete="SET NULL"))

    participants: Mapped[list["DrillParticipant"]] = relationship(
        back_populates="drill", cascade="all, delete-orphan", order_by="DrillParticipant.id")
    log_entries: Mapped[list["DrillLogEntry"]] = relationship(
        back_populates="drill", cascade="all, delete-orphan", order_by="DrillLogEntry.id")
    evaluations: Mapped[list["Evaluation"]] = relationship(
        back_populates="drill", cascade="all, delete-orphan", order_by="Evaluation.id")
    corrective_actions: Mapped[list["CorrectiveAction"]] = relationship(
        back_populates="drill", cascade="all, delete-orphan", order_by="CorrectiveAction.id")

    @property
    def participant_org_ids(self) -> list[int]:
        return [p.organization_id for p in self.participants]


class DrillParticipant(Base):
    """A participating organisation and its contact person for this drill (staff, not patients)."""

    __tablename__ = "drill_participants"
    __table_args__ = (UniqueConstraint("drill_id", "organization_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    drill_id: Mapped[int] = mapped_column(ForeignKey("drills.id", ondelete="CASCADE"))
    organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"), index=True)
    contact_name: Mapped[str | None] = mapped_column(String(200))
    contact_phone_e164: Mapped[str | None] = mapped_column(String(20))
    contact_email: Mapped[str | None] = mapped_column(String(254))
    invited_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    drill: Mapped[Drill] = relationship(back_populates="participants")
    organization: Mapped[Organization] = relationship()

    @property
    def organization_name(self) -> str:
        return self.organization.name if self.organization else ""


class DrillLogEntry(Base):
    """One timed line of the run log: an inject shown, an answer to one of the three questions, a note."""

    __tablename__ = "drill_log_entries"
    __table_args__ = (Index("ix_drill_log_entries_drill_at", "drill_id", "at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    drill_id: Mapped[int] = mapped_column(ForeignKey("drills.id", ondelete="CASCADE"))
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    kind: Mapped[str] = mapped_column(String(16))                       # inject | answer | note | event
    inject_id: Mapped[str | None] = mapped_column(String(100))
    question: Mapped[str | None] = mapped_column(String(32))            # organization | individual | patient_care
    organization_id: Mapped[int | None] = mapped_column(ForeignKey("organizations.id"))
    text: Mapped[str] = mapped_column(Text)
    author_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))

    drill: Mapped[Drill] = relationship(back_populates="log_entries")


class Evaluation(Base):
    """One evaluator's rating of one objective (HSEEP P/S/M/U) with strengths and areas for improvement.
    Several evaluators may observe the same objective; each observation is kept and merged on the report."""

    __tablename__ = "drill_evaluations"
    __table_args__ = (UniqueConstraint("drill_id", "objective", "evaluator_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    drill_id: Mapped[int] = mapped_column(ForeignKey("drills.id", ondelete="CASCADE"))
    objective: Mapped[str] = mapped_column(String(500))
    rating: Mapped[str] = mapped_column(String(1))
    strengths: Mapped[str] = mapped_column(Text, default="")
    improvements: Mapped[str] = mapped_column(Text, default="")
    root_cause: Mapped[str] = mapped_column(Text, default="")
    evaluator_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)

    drill: Mapped[Drill] = relationship(back_populates="evaluations")
    corrective_actions: Mapped[list["CorrectiveAction"]] = relationship(
        back_populates="evaluation", order_by="CorrectiveAction.id")


class CorrectiveAction(Base):
    """是正措置: owned by an organisation, due on a date, linked to the plan section it changes."""

    __tablename__ = "corrective_actions"
    __table_args__ = (
        Index("ix_corrective_actions_plan", "plan_id", "section_key"),
        Index("ix_corrective_actions_status_due", "status", "due"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # a drill finding (drill_id) or a 協議の場 decision (meeting_id, bcp_service.meetings): exactly one is set
    drill_id: Mapped[int | None] = mapped_column(ForeignKey("drills.id", ondelete="CASCADE"))
    meeting_id: Mapped[int | None] = mapped_column(ForeignKey("meetings.id", ondelete="CASCADE"), index=True)
    evaluation_id: Mapped[int | None] = mapped_column(ForeignKey("drill_evaluations.id", ondelete="SET NULL"))
    title: Mapped[str] = mapped_column(String(500))
    element: Mapped[str] = mapped_column(String(16))
    owner_org_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"), index=True)
    contact: Mapped[str | None] = mapped_column(String(200))
    start: Mapped[date | None] = mapped_column(Date)
    due: Mapped[date] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(16), default=ActionStatus.OPEN)   # drills.states.ActionStatus
    plan_id: Mapped[int | None] = mapped_column(ForeignKey("plans.id", ondelete="SET NULL"))
    section_key: Mapped[str | None] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_reminded_on: Mapped[date | None] = mapped_column(Date)

    drill: Mapped[Drill | None] = relationship(back_populates="corrective_actions")
    owner: Mapped[Organization] = relationship()
    evaluation: Mapped[Evaluation | None] = relationship(back_populates="corrective_actions")
