"""Who goes to the door, and what they need there: the on-call order of teams for a 圏域 (visits and
transport), the acknowledgement deadline a task gets from the patient's countdown, and the details
and words a task carries (the device, the transport need). Read-only helpers of the task and
transport use cases; ``ack_deadline`` and the phrase helpers are pure.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache
from pathlib import Path

import yaml
from sqlalchemy import select
from sqlalchemy.orm import Session

from bcp_service.clock import iso_local
from bcp_service.orgs.models import Organization
from bcp_service.outages import triage
from bcp_service.outages.models import Outage, OutagePatient
from bcp_service.registry.models import TRANSPORT_LABELS, Patient
from bcp_service.registry.phones import route as phone_route
from bcp_service.registry.runway.model import DEVICE_LABELS

# The device named in a task text, most life-critical first (a ventilator user with oxygen is named
# by the ventilator).
DEVICE_ORDER = ("ventilator", "oxygen_concentrator", "suction", "infusion_pump", "feeding_pump", "other")


def device_phrase(devices: list[dict] | None) -> str:
    """「人工呼吸器」「酸素濃縮装置・吸引器」: the patient's devices in order of criticality (two at most)."""
    kinds = {d.get("kind") for d in devices or ()}
    named = [DEVICE_LABELS[k] for k in DEVICE_ORDER if k in kinds and k != "other"][:2]
    return "・".join(named) if named else "医療機器"


def needs_phrase(transport_needs: str | None) -> str:
    """The registered transport need in Japanese (「ストレッチャー」), or that it is not registered."""
    return TRANSPORT_LABELS.get(transport_needs or "", "搬送手段未登録")


def task_details(outage: Outage, r: OutagePatient, patient: Patient | None, *, now: datetime) -> dict:
    """What the field team needs at the door. Stored on the task (shown only to signed-in staff)."""
    if patient is None:
        return {"patient_id": r.patient_id, "device": "医療機器", "transport_needs_label": needs_phrase(None)}
    devices = [{"kind": d.kind, "label": d.label, "mode": d.mode, "model": d.model} for d in patient.devices]
    return {
        "patient_id": patient.id,
        "name": patient.name,
        "address": patient.address,
        "phone": patient.phone_e164,
        "lat": patient.lat, "lon": patient.lon,
        "devices": devices,
        "device": device_phrase(devices),
        "runway_hours_left": round(triage.hours_left(r.runs_out_at, now), 1),
        "runs_out_at": iso_local(r.runs_out_at),
        "contacts": [{"name": c.name, "relation": c.relation, "phone": c.phone_e164} for c in patient.contacts],
        "transport_needs": patient.transport_needs,
        "transport_needs_label": needs_phrase(patient.transport_needs),
    }


# --- the acknowledgement deadline ---------------------------------------------------------------------

@dataclass(frozen=True)
class TaskPolicy:
    """``alerts/escalation.yaml`` ``tasks``: a team has ``share`` of the time left before the patient's
    power runs out (less the outage's safety margin) to acknowledge, within [min, max] minutes."""

    share: float = 0.25
    min_minutes: float = 5.0
    max_minutes: dict = None      # by kind: {"visit": 30, "transport": 15}

    def max_for(self, kind: str) -> float:
        return float((self.max_minutes or {}).get(kind, 30))


def policy_from_dict(raw: dict) -> TaskPolicy:
    t = (raw or {}).get("tasks") or {}
    p = TaskPolicy(share=float(t.get("ack_share", 0.25)), min_minutes=float(t.get("ack_min_minutes", 5)),
                   max_minutes=dict(t.get("ack_max_minutes") or {"visit": 30, "transport": 15}))
    if not (0 < p.share <= 1) or p.min_minutes <= 0 or any(float(v) < p.min_minutes for v in p.max_minutes.values()):
        raise ValueError("escalation.yaml tasks: need 0 < ack_share <= 1, 0 < ack_min_minutes <= ack_max_minutes")
    return p


@lru_cache(maxsize=4)
def load_task_policy(path: str | None = None) -> TaskPolicy:
    p = Path(path) if path else Path(__file__).resolve().parents[2] / "alerts" / "escalation.yaml"
    with p.open(encoding="utf-8") as fh:
        return policy_from_dict(yaml.safe_load(fh) or {})


def ack_deadline(kind: str, runs_out_at: datetime | None, *, now: datetime, safety_margin_minutes: float = 60.0,
                 policy: TaskPolicy | None = None) -> datetime:
    """When a team must have acknowledged: a share of the patient's remaining budget, never less than
    the minimum (a patient already past the margin still gives a team a few minutes) nor more than
    the kind's maximum. Pure."""
    policy = policy or load_task_policy()
    lo, hi = timedelta(minutes=policy.min_minutes), timedelta(minutes=policy.max_for(kind))
    if runs_out_at is None:
        return now + hi
    budget = runs_out_at - timedelta(minutes=safety_margin_minutes) - now
    return now + min(hi, max(lo, budget * policy.share))


# --- the on-call order ----------------------------------------------------------------------------------

def textable(org: Organization) -> bool:
    return phone_route(org.phone)[1] == "sms"


def _on_call(session: Session, region_code: str | None) -> list[Organization]:
    """The region's on-call organisations with a phone: textable first, the 拠点 before others."""
    if region_code is None:
        return []
    on_call = session.scalars(select(Organization).where(
        Organization.region_code == region_code, Organization.on_call_24h.is_(True),
        Organization.phone.is_not(None)).order_by(Organization.id)).all()
    return sorted(on_call, key=lambda o: (not textable(o), o.kind != "community_support_center", o.id))


def hub_on_call(session: Session, region_code: str | None) -> Organization | None:
    """The team on call for the 圏域: one that can be texted first, the 拠点 itself before other
    on-call organisations; failing that, any on-call organisation (the desk then phones it)."""
    teams = _on_call(session, region_code)
    return teams[0] if teams else None


def _unique(orgs) -> list[Organization]:
    seen, out = set(), []
    for o in orgs:
        if o is not None and o.id not in seen:
            seen.add(o.id)
            out.append(o)
    return out


def visit_order(session: Session, outage: Outage, patient: Patient | None) -> list[Organization]:
    """Who is asked to visit, in turn: the patient's nursing station (when it has a phone), then the
    region's on-call teams (see ``hub_on_call``)."""
    station = patient.nursing_org if patient is not None else None
    first = [station] if station is not None and station.phone else []
    return _unique(first + _on_call(session, outage.region_code or (patient.region_code if patient else None)))


def transport_order(session: Session, outage: Outage, patient: Patient | None) -> list[Organization]:
    """Who is asked to transport, in turn: fire departments that can be texted, then textable on-call
    teams, then the ones the desk must phone."""
    region = outage.region_code or (patient.region_code if patient else None)
    if region is None:
        return []
    fire = session.scalars(select(Organization).where(
        Organization.region_code == region, Organization.kind == "fire_department",
        Organization.phone.is_not(None)).order_by(Organization.id)).all()
    on_call = _on_call(session, region)
    return _unique([f for f in fire if textable(f)] + [o for o in on_call if textable(o)]
                   + [f for f in fire if not textable(f)] + on_call)


def transport_team(session: Session, outage: Outage, patient: Patient | None) -> Organization | None:
    order = transport_order(session, outage, patient)
    return order[0] if order else None       # nobody can be texted: the desk phones them
