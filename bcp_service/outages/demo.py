"""Demo: a ready outage scenario in the seeded 圏域.

A typhoon has cut power in 中央区 and 港区 an hour ago; restoration is expected in 8 hours. The
outage is declared through the real service (so round-1 check-ins sit in the outbox and the phone
simulator can answer as patients); a few families have already answered.
"""
from __future__ import annotations

from datetime import timedelta

from flask import current_app
from sqlalchemy import select

from bcp_service.appclock import get_clock
from bcp_service.errors import DomainError
from bcp_service.auth.services import actor_for
from bcp_service.outages import checkins, declare, transport
from bcp_service.outages.access import SYSTEM
from bcp_service.outages.models import OutagePatient
from bcp_service.outages.notify import notifier_for

DEMO_AREA = {"municipality_codes": ["131024", "131032"]}


def seed(session, ctx) -> None:
    now = get_clock().now()
    notifier = notifier_for(current_app)
    hub = ctx.users.get("hub_staff")
    # Declared by the seeded 拠点 staff member when there is one (the timeline names who declared).
    actor = actor_for(hub) if hub else SYSTEM
    try:
        result = declare.declare_outage(session, actor, declare.DeclareOutage(
            area=DEMO_AREA, started_at=now - timedelta(hours=1), expected_restoration_at=now + timedelta(hours=8),
            cause="台風による配電線の断線（デモ）", region_code=ctx.region.code), now=now, notifier=notifier)
    except DomainError:
        return   # no patients seeded in those wards (e.g. --patients 0): no scenario
    session.flush()
    rows = session.scalars(select(OutagePatient).where(OutagePatient.outage_id == result.outage.id)
                           .order_by(OutagePatient.runs_out_at.desc())).all()
    # The families with the most power answer first; the short-runway ones are still silent.
    for row, answer in zip(rows[:6], ("1", "1", "1", "1", "2", "1")):
        checkins.record_answer(session, SYSTEM, outage_id=result.outage.id, patient_id=row.patient_id,
                               answer=answer, channel="demo", now=now, notifier=notifier)
    transport.propose_transports(session, SYSTEM, result.outage.id, now=now)
