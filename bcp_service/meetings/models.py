"""Meeting records (協議の場): date, attendees by organisation, agenda, decisions.

A decision may become a corrective action (drills.models.CorrectiveAction, with ``meeting_id`` instead of
``drill_id``), linked to the plan section it changes, exactly as drill findings are.
"""
from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Date, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from bcp_service.db import Base, UTCDateTime
from bcp_service.orgs.models import Organization


class Meeting(Base):
    __tablename__ = "meetings"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    region_code: Mapped[str] = mapped_column(ForeignKey("regions.code"), index=True)
    held_on: Mapped[date] = mapped_column(Date)
    title: Mapped[str] = mapped_column(String(200))
    agenda: Mapped[str] = mapped_column(Text, default="")
    notes: Mapped[str | None] = mapped_column(Text)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)

    attendees: Mapped[list[MeetingAttendee]] = relationship(back_populates="meeting", cascade="all, delete-orphan",
                                                            order_by="MeetingAttendee.id")
    decisions: Mapped[list[MeetingDecision]] = relationship(back_populates="meeting", cascade="all, delete-orphan",
                                                            order_by="MeetingDecision.position")
    # corrective actions made from decisions (rows of drills.models.CorrectiveAction with meeting_id)
    actions: Mapped[list["CorrectiveAction"]] = relationship(  # noqa: F821 - drills.models
        "CorrectiveAction", foreign_keys="CorrectiveAction.meeting_id", cascade="all, delete-orphan",
        order_by="CorrectiveAction.id")


class MeetingAttendee(Base):
    __tablename__ = "meeting_attendees"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    meeting_id: Mapped[int] = mapped_column(ForeignKey("meetings.id", ondelete="CASCADE"), index=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"))
    names: Mapped[str | None] = mapped_column(String(500))   # who came (職名・氏名), free text

    meeting: Mapped[Meeting] = relationship(back_populates="attendees")
    organization: Mapped[Organization] = relationship(lazy="joined")


class MeetingDecision(Base):
    __tablename__ = "meeting_decisions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    meeting_id: Mapped[int] = mapped_column(ForeignKey("meetings.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(Integer, default=0)
    text: Mapped[str] = mapped_column(Text)
    action_id: Mapped[int | None] = mapped_column(ForeignKey("corrective_actions.id", ondelete="SET NULL"))

    meeting: Mapped[Meeting] = relationship(back_populates="decisions")
