"""Plans and their versions, answers, comments, events and review reminders.

A plan is one document (機関型 for one organisation, 連携型 for a group of members, 地域BCP for a
region). Each revision is a new PlanVersion pinned to a template version; answers belong to a
version, so an approved version never changes and a diff between versions is always possible.
"""
from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import JSON, Date, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from bcp_service.db import Base, UTCDateTime
from bcp_service.orgs.models import Organization, Region
from bcp_service.plans.states import PlanStatus

STATUSES = tuple(PlanStatus)


class Plan(Base):
    __tablename__ = "plans"
    __table_args__ = (Index("ix_plans_region_type_status", "region_code", "type", "status"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    type: Mapped[str] = mapped_column(String(10))                       # kikan | renkei | chiiki
    title: Mapped[str] = mapped_column(String(200))
    organization_id: Mapped[int | None] = mapped_column(ForeignKey("organizations.id"), index=True)
    region_code: Mapped[str] = mapped_column(ForeignKey("regions.code"))
    # Mirrors the current version's status so lists and prefecture aggregates need no join.
    status: Mapped[str] = mapped_column(String(12), default=PlanStatus.DRAFT)
    current_number: Mapped[int] = mapped_column(Integer, default=1)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_approved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    review_due_on: Mapped[date | None] = mapped_column(Date)
    # The clock claims plans whose next reminder is due (rows carry their own due work).
    next_reminder_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)

    organization: Mapped[Organization | None] = relationship()
    region: Mapped[Region] = relationship()
    members: Mapped[list[PlanMember]] = relationship(cascade="all, delete-orphan", lazy="selectin",
                                                     order_by="PlanMember.position")
    versions: Mapped[list[PlanVersion]] = relationship(back_populates="plan", cascade="all, delete-orphan",
                                                       order_by="PlanVersion.number")

    @property
    def member_org_ids(self) -> list[int]:
        return [m.organization_id for m in self.members]


class PlanMember(Base):
    """A member organisation of a 連携型 plan."""

    __tablename__ = "plan_members"

    plan_id: Mapped[int] = mapped_column(ForeignKey("plans.id", ondelete="CASCADE"), primary_key=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"), primary_key=True, index=True)
    position: Mapped[int] = mapped_column(Integer, default=0)

    organization: Mapped[Organization] = relationship(lazy="joined")


class PlanVersion(Base):
    __tablename__ = "plan_versions"
    __table_args__ = (UniqueConstraint("plan_id", "number"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    plan_id: Mapped[int] = mapped_column(ForeignKey("plans.id", ondelete="CASCADE"), index=True)
    number: Mapped[int] = mapped_column(Integer)
    template_version: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(12), default=PlanStatus.DRAFT)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    submitted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    submitted_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    approved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    approved_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    change_note: Mapped[str | None] = mapped_column(Text)

    plan: Mapped[Plan] = relationship(back_populates="versions")
    answers: Mapped[list[PlanAnswer]] = relationship(back_populates="version", cascade="all, delete-orphan",
                                                     lazy="selectin")


class PlanAnswer(Base):
    """One field's answer in one version. `source` says whether a person or auto-fill wrote it."""

    __tablename__ = "plan_answers"
    __table_args__ = (UniqueConstraint("version_id", "section_key", "field_key"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    version_id: Mapped[int] = mapped_column(ForeignKey("plan_versions.id", ondelete="CASCADE"), index=True)
    section_key: Mapped[str] = mapped_column(String(60))
    field_key: Mapped[str] = mapped_column(String(60))
    value: Mapped[object | None] = mapped_column(JSON)
    source: Mapped[str] = mapped_column(String(10), default="person")       # person | autofill
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    # What auto-fill last produced (written or only suggested) and when.
    autofill_value: Mapped[object | None] = mapped_column(JSON)
    autofilled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    autofill_pending: Mapped[bool] = mapped_column(default=False)   # a suggestion waits beside a person's edit

    version: Mapped[PlanVersion] = relationship(back_populates="answers")


class PlanComment(Base):
    __tablename__ = "plan_comments"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    version_id: Mapped[int] = mapped_column(ForeignKey("plan_versions.id", ondelete="CASCADE"), index=True)
    section_key: Mapped[str] = mapped_column(String(60))
    body: Mapped[str] = mapped_column(Text)
    author_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class PlanEvent(Base):
    """Who did what to a plan and when (the plan's own history; the audit log has the reads)."""

    __tablename__ = "plan_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    plan_id: Mapped[int] = mapped_column(ForeignKey("plans.id", ondelete="CASCADE"), index=True)
    version_number: Mapped[int] = mapped_column(Integer)
    action: Mapped[str] = mapped_column(String(32))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    detail: Mapped[dict | None] = mapped_column(JSON)


class PlanReminder(Base):
    """A review reminder sent (or shown in-app) to one owner. The key makes a retry a no-op."""

    __tablename__ = "plan_reminders"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key: Mapped[str] = mapped_column(String(120), unique=True)
    plan_id: Mapped[int] = mapped_column(ForeignKey("plans.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    kind: Mapped[str] = mapped_column(String(12))          # due_soon | due | overdue
    due_on: Mapped[date] = mapped_column(Date)
    channel: Mapped[str] = mapped_column(String(12))       # outbox | in_app
    message: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    read_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
