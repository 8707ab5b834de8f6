"""Demo seed: one completed tabletop drill with its log, evaluation and corrective actions (one of
them overdue and linked to a plan section), and two upcoming drills on the calendar."""
from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from bcp_service.auth.roles import Actor, Role
from bcp_service.appclock import get_clock
from bcp_service.clock import to_local
from bcp_service.drills import booking, evaluations, running
from bcp_service.drills.scenarios import load_library
from bcp_service.plans.models import Plan


def _plan_in(session, region_code: str, plan_type: str = "kikan"):
    return session.scalars(select(Plan).where(Plan.region_code == region_code, Plan.type == plan_type)
                           .order_by(Plan.id).limit(1)).first()


def seed(session, ctx) -> None:
    library = load_library()
    now = get_clock().now()
    hub_user = ctx.users.get("hub_staff")
    actor = Actor(hub_user.id if hub_user else None, Role.HUB_STAFF, ctx.region.code)
    orgs = list(ctx.organizations.values())
    clinic = next(o for o in orgs if o.kind == "clinic")
    nursing = next(o for o in orgs if o.kind == "home_nursing")
    hospital = next(o for o in orgs if o.kind == "hospital")
    hub = next((o for o in orgs if o.kind == "community_support_center"), clinic)
    members = [hub, clinic, nursing, hospital]
    participants = [{"organization_id": o.id, "contact_name": f"試験 担当{i + 1}",
                     "contact_phone": f"090-0000-{2001 + i:04d}"} for i, o in enumerate(members)]

    def local_at(days: int, hour: int):
        day = to_local(now + timedelta(days=days))
        return day.replace(hour=hour, minute=0, second=0, microsecond=0)

    # 1) A tabletop drill held about two months ago, evaluated, with corrective actions.
    held_at = local_at(-60, 14)
    booked = held_at - timedelta(days=30)
    past, _ = booking.create_drill(session, actor, {
        "title": "【デモ】大規模停電 机上訓練", "scenario": "blackout_72h", "mode": "tabletop",
        "scheduled_at": held_at, "duration_minutes": 120, "region_code": ctx.region.code,
        "participant_org_ids": [], "participants": participants, "plan_ids": [], "objectives": [],
        "location": "試験区中央部在宅医療連携拠点 会議室", "contact": "在宅医療連携拠点 事務局"},
        now=booked, library=library)
    t = held_at
    running.start_drill(session, actor, past.id, now=t, library=library, desk=None)
    answers = [
        ("organization", hub.id, "拠点に対策本部を立ち上げ、連絡網で各機関へ一斉連絡する"),
        ("individual", nursing.id, "担当患者の自立電源時間を一覧で確認し、短い順に電話する"),
        ("patient_care", clinic.id, "内部バッテリーのみの患者は受入病院への搬送を検討する"),
    ]
    for i, inject in enumerate(library["blackout_72h"].injects):
        if i:
            t += timedelta(minutes=20)
            running.advance_inject(session, actor, past.id, now=t, library=library)
        for question, org_id, text in answers:
            t += timedelta(minutes=3)
            running.add_log(session, actor, past.id, {"text": text, "question": question, "organization_id": org_id},
                             now=t, library=library)
    running.finish_drill(session, actor, past.id, now=t + timedelta(minutes=10), desk=None)
    past.summary = "連絡網と安否確認の手順は機能したが、固定電話のみの世帯と夜間の体制に課題が残った。"
    plan = _plan_in(session, ctx.region.code)
    objectives = past.objectives
    evaluations.add_evaluation(session, actor, past.id, {
        "objective": objectives[0], "rating": "S", "strengths": "SMSによる一斉の安否確認が早かった",
        "improvements": "固定電話のみの世帯の確認に時間がかかった", "root_cause": "音声通話で確認する手順と担当が決まっていない",
        "corrective_actions": [{
            "title": "固定電話のみの世帯へ音声通話で確認する手順と担当を決める", "owner_org_id": nursing.id,
            "element": "planning", "due": (to_local(now) - timedelta(days=5)).date(), "status": "open",
            "contact": "管理者", "start": None,
            "plan_id": plan.id if plan else None, "section_key": "safety_checks" if plan else None}]},
        now=t + timedelta(days=1))
    evaluations.add_evaluation(session, actor, past.id, {
        "objective": objectives[-1], "rating": "M", "strengths": "受入病院の空床確認は速やかだった",
        "improvements": "搬送手段（民間救急）の手配先が決まっていなかった", "root_cause": "搬送に関する協定がない",
        "corrective_actions": [{
            "title": "民間救急事業者と搬送協力の協定を結ぶ", "owner_org_id": hub.id, "element": "organisation",
            "due": (to_local(now) + timedelta(days=60)).date(), "status": "in_progress", "contact": "事務局",
            "start": None, "plan_id": None, "section_key": None}]},
        now=t + timedelta(days=1))

    # 2) Upcoming drills on the calendar.
    booking.create_drill(session, actor, {
        "title": "【デモ】地震（震度6強）合同図上訓練", "scenario": "earthquake_shindo6plus", "mode": "tabletop",
        "scheduled_at": local_at(10, 14), "duration_minutes": 150, "region_code": ctx.region.code,
        "participant_org_ids": [], "participants": participants, "plan_ids": [], "objectives": [],
        "location": "試験中央区役所 会議室", "contact": "在宅医療連携拠点 事務局"}, now=now, library=library)
    booking.create_drill(session, actor, {
        "title": "【デモ】計画停電 安否確認訓練（機能訓練）", "scenario": "planned_outage", "mode": "drill",
        "scheduled_at": local_at(21, 10), "duration_minutes": 180, "region_code": ctx.region.code,
        "participant_org_ids": [], "participants": participants[:3], "plan_ids": [], "objectives": [],
        "location": None, "contact": "在宅医療連携拠点 事務局"}, now=now, library=library)
    session.flush()
