"""The desk dashboard's live data, compact: only what ``outages/dashboard.html`` draws.

``/outages/<id>/live.json`` is polled every few seconds by every open desk while a 20,000-patient
fan-out runs on the same web tier. :func:`live_body` returns the same keys the dashboard reads
(``now``, ``outage.status``/``counts``, ``patients``, ``transports``, ``tasks``, ``events``,
``facilities``) built from column selects, and leaves out what the page does not show: the outage's
area (a polygon or thousands of municipality codes), per-row fields the table does not draw
(``runway_hours_left``, ``next_action_at``, ``runway_known``, ``municipality_code``), event details
beyond their text, and facility and transport columns the map and table do not use. Patients' names,
addresses and phones stay: the triage table shows them (a desk role only, as before).

Call site, in ``views.live`` (the charging suggestions stay the view's, over the compact rows)::

    body = live_data.live_body(db.session, outage, now=now, **_tiers())
    body["charging"] = _charging_suggestions(outage, body["patients"])
"""
from __future__ import annotations

from collections import Counter
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session, aliased

from bcp_service.orgs.models import Organization
from bcp_service.outages import queries, triage
from bcp_service.outages.models import CHECKIN_STATES, FieldTask, Outage, OutageEvent, OutagePatient, Transport
from bcp_service.outages.report import detail_text
from bcp_service.registry.models import Patient
from bcp_service.registry.phones import format_phone

_jst = queries._jst
EVENTS_SHOWN = 100


def patient_rows(session: Session, outage: Outage, *, now: datetime, red_hours: float = triage.RED_HOURS,
                 yellow_hours: float = triage.YELLOW_HOURS) -> list[dict]:
    """The triage table's rows, in its order (runs out first, 24 h dependence first, then id)."""
    op, p = OutagePatient, Patient
    stmt = (select(op.patient_id, op.runs_out_at, op.checkin, op.transport_id, op.dependent_24h, op.round,
                   op.reported_hours, op.reported_at, op.covered_by_outage_id, p.name, p.address, p.phone_e164,
                   p.lat, p.lon)
            .join(p, p.id == op.patient_id)
            .where(op.outage_id == outage.id, op.in_area.is_(True))
            .order_by(op.runs_out_at, op.dependent_24h.desc(), op.patient_id))
    restore = outage.expected_restoration_at
    out, covered = [], {}
    for (pid, runs_out, checkin, transport_id, dep, rnd, rep_h, rep_at, cover, name, address, phone, lat,
         lon) in session.execute(stmt):
        row = {"patient_id": pid, "runs_out_at": _jst(runs_out),
               "tier": triage.tier_for(runs_out, now=now, expected_restoration_at=restore, red_hours=red_hours,
                                       yellow_hours=yellow_hours),
               "checkin": checkin, "transport_id": transport_id, "dependent_24h": dep, "round": rnd,
               "reported_hours": rep_h, "reported_at": _jst(rep_at), "covered_by_outage_id": cover,
               "name": name, "address": address, "phone": phone, "phone_display": format_phone(phone),
               "lat": lat, "lon": lon}
        out.append(row)
        if cover is not None:
            covered[pid] = row
    if covered:
        queries._carry_covering_state(session, outage, covered)
        for row in covered.values():
            row.pop("next_action_at", None)
    return out


def summary(rows: list[dict], outage: Outage) -> dict:
    by_checkin = Counter(r["checkin"] for r in rows)
    by_tier = Counter(r["tier"] for r in rows)
    return {"id": outage.id, "status": outage.status, "drill": outage.drill, "affected": len(rows),
            "expected_restoration_at": _jst(outage.expected_restoration_at),
            "counts": {"checkin": {s: by_checkin.get(s, 0) for s in CHECKIN_STATES},
                       "tier": {t: by_tier.get(t, 0) for t in triage.TIERS}},
            "reached": sum(by_checkin.get(s, 0) for s in ("ok", "low_battery", "needs_help"))}


def transports(session: Session, outage_id: int) -> list[dict]:
    fac = aliased(Organization)
    stmt = (select(Transport.id, Transport.patient_id, Transport.status, Transport.distance_km, Transport.note,
                   fac.name, Patient.name)
            .outerjoin(fac, fac.id == Transport.facility_id).join(Patient, Patient.id == Transport.patient_id)
            .where(Transport.outage_id == outage_id).order_by(Transport.id))
    return [{"id": i, "patient_id": pid, "status": st, "distance_km": km, "note": note, "facility_name": fname,
             "patient_name": pname} for i, pid, st, km, note, fname, pname in session.execute(stmt)]


def events(session: Session, outage_id: int, *, limit: int = EVENTS_SHOWN) -> list[dict]:
    stmt = (select(OutageEvent.at, OutageEvent.kind, OutageEvent.patient_id, OutageEvent.detail)
            .where(OutageEvent.outage_id == outage_id).order_by(OutageEvent.id.desc()).limit(limit))
    return [{"at": _jst(at), "kind": kind, "patient_id": pid, "detail_text": detail_text(detail or {})}
            for at, kind, pid, detail in session.execute(stmt)]


def tasks(session: Session, outage_id: int) -> list[dict]:
    stmt = (select(FieldTask.id, FieldTask.kind, FieldTask.patient_id, FieldTask.status, FieldTask.created_at)
            .where(FieldTask.outage_id == outage_id).order_by(FieldTask.id))
    return [{"id": i, "kind": k, "patient_id": pid, "status": st, "created_at": _jst(at)}
            for i, k, pid, st, at in session.execute(stmt)]


def facilities(session: Session, region_code: str | None) -> list[dict]:
    o = Organization
    stmt = select(o.name, o.lat, o.lon, o.has_generator, o.power_supply_point).where(
        o.lat.is_not(None), (o.accepts_ventilator.is_(True)) | (o.power_supply_point.is_(True)))
    if region_code is not None:
        stmt = stmt.where(o.region_code == region_code)
    return [{"name": n, "lat": la, "lon": lo, "has_generator": g, "power_supply_point": psp}
            for n, la, lo, g, psp in session.execute(stmt)]


def live_body(session: Session, outage: Outage, *, now: datetime, red_hours: float = triage.RED_HOURS,
              yellow_hours: float = triage.YELLOW_HOURS) -> dict:
    rows = patient_rows(session, outage, now=now, red_hours=red_hours, yellow_hours=yellow_hours)
    return {"now": _jst(now), "outage": summary(rows, outage), "patients": rows,
            "transports": transports(session, outage.id), "events": events(session, outage.id),
            "tasks": tasks(session, outage.id), "facilities": facilities(session, outage.region_code)}
