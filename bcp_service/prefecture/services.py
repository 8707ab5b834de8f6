"""Prefecture review: gather anonymous facts per region and aggregate them (aggregate.py).

Only columns that cannot identify anyone are selected: region codes, plan types and states,
patient tiers, drill dates and check-in minutes, corrective-action states and due dates.
"""
from __future__ import annotations

import re
from datetime import date, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from bcp_service.auth import Actor, Role
from bcp_service.auth import audit
from bcp_service.auth.scope import require_role
from bcp_service.drills.after_action import drill_metrics
from bcp_service.drills.models import CorrectiveAction, Drill
from bcp_service.drills.states import DrillStatus
from bcp_service.errors import Invalid, NotFound, OutOfScope
from bcp_service.orgs.models import Region
from bcp_service.plans.models import Plan
from bcp_service.prefecture.aggregate import LOOKBACK, ActionFact, DrillFact, RegionAggregate, aggregate
from bcp_service.registry.models import Patient

PREF_RE = re.compile(r"^(0[1-9]|[1-3][0-9]|4[0-7])$")


def prefecture_report(session: Session, actor: Actor, pref_code: str, *, now: datetime, today: date,
                      desk=None) -> list[RegionAggregate]:
    require_role(actor, Role.ADMIN, Role.PREFECTURE_REVIEWER)
    if not PREF_RE.match(pref_code or ""):
        raise Invalid("都道府県コードは 01〜47 の2桁です", fields={"pref_code": ["01〜47 の2桁です"]})
    if actor.role is Role.PREFECTURE_REVIEWER and actor.scope != pref_code:
        raise OutOfScope("this prefecture is outside your scope")
    regions = session.execute(select(Region.code, Region.name).where(Region.prefecture_code == pref_code)
                              .order_by(Region.code)).all()
    if not regions:
        raise NotFound(f"no region in prefecture {pref_code}")
    codes = [r[0] for r in regions]

    plans = [tuple(r) for r in session.execute(select(Plan.region_code, Plan.type, Plan.status)
                                               .where(Plan.region_code.in_(codes)))]
    patients = [tuple(r) for r in session.execute(
        select(Patient.region_code, Patient.runway_tier).where(Patient.region_code.in_(codes),
                                                               Patient.status == "active",
                                                               Patient.deleted_at.is_(None)))]

    drills = session.scalars(select(Drill).where(Drill.region_code.in_(codes), Drill.status == DrillStatus.COMPLETED,
                                                 Drill.started_at >= now - LOOKBACK)).all()
    facts = []
    for d in drills:
        minutes = None
        if d.mode in ("drill", "functional") and desk is not None and d.outage_id is not None:
            m = drill_metrics(session, d, desk)
            minutes = m.minutes_to_100 if m else None
        facts.append(DrillFact(d.region_code, d.started_at, d.status, minutes))

    actions = [ActionFact(region, status, due) for region, status, due in session.execute(
        select(Drill.region_code, CorrectiveAction.status, CorrectiveAction.due)
        .join(Drill, Drill.id == CorrectiveAction.drill_id).where(Drill.region_code.in_(codes)))]

    audit.record(session, actor, "read", "prefecture_report", pref_code)
    return aggregate(regions, plans=plans, patients=patients, drills=facts, actions=actions, now=now, today=today)


def totals(rows: list[RegionAggregate]) -> dict:
    out = {"patients_by_tier": {}, "drills_held": 0, "corrective_actions_open": 0, "corrective_actions_overdue": 0,
           "plans": {}}
    for r in rows:
        for t, n in r.patients_by_tier.items():
            out["patients_by_tier"][t] = out["patients_by_tier"].get(t, 0) + n
        for ptype, states in r.plans.items():
            dst = out["plans"].setdefault(ptype, {})
            for s, n in states.items():
                dst[s] = dst.get(s, 0) + n
        out["drills_held"] += r.drills_held
        out["corrective_actions_open"] += r.corrective_actions_open
        out["corrective_actions_overdue"] += r.corrective_actions_overdue
    return out
