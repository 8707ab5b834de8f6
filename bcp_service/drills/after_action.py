"""After the drill: its figures (functional drills) and the after-action report / improvement plan."""
from __future__ import annotations

from datetime import datetime
from typing import Mapping

from sqlalchemy.orm import Session

from bcp_service.auth import Actor, audit
from bcp_service.drills.access import get_drill
from bcp_service.drills.evaluations import plan_sections
from bcp_service.drills.evaluation import LIVE_MODE
from bcp_service.drills.metrics import DrillMetrics, compute
from bcp_service.drills.models import Drill
from bcp_service.drills.ports import OutageDesk
from bcp_service.drills.report import AarAction, AarObjective, AfterActionReport, Observation, merge_observations
from bcp_service.plans.history import user_names
from bcp_service.drills.scenarios import Scenario
from bcp_service.orgs.models import Region
from bcp_service.plans.models import Plan


PLAN_TYPE_JA = {"kikan": "機関型BCP", "renkei": "連携型BCP", "chiiki": "地域BCP"}


def drill_metrics(session: Session, drill: Drill, desk: OutageDesk | None) -> DrillMetrics | None:
    if drill.mode != LIVE_MODE or drill.outage_id is None or desk is None:
        return None
    started, records, transports = desk.checkin_timeline(session, drill.outage_id)
    return compute(started, records, transport_assigned_at=transports, ended_at=drill.ended_at)


def build_report(session: Session, actor: Actor, drill_id: int, *, now: datetime,
                 library: Mapping[str, Scenario], desk: OutageDesk | None) -> AfterActionReport:
    drill = get_drill(session, actor, drill_id)
    scenario = library.get(drill.scenario_key)
    region = session.get(Region, drill.region_code)
    names = user_names(session, [e.evaluator_id for e in drill.evaluations])
    by_objective: dict[str, list[Observation]] = {}
    for e in sorted(drill.evaluations, key=lambda e: e.id):
        by_objective.setdefault(e.objective, []).append(Observation(
            names.get(e.evaluator_id, "評価者"), e.rating, e.strengths, e.improvements, e.root_cause))
    mapped = {o.text: o for o in scenario.objectives} if scenario else {}

    def objective(text: str) -> AarObjective:
        m = mapped.get(text)
        return merge_observations(text, by_objective.get(text, ()), capabilities=m.core_capabilities if m else (),
                                  critical_tasks=m.critical_tasks if m else ())
    # Evaluations of objectives added outside the drill's list still belong in the report.
    objectives = [objective(o) for o in drill.objectives] + [
        objective(o) for o in by_objective if o not in drill.objectives]
    actions = []
    for a in drill.corrective_actions:
        plan_ref = ""
        if a.plan_id is not None:
            plan = session.get(Plan, a.plan_id)
            if plan is not None:
                plan_ref = f"{PLAN_TYPE_JA.get(plan.type, plan.type)}『{plan.title}』"
                titles = dict(plan_sections(plan))
            else:
                plan_ref, titles = f"計画 No.{a.plan_id}", {}
            if a.section_key:
                plan_ref += f" / {titles.get(a.section_key, a.section_key)}"
        actions.append(AarAction(
            # 課題 = the area for improvement the action answers (the objective only when none was written)
            issue=(a.evaluation.improvements or a.evaluation.objective) if a.evaluation else "", title=a.title, element=a.element,
            owner=a.owner.name if a.owner else "", contact=a.contact or "", start=a.start, due=a.due,
            status=a.status, plan_ref=plan_ref))
    audit.record(session, actor, "read", "drill_report", drill.id)
    return AfterActionReport(
        drill_id=drill.id, title=drill.title,
        scenario_title=scenario.title if scenario else drill.scenario_key,
        hazard=scenario.hazard if scenario else "other", mode=drill.mode,
        scheduled_at=drill.scheduled_at, started_at=drill.started_at, ended_at=drill.ended_at,
        scope=f"{region.name}（{region.code}）" if region else drill.region_code,
        summary=drill.summary or "", contact=drill.contact or "",
        participants=tuple(p.organization_name for p in drill.participants),
        objectives=tuple(objectives), actions=tuple(actions),
        metrics=drill_metrics(session, drill, desk),
        log_count=len(drill.log_entries), generated_at=now,
        scenario_narrative=narrative(scenario) if scenario else "",
    )


def narrative(scenario: Scenario) -> str:
    """The scenario as played: its summary, then each inject's time and situation."""
    lines = [scenario.summary] + [f"{i.at_minutes // 60}時間{i.at_minutes % 60:02d}分後 {i.title}: {i.situation}"
                                  for i in scenario.injects]
    return "\n".join(lines)
