"""Read side of the outage desk: counts, the triage list, transports, timeline.

Built from plain column selects (no ORM objects per row) so a 20,000-row triage list stays fast.
Tier and hours left are computed live from ``runs_out_at`` and ``now`` by ``triage``.
"""
from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta, timezone

from sqlalchemy import func, select
from sqlalchemy.orm import Session, aliased, object_session

from bcp_service.auth import Actor
from bcp_service.auth.scope import require_role
from bcp_service.clock import iso_local
from bcp_service.orgs.models import Organization
from bcp_service.outages import triage
from bcp_service.outages.access import DESK
from bcp_service.outages.models import CHECKIN_STATES, FieldTask, Outage, OutageEvent, OutagePatient, Transport
from bcp_service.outages.report import detail_text
from bcp_service.registry.models import TRANSPORT_LABELS as TRANSPORT_NEEDS_LABELS
from bcp_service.outages.states import OutageStatus, TransportStatus
from bcp_service.registry.models import Patient
from bcp_service.registry.phones import format_phone

DESK_FLAG_LABELS = {"loan_covers": "電源貸出により搬送不要の可能性（本部で判断）"}


def outages_stmt(actor: Actor, *, status: str | None = None):
    """The outages this desk actor may see, newest first (a select for ``api.paginate``)."""
    require_role(actor, *DESK)
    stmt = select(Outage).order_by(Outage.id.desc())
    if not actor.is_admin:
        stmt = stmt.where(Outage.region_code == actor.scope)
    if status:
        stmt = stmt.where(Outage.status == status)
    return stmt


def visible_outages(session: Session, actor: Actor, *, status: str | None = None) -> list[Outage]:
    return list(session.scalars(outages_stmt(actor, status=status)))


# Japan keeps no daylight saving time: a fixed +09:00 offset gives the same result as Asia/Tokyo
# and is several times cheaper than a ZoneInfo conversion, which matters for 20,000 rows.
_JST = timezone(timedelta(hours=9))


def _jst(value: datetime | None) -> str | None:
    return value.astimezone(_JST).isoformat() if value is not None else None


def triage_rows(session: Session, outage: Outage, *, now: datetime, red_hours: float = triage.RED_HOURS,
                yellow_hours: float = triage.YELLOW_HOURS, with_people: bool = False) -> list[dict]:
    """The active patients of the outage in triage order: ``needs_help`` first (oldest request
    first), then soonest ``runs_out_at``. Patients whose power is back (a restored part of the area)
    are not active and not listed. ``next_contact_at`` is when the service contacts the patient
    next; null only when no further contact is planned (safe at a facility, or the outage is over)."""
    cols = [OutagePatient.patient_id, OutagePatient.runs_out_at, OutagePatient.checkin,
            OutagePatient.transport_id, OutagePatient.dependent_24h, OutagePatient.round,
            OutagePatient.next_action_at, OutagePatient.runway_hours, OutagePatient.reported_hours,
            OutagePatient.reported_at, OutagePatient.covered_by_outage_id, OutagePatient.help_requested_at,
            Transport.status]
    if with_people:
        cols += [Patient.name, Patient.address, Patient.phone_e164, Patient.lat, Patient.lon,
                 Patient.municipality_code]
    # An area of municipality codes also takes in patients whose municipality is unknown (issue 12):
    # marked so the desk sees who was included by inference.
    mark_unknown = outage.area_kind == "municipality_codes"
    if mark_unknown:
        cols.append(Patient.municipality_code.is_(None))
    stmt = (select(*cols).outerjoin(Transport, Transport.id == OutagePatient.transport_id)
            .where(OutagePatient.outage_id == outage.id, OutagePatient.in_area.is_(True),
                   OutagePatient.restored_at.is_(None))
            .order_by(OutagePatient.runs_out_at, OutagePatient.dependent_24h.desc(), OutagePatient.patient_id))
    if with_people or mark_unknown:
        stmt = stmt.join(Patient, Patient.id == OutagePatient.patient_id)
    restore = outage.expected_restoration_at
    active = outage.status == OutageStatus.ACTIVE
    out = []
    covered: dict[int, dict] = {}
    help_at: dict[int, datetime | None] = {}
    for r in session.execute(stmt):
        runs_out = r[1]
        planned = r[6] if active and r[12] != TransportStatus.ARRIVED else None
        row = {
            "patient_id": r[0],
            "runs_out_at": _jst(runs_out),
            "runway_hours_left": round(triage.hours_left(runs_out, now), 2),
            "tier": triage.tier_for(runs_out, now=now, expected_restoration_at=restore,
                                    red_hours=red_hours, yellow_hours=yellow_hours),
            "checkin": r[2],
            "transport_id": r[3],
            "next_contact_at": _jst(planned),
            "runs_out_source": triage.runs_out_source(r[8]),
            "dependent_24h": r[4],
            "round": r[5],
            "next_action_at": _jst(r[6]),
            "runway_known": r[7] is not None or r[8] is not None,
            # What the family reported (answer 2 with hours): shown on the desk next to the countdown.
            "reported_hours": r[8],
            "reported_at": _jst(r[9]),
            # Another active outage checks in with this patient (no second message): see below.
            "covered_by_outage_id": r[10],
            "municipality_unknown": bool(r[-1]) if mark_unknown else False,
            "help_requested_at": _jst(r[11]),
            "transport_status": r[12],
        }
        help_at[r[0]] = r[11]
        if with_people:
            row.update(name=r[13], address=r[14], phone=r[15], phone_display=format_phone(r[15]), lat=r[16],
                       lon=r[17], municipality_code=r[18])
        out.append(row)
        if r[10] is not None:
            covered[r[0]] = row
    if covered:
        _carry_covering_state(session, outage, covered, help_at, active=active)
    # Urgent first (a stable sort keeps the runway order among everyone else).
    out.sort(key=lambda row: triage.urgent_key(row["checkin"], help_at.get(row["patient_id"])))
    return out


def _carry_covering_state(session: Session, outage: Outage, covered: dict[int, dict],
                          help_at: dict[int, datetime | None], *, active: bool = True) -> None:
    """Patients messaged by an overlapping outage have round 0 here: show the round, check-in state
    and next step of the outage that is actually messaging them (one join on the unique
    (outage_id, patient_id) index, only when this outage has such patients)."""
    mine, cover = aliased(OutagePatient), aliased(OutagePatient)
    stmt = (select(mine.patient_id, cover.round, cover.checkin, cover.next_action_at, cover.help_requested_at)
            .join(cover, (cover.outage_id == mine.covered_by_outage_id) & (cover.patient_id == mine.patient_id))
            .where(mine.outage_id == outage.id, mine.covered_by_outage_id.is_not(None)))
    for patient_id, round_no, checkin, next_at, helped in session.execute(stmt):
        row = covered.get(patient_id)
        if row is None:
            continue
        row["round"] = round_no
        row["next_action_at"] = _jst(next_at)
        row["next_contact_at"] = _jst(next_at) if active else None
        if row["checkin"] == "pending":      # answers reach every outage; escalation states do not
            row["checkin"] = checkin
            help_at[patient_id] = help_at.get(patient_id) or helped


def summary(session: Session, outage: Outage, rows: list[dict]) -> dict:
    """Counts of the active rows, plus how many patients are restored."""
    return {**counts(rows, outage), "restored": restored_count(session, outage)}


def restored_count(session: Session, outage: Outage) -> int:
    return session.scalar(select(func.count()).select_from(OutagePatient).where(
        OutagePatient.outage_id == outage.id, OutagePatient.in_area.is_(True),
        OutagePatient.restored_at.is_not(None))) or 0


def counts(rows: list[dict], outage: Outage) -> dict:
    by_checkin = Counter(r["checkin"] for r in rows)
    by_tier = Counter(r["tier"] for r in rows)
    return {
        "affected": len(rows),
        "checkin": {s: by_checkin.get(s, 0) for s in CHECKIN_STATES},
        "tier": {t: by_tier.get(t, 0) for t in triage.TIERS},
        "reached": sum(by_checkin.get(s, 0) for s in ("ok", "low_battery", "needs_help")),
        "transports": sum(1 for r in rows if r["transport_id"] is not None),
        "municipality_unknown": sum(1 for r in rows if r.get("municipality_unknown")),
    }


def outage_dict(outage: Outage, summary: dict | None = None) -> dict:
    body = {
        "id": outage.id,
        "status": outage.status,
        "drill": outage.drill,
        "region_code": outage.region_code,
        "cause": outage.cause,
        "area": outage.area,
        "started_at": iso_local(outage.started_at),
        "expected_restoration_at": iso_local(outage.expected_restoration_at),
        "declared_at": iso_local(outage.declared_at),
        "resolved_at": iso_local(outage.resolved_at),
        "silence_minutes": outage.silence_minutes,
        "safety_margin_minutes": outage.safety_margin_minutes,
    }
    if summary is not None:
        body.update(affected=summary["affected"], counts={"checkin": summary["checkin"], "tier": summary["tier"]},
                    reached=summary["reached"], municipality_unknown=summary.get("municipality_unknown", 0))
        if "restored" in summary:      # patients whose part of the area has power again (not active)
            body["restored"] = summary["restored"]
    return body


def transports_stmt(outage_id: int):
    return select(Transport).where(Transport.outage_id == outage_id).order_by(Transport.id)


def transports(session: Session, outage_id: int, *, with_people: bool = False) -> list[dict]:
    fac = aliased(Organization)
    stmt = (select(Transport, fac.name, fac.lat, fac.lon, Patient.name)
            .outerjoin(fac, fac.id == Transport.facility_id)
            .join(Patient, Patient.id == Transport.patient_id)
            .where(Transport.outage_id == outage_id).order_by(Transport.id))
    out = []
    for t, fname, flat, flon, pname in session.execute(stmt):
        item = transport_dict(t)
        item.update(facility_name=fname, facility_lat=flat, facility_lon=flon)
        if with_people:
            item["patient_name"] = pname
        out.append(item)
    return out


def transport_item(t: Transport) -> dict:
    """One item of the transports list: the transport and where it goes."""
    facility = object_session(t).get(Organization, t.facility_id) if t.facility_id is not None else None
    return {**transport_dict(t), "facility_name": facility.name if facility else None,
            "facility_lat": facility.lat if facility else None, "facility_lon": facility.lon if facility else None}


def transport_dict(t: Transport) -> dict:
    return {"id": t.id, "outage_id": t.outage_id, "patient_id": t.patient_id, "facility_id": t.facility_id,
            "status": t.status, "reason": t.reason, "distance_km": t.distance_km,
            "bed_reserved": t.bed_reserved, "note": t.note, "transport_needs": t.transport_needs,
            "transport_needs_label": TRANSPORT_NEEDS_LABELS.get(t.transport_needs), "desk_flag": t.desk_flag,
            "desk_flag_label": DESK_FLAG_LABELS.get(t.desk_flag), "flag": t.flag,
            "created_at": iso_local(t.created_at),
            "updated_at": iso_local(t.updated_at)}


def events_stmt(outage_id: int):
    return select(OutageEvent).where(OutageEvent.outage_id == outage_id).order_by(OutageEvent.id.desc())


def events(session: Session, outage_id: int, *, limit: int | None = None) -> list[dict]:
    stmt = events_stmt(outage_id)
    if limit:
        stmt = stmt.limit(limit)
    return [event_dict(e) for e in session.scalars(stmt)]


def event_dict(e: OutageEvent) -> dict:
    return {"id": e.id, "at": iso_local(e.at), "kind": e.kind, "patient_id": e.patient_id,
            "detail": e.detail or {}, "detail_text": detail_text(e.detail or {})}


def tasks_stmt(outage_id: int):
    return select(FieldTask).where(FieldTask.outage_id == outage_id).order_by(FieldTask.id)


def tasks(session: Session, outage_id: int) -> list[dict]:
    stmt = (select(FieldTask, Organization.name).outerjoin(Organization, Organization.id == FieldTask.organization_id)
            .where(FieldTask.outage_id == outage_id).order_by(FieldTask.id))
    return [{**task_dict(t), "organization_name": name} for t, name in session.execute(stmt)]


def task_dict(t: FieldTask) -> dict:
    return {"id": t.id, "outage_id": t.outage_id, "patient_id": t.patient_id, "kind": t.kind,
            "status": t.status, "organization_id": t.organization_id, "transport_id": t.transport_id,
            "details": t.details, "created_at": iso_local(t.created_at),
            "acknowledged_at": iso_local(t.acknowledged_at), "ack_deadline_at": iso_local(t.ack_deadline_at),
            "handoff_of_id": t.handoff_of_id, "handoff_reason": t.handoff_reason}


def facilities_for_map(session: Session, region_code: str | None) -> list[dict]:
    stmt = select(Organization.id, Organization.name, Organization.lat, Organization.lon,
                  Organization.has_generator, Organization.power_supply_point, Organization.accepts_ventilator,
                  Organization.ventilator_beds).where(
        Organization.lat.is_not(None),
        (Organization.accepts_ventilator.is_(True)) | (Organization.power_supply_point.is_(True)))
    if region_code is not None:
        stmt = stmt.where(Organization.region_code == region_code)
    return [dict(id=r[0], name=r[1], lat=r[2], lon=r[3], has_generator=r[4], power_supply_point=r[5],
                 accepts_ventilator=r[6], ventilator_beds=r[7]) for r in session.execute(stmt)]


def checkin_timeline(session: Session, outage_id: int) -> tuple[datetime, list[tuple[int, datetime | None]], list[datetime]]:
    """For drills' metrics: (declared_at, [(patient_id, first answer time or None)], [transport times]).
    Only patients this outage contacted itself (not those covered by an overlapping outage)."""
    outage = session.get(Outage, outage_id)
    if outage is None:
        from bcp_service.errors import NotFound
        raise NotFound(f"outage {outage_id} not found")
    rows = session.execute(select(OutagePatient.patient_id, OutagePatient.answered_at).where(
        OutagePatient.outage_id == outage_id, OutagePatient.in_area.is_(True),
        OutagePatient.covered_by_outage_id.is_(None)).order_by(OutagePatient.patient_id)).all()
    transports = list(session.scalars(select(Transport.created_at).where(
        Transport.outage_id == outage_id, Transport.status != "proposed").order_by(Transport.created_at)))
    return outage.declared_at, [(r[0], r[1]) for r in rows], transports
