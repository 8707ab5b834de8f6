"""The demo's phone simulator, scoped like the desk: a region's staff see and answer only what was sent
about their region (admin sees everything).

A message belongs to the region of its outage, else of its patient, else (staff roll-calls) of the
roll-call's organisation or, without one, of the staff member who started it. Messages with none of
these are shown to admins only. Messaging does not import registry or outages (ARCHITECTURE.md): their
tables are named here as plain Core tables, read-only.
"""
from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import ColumnElement, Integer, String, column, false, func, or_, select, table
from sqlalchemy.orm import Session

from bcp_service.auth import Actor, audit
from bcp_service.auth.models import User
from bcp_service.auth.scope import visible_region_codes
from bcp_service.errors import NotFound, OutOfScope
from bcp_service.messaging.models import OutboxMessage, ProviderEvent, Rollcall, RollcallMember
from bcp_service.orgs.models import Organization

_outages = table("outages", column("id", Integer), column("region_code", String))
_patients = table("patients", column("id", Integer), column("region_code", String))


def rollcall_region_expr(rollcall_id) -> ColumnElement:
    """SQL: the region of a roll-call (its organisation's, else its creator's scope)."""
    org_region = (select(Organization.region_code).join(Rollcall, Rollcall.organization_id == Organization.id)
                  .where(Rollcall.id == rollcall_id).scalar_subquery())
    creator_region = (select(User.scope).join(Rollcall, Rollcall.created_by == User.id)
                      .where(Rollcall.id == rollcall_id).scalar_subquery())
    return func.coalesce(org_region, creator_region)


def message_region_expr() -> ColumnElement:
    """SQL: the region an outbox row is about, or NULL."""
    outage_region = select(_outages.c.region_code).where(_outages.c.id == OutboxMessage.outage_id).scalar_subquery()
    patient_region = (select(_patients.c.region_code).where(_patients.c.id == OutboxMessage.patient_id)
                      .scalar_subquery())
    member_rollcall = (select(RollcallMember.rollcall_id).where(RollcallMember.id == OutboxMessage.ref_id)
                       .scalar_subquery())
    rollcall_region = select(rollcall_region_expr(member_rollcall)).where(OutboxMessage.purpose == "rollcall") \
        .scalar_subquery()
    return func.coalesce(outage_region, patient_region, rollcall_region)


def _scope_filter(session: Session, actor: Actor) -> ColumnElement | None:
    regions = visible_region_codes(session, actor)
    if regions is None:
        return None
    return message_region_expr().in_(sorted(regions)) if regions else false()


@dataclass(frozen=True)
class SimulatorView:
    messages: list[OutboxMessage]
    phones: list[str]
    events: list[ProviderEvent]
    queued: int


def view(session: Session, actor: Actor, *, phone: str | None) -> SimulatorView:
    """What the simulator shows this actor; the read is audited (ids only)."""
    scope = _scope_filter(session, actor)

    def scoped(stmt):
        return stmt if scope is None else stmt.where(scope)

    stmt = scoped(select(OutboxMessage).where(OutboxMessage.status.notin_(("queued", "cancelled"))))
    if phone:
        stmt = stmt.where(OutboxMessage.to == phone)
    messages = list(session.scalars(stmt.order_by(OutboxMessage.id.desc()).limit(100)))
    phones = list(session.scalars(scoped(select(OutboxMessage.to)).distinct().order_by(OutboxMessage.to)
                                  .limit(500)))
    events_stmt = select(ProviderEvent).order_by(ProviderEvent.id.desc()).limit(30)
    if scope is not None:
        visible_ids = scoped(select(OutboxMessage.id))
        events_stmt = events_stmt.where(or_(ProviderEvent.outbox_id.in_(visible_ids),
                                            ProviderEvent.from_number.in_(phones or [""])))
    events = list(session.scalars(events_stmt))
    queued = session.scalar(scoped(select(func.count()).select_from(OutboxMessage)
                                   .where(OutboxMessage.status == "queued")))
    audit.record(session, actor, "read", "simulator", None,
                 detail={"outbox_ids": [m.id for m in messages], "filtered": bool(phone)})
    return SimulatorView(messages, phones, events, queued or 0)


def _in_scope(session: Session, actor: Actor, message_id: int) -> bool:
    scope = _scope_filter(session, actor)
    if scope is None:
        return True
    return session.scalar(select(OutboxMessage.id).where(OutboxMessage.id == message_id, scope)) is not None


def check_reply(session: Session, actor: Actor, phone: str, reply_target: OutboxMessage | None) -> None:
    """An SMS reply from ``phone`` answers ``reply_target`` (what inbound would match): only in scope.
    A number with no visible message is not revealed (404)."""
    scope = _scope_filter(session, actor)
    if scope is not None and session.scalar(select(OutboxMessage.id).where(OutboxMessage.to == phone, scope)
                                            .limit(1)) is None:
        raise NotFound("この電話番号への送信はありません。")
    if reply_target is not None and not _in_scope(session, actor, reply_target.id):
        raise OutOfScope("この電話番号の最新の連絡は担当圏域外です。")
    audit.record(session, actor, "simulate_reply", "outbox", reply_target.id if reply_target else None)


def voice_message(session: Session, actor: Actor, outbox_id: int) -> OutboxMessage:
    """The voice call to answer with digits: a check-in call in the actor's scope, else NotFound."""
    msg = session.get(OutboxMessage, outbox_id)
    if (msg is None or msg.channel != "voice" or msg.patient_id is None or msg.outage_id is None
            or not _in_scope(session, actor, msg.id)):
        raise NotFound("通話が見つかりません。")
    audit.record(session, actor, "simulate_voice", "outbox", msg.id)
    return msg
