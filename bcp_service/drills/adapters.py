"""The drill ports (drills.ports) onto the real subsystems: the outage desk and the messaging outbox."""
from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import select
from sqlalchemy.orm import Session

from bcp_service.auth import Actor
from bcp_service.drills.metrics import CheckinRecord
from bcp_service.errors import Conflict, Unprocessable
from bcp_service.messaging import outbox
from bcp_service.orgs.models import Region
from bcp_service.outages import drill_overlap, notify
from bcp_service.outages.models import FieldTask, Outage, OutagePatient
from bcp_service.outages.declare import DeclareOutage, declare_outage, resolve_outage

log = logging.getLogger(__name__)


class OutagesDesk:
    """A functional drill runs the real outage pipeline with ``drill: true``.

    Only patients who opted in to drills and belong to (primary or nursing organisation) one of the
    participating organisations are contacted; the outage package renders every text with 【訓練】.
    Nobody in an active real outage is contacted (``outages.drill_overlap``).
    """

    def open_drill_outage(self, session: Session, drill, scenario, *, actor: Actor, now: datetime) -> int:
        region = session.get(Region, drill.region_code)
        codes = list(region.municipality_codes or []) if region else []
        if not codes:
            raise Unprocessable("圏域に市区町村コードが登録されていないため、訓練の停電範囲を決められません",
                                code="no_drill_area")
        if not drill.participant_org_ids:
            raise Unprocessable("参加機関がないため機能訓練を開始できません", code="no_participants")
        cmd = DeclareOutage(
            area={"municipality_codes": codes}, started_at=now,
            expected_restoration_at=now + timedelta(hours=scenario.expected_restoration_hours),
            cause=scenario.cause, drill=True, region_code=drill.region_code,
            patient_filter={"organization_ids": sorted(drill.participant_org_ids)})
        result = declare_outage(session, actor, cmd, now=now, notifier=notify.notifier_for(current_app))
        return result.outage.id

    def resolve(self, session: Session, outage_id: int, *, actor: Actor, now: datetime) -> None:
        try:
            resolve_outage(session, actor, outage_id, now=now, notifier=notify.notifier_for(current_app))
        except Conflict:
            pass  # the desk resolved the drill outage already; the drill just ends

    def active_real_outages(self, session: Session, region_code: str) -> list[int]:
        return drill_overlap.active_real_outages(session, region_code)

    def excluded_patients(self, session: Session, outage_id: int) -> list[tuple[int, int]]:
        return drill_overlap.excluded_patients(session, outage_id)

    def checkin_timeline(self, session: Session, outage_id: int) -> tuple[datetime, list[CheckinRecord], list[datetime]]:
        outage = session.get(Outage, outage_id)
        rows = session.execute(select(OutagePatient.patient_id, OutagePatient.answered_at).where(
            OutagePatient.outage_id == outage_id, OutagePatient.in_area.is_(True),
            OutagePatient.covered_by_outage_id.is_(None))).all()
        # A transport is "assigned" when its task to the transport team is created.
        transports = list(session.scalars(select(FieldTask.created_at).where(
            FieldTask.outage_id == outage_id, FieldTask.kind == "transport")))
        return outage.declared_at, [CheckinRecord(pid, at) for pid, at in rows], transports


def outage_desk() -> OutagesDesk:
    """The functional-drill port onto ``bcp_service.outages``."""
    return OutagesDesk()


@dataclass(frozen=True)
class OutboxNotifier:
    """Drill texts to staff contacts as outbox rows (idempotent keys ``drill:{id}:…``)."""

    def send(self, session: Session, *, to_e164: str, body: str, key: str, now: datetime) -> bool:
        """Queue one SMS; False when this key was queued before (the outbox keeps the first row)."""
        if outbox.get_by_key(session, key) is not None:
            return False
        outbox.enqueue(session, key=key, to=to_e164, channel="sms", body=body, purpose="drill", drill=True, now=now)
        return True


def notifier() -> OutboxNotifier:
    return OutboxNotifier()
