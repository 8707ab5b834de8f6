"""Small world builders shared by the drill tests (synthetic organisations and plans only)."""
from __future__ import annotations

from datetime import datetime, timedelta

from bcp_service.plans.models import Plan, PlanVersion
from bcp_service.plans.templates import TemplateLibrary


def make_plan(session, clock, *, region_code="1301", plan_type="kikan", title="試験クリニック 機関型BCP",
              status="draft", organization_id=None) -> Plan:
    version = TemplateLibrary.load().current(plan_type).version
    plan = Plan(type=plan_type, title=title, region_code=region_code, status=status, current_number=1,
                organization_id=organization_id, created_at=clock.now(), updated_at=clock.now())
    plan.versions.append(PlanVersion(number=1, template_version=version, status=status, created_at=clock.now()))
    session.add(plan)
    session.commit()
    return plan


def drill_body(orgs, *, when: datetime, mode="tabletop", scenario="blackout_72h", region="1301", **extra) -> dict:
    return {"title": "令和8年度 圏域合同訓練", "scenario": scenario, "mode": mode,
            "scheduled_at": when.isoformat(), "region_code": region,
            "participant_org_ids": [o.id for o in orgs], "plan_ids": [],
            "objectives": ["3時間以内に全員の安否を確認できる", "搬送の調整ができる"], **extra}


def later(clock, **kw) -> datetime:
    return clock.now() + timedelta(**kw)
