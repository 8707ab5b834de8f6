"""Who goes to the door, and what they need there: the team on call for a 圏域, the transport team,
and the details a task carries (shown only to signed-in staff). Read-only helpers of the task and
transport use cases.
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from bcp_service.clock import iso_local
from bcp_service.orgs.models import Organization
from bcp_service.outages import triage
from bcp_service.outages.models import Outage, OutagePatient
from bcp_service.registry.models import Patient
from bcp_service.registry.phones import route as phone_route


def task_details(outage: Outage, r: OutagePatient, patient: Patient | None, *, now: datetime) -> dict:
    """What the field team needs at the door. Stored on the task (shown only to signed-in staff)."""
    if patient is None:
        return {"patient_id": r.patient_id}
    return {
        "patient_id": patient.id,
        "name": patient.name,
        "address": patient.address,
        "phone": patient.phone_e164,
        "lat": patient.lat, "lon": patient.lon,
        "devices": [{"kind": d.kind, "label": d.label, "mode": d.mode, "model": d.model} for d in patient.devices],
        "runway_hours_left": round(triage.hours_left(r.runs_out_at, now), 1),
        "runs_out_at": iso_local(r.runs_out_at),
        "contacts": [{"name": c.name, "relation": c.relation, "phone": c.phone_e164} for c in patient.contacts],
        "transport_needs": patient.transport_needs,
    }


def textable(org: Organization) -> bool:
    return phone_route(org.phone)[1] == "sms"


def hub_on_call(session: Session, region_code: str | None) -> Organization | None:
    """The team on call for the 圏域: one that can be texted first, the 拠点 itself before other
    on-call organisations; failing that, any on-call organisation (the desk then phones it)."""
    if region_code is None:
        return None
    on_call = session.scalars(select(Organization).where(
        Organization.region_code == region_code, Organization.on_call_24h.is_(True),
        Organization.phone.is_not(None)).order_by(Organization.id)).all()
    if not on_call:
        return None
    return min(on_call, key=lambda o: (not textable(o), o.kind != "community_support_center", o.id))


def transport_team(session: Session, outage: Outage, patient: Patient | None) -> Organization | None:
    region = outage.region_code or (patient.region_code if patient else None)
    if region is None:
        return None
    fire = session.scalars(select(Organization).where(
        Organization.region_code == region, Organization.kind == "fire_department",
        Organization.phone.is_not(None)).order_by(Organization.id)).all()
    texted = [f for f in fire if textable(f)]
    hub = hub_on_call(session, region)
    if texted:
        return texted[0]
    if hub is not None and textable(hub):
        return hub
    return fire[0] if fire else hub          # nobody can be texted: the desk phones them


