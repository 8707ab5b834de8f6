"""Messaging tables: the outbox, provider events (each inbound id once), opt-outs, staff roll-calls.

Patients, outages and tasks are referred to by plain integer ids, not foreign keys: messaging sits
below registry and outages and must not import them (ARCHITECTURE.md, "Layout").
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, Double, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from bcp_service.db import Base, UTCDateTime
from bcp_service.messaging.outbox_state import OutboxStatus

# Outbox states: the state machine is messaging.outbox_state.
QUEUED, SENDING, SENT, DELIVERED, UNDELIVERED, FAILED, CANCELLED = (
    OutboxStatus.QUEUED, OutboxStatus.SENDING, OutboxStatus.SENT, OutboxStatus.DELIVERED,
    OutboxStatus.UNDELIVERED, OutboxStatus.FAILED, OutboxStatus.CANCELLED)
STATUSES = tuple(OutboxStatus)
CHANNELS = ("sms", "voice")


class OutboxMessage(Base):
    __tablename__ = "messaging_outbox"
    __table_args__ = (
        # The dispatcher's claim query: due queued rows in priority order.
        Index("ix_messaging_outbox_due", "status", "next_attempt_at", "priority"),
        Index("ix_messaging_outbox_outage", "outage_id", "patient_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key: Mapped[str] = mapped_column(String(200), unique=True)
    channel: Mapped[str] = mapped_column(String(8))
    to: Mapped[str] = mapped_column(String(20), index=True)
    body: Mapped[str | None] = mapped_column(Text)
    twiml_url: Mapped[str | None] = mapped_column(String(500))
    purpose: Mapped[str] = mapped_column(String(32))
    priority: Mapped[int] = mapped_column(Integer, default=100)
    patient_id: Mapped[int | None] = mapped_column(Integer)
    outage_id: Mapped[int | None] = mapped_column(Integer)
    round: Mapped[int | None] = mapped_column(Integer)
    ref_id: Mapped[int | None] = mapped_column(Integer)           # task id, roll-call member id …
    drill: Mapped[bool] = mapped_column(Boolean, default=False)
    status: Mapped[str] = mapped_column(String(12), default=QUEUED)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime)
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    provider: Mapped[str | None] = mapped_column(String(16))
    provider_id: Mapped[str | None] = mapped_column(String(64), unique=True)
    error_code: Mapped[int | None] = mapped_column(Integer)
    error_message: Mapped[str | None] = mapped_column(String(200))
    fallback_of_id: Mapped[int | None] = mapped_column(ForeignKey("messaging_outbox.id"))
    escalated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The start of an attempt whose outcome we never learned (the dispatcher died holding the lease, or
    # the request timed out): before sending again, ask the provider whether it already has it.
    unknown_since: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    def __repr__(self) -> str:   # no phone number or body: reprs end up in logs
        return f"<OutboxMessage {self.id} {self.key} {self.status}>"


class ProviderEvent(Base):
    """Every webhook or answer we acted on, once: ``dedupe_key`` makes replays no-ops."""

    __tablename__ = "messaging_provider_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    dedupe_key: Mapped[str] = mapped_column(String(160), unique=True)
    kind: Mapped[str] = mapped_column(String(16))        # inbound | status | voice | tap
    provider_sid: Mapped[str | None] = mapped_column(String(64), index=True)
    from_number: Mapped[str | None] = mapped_column(String(20))
    body: Mapped[str | None] = mapped_column(Text)
    outcome: Mapped[str | None] = mapped_column(String(32))
    outbox_id: Mapped[int | None] = mapped_column(Integer, index=True)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)


class OptOut(Base):
    """Numbers that sent STOP (or 停止 …). SMS to them is not attempted; check-ins go by voice."""

    __tablename__ = "messaging_opt_outs"

    phone: Mapped[str] = mapped_column(String(20), primary_key=True)
    opted_out_at: Mapped[datetime] = mapped_column(UTCDateTime)
    source: Mapped[str] = mapped_column(String(16))      # sms_reply | provider_21610


class Rollcall(Base):
    """職員安否確認: ask an organisation's staff 「無事／参集可能時間」 and tally the answers."""

    __tablename__ = "messaging_rollcalls"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    title: Mapped[str] = mapped_column(String(100))
    organization_id: Mapped[int | None] = mapped_column(ForeignKey("organizations.id"), index=True)
    drill: Mapped[bool] = mapped_column(Boolean, default=False)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    members: Mapped[list[RollcallMember]] = relationship(
        back_populates="rollcall", order_by="RollcallMember.id", cascade="all, delete-orphan")


class RollcallMember(Base):
    __tablename__ = "messaging_rollcall_members"
    __table_args__ = (UniqueConstraint("rollcall_id", "phone"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    rollcall_id: Mapped[int] = mapped_column(ForeignKey("messaging_rollcalls.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    name: Mapped[str] = mapped_column(String(100))
    phone: Mapped[str] = mapped_column(String(20))
    answer: Mapped[str | None] = mapped_column(String(20))
    eta_minutes: Mapped[int | None] = mapped_column(Integer)
    channel: Mapped[str | None] = mapped_column(String(8))
    answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    rollcall: Mapped[Rollcall] = relationship(back_populates="members")


class RateLimitState(Base):
    """One row per provider limit (e.g. ``sms``): the bucket's theoretical arrival time."""

    __tablename__ = "messaging_rate_limit"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    tat: Mapped[float] = mapped_column(Double)      # seconds since the epoch, database clock
