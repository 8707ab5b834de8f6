"""Running a drill: start (a functional drill opens an outage in 訓練 mode), next inject, the run log, finish."""
from __future__ import annotations

from datetime import datetime
from typing import Mapping

from sqlalchemy.orm import Session

from bcp_service.auth import Actor, Role, audit
from bcp_service.auth.scope import require_role
from bcp_service.drills.access import READ_ROLES, WRITE_ROLES, get_drill
from bcp_service.drills.evaluation import LIVE_MODE
from bcp_service.drills.models import Drill, DrillLogEntry
from bcp_service.drills.notices import send_start_notices
from bcp_service.drills.ports import Notifier, OutageDesk
from bcp_service.drills.scenarios import QUESTION_KEYS, Scenario
from bcp_service.drills.states import DrillEvent, drill_after, may_log
from bcp_service.errors import Conflict, Invalid, OutOfScope, Unprocessable


def scenario_for(library: Mapping[str, Scenario], key: str) -> Scenario:
    try:
        return library[key]
    except KeyError:
        # A scenario file removed after the drill was booked: say so instead of failing with 500.
        raise Unprocessable(f"scenario {key!r} is no longer in the library",
                            code="scenario_missing") from None


def real_outage_list(ids) -> str:
    return "、".join(f"No.{i}" for i in ids)


def log_entry(session: Session, drill: Drill, *, now: datetime, kind: str, text: str, actor: Actor | None = None,
         inject_id: str | None = None, question: str | None = None,
         organization_id: int | None = None) -> DrillLogEntry:
    entry = DrillLogEntry(at=now, kind=kind, text=text, inject_id=inject_id, question=question,
                          organization_id=organization_id, author_id=actor.user_id if actor else None)
    drill.log_entries.append(entry)
    return entry


def start_drill(session: Session, actor: Actor, drill_id: int, *, now: datetime,
                library: Mapping[str, Scenario], desk: OutageDesk | None,
                notifier: Notifier | None = None, base_url: str = "", confirm_overlap: bool = False) -> Drill:
    """``confirm_overlap``: a functional drill in a region where a real outage is active starts only when
    the facilitator confirmed it (409 otherwise); its patients are left out of the drill either way."""
    drill = get_drill(session, actor, drill_id, write=True)
    after = drill_after(drill.status, DrillEvent.START)
    if after is None:
        raise Conflict(f"この訓練は開始できません（状態: {drill.status}）", code="wrong_state")
    scenario = scenario_for(library, drill.scenario_key)
    if drill.mode == LIVE_MODE:
        if desk is None:
            raise Unprocessable("outage desk not available: 停電対応機能が未導入のため機能訓練を開始できません",
                                code="outage_desk_unavailable")
        real = desk.active_real_outages(session, drill.region_code)
        if real and not confirm_overlap:
            raise Conflict(f"この圏域では実際の停電（{real_outage_list(real)}）に対応中です。実災害対応中の患者には"
                           "訓練の連絡をしません。それでも訓練を開始する場合は確認のうえ開始してください"
                           "（API: \"confirm_overlap\": true）。", code="real_outage_active",
                           extra={"real_outage_ids": real})
        outage_id = desk.open_drill_outage(session, drill, scenario, actor=actor, now=now)
        drill.outage_id = outage_id
        log_entry(session, drill, now=now, kind="event", text=f"訓練用の停電（No.{outage_id}）を開始しました", actor=actor)
        if real:
            left_out = len(desk.excluded_patients(session, outage_id))
            log_entry(session, drill, now=now, kind="event", actor=actor,
                      text=f"実際の停電（{real_outage_list(real)}）に対応中のまま開始しました（確認済み）。"
                           f"実災害対応中のため対象外: {left_out}名")
        if notifier is not None:
            # The participating organisations' staff hear that the drill is on (patients get check-ins).
            send_start_notices(session, drill, notifier=notifier, now=now, base_url=base_url)
    drill.status = after
    drill.started_at = now
    drill.current_inject = 0
    drill.next_reminder_at = None
    log_entry(session, drill, now=now, kind="event", text="訓練を開始しました", actor=actor)
    first = scenario.injects[0]
    log_entry(session, drill, now=now, kind="inject", text=first.title, inject_id=first.id, actor=actor)
    audit.record(session, actor, "start", "drill", drill.id, detail={"mode": drill.mode})
    return drill


def advance_inject(session: Session, actor: Actor, drill_id: int, *, now: datetime,
                   library: Mapping[str, Scenario]) -> Drill:
    drill = get_drill(session, actor, drill_id, write=True)
    if not may_log(drill.status):
        raise Conflict("実施中の訓練ではありません", code="wrong_state")
    scenario = scenario_for(library, drill.scenario_key)
    if drill.current_inject + 1 >= len(scenario.injects):
        raise Conflict("最後の状況付与です。訓練を終了してください", code="no_more_injects")
    drill.current_inject += 1
    inject = scenario.injects[drill.current_inject]
    log_entry(session, drill, now=now, kind="inject", text=inject.title, inject_id=inject.id, actor=actor)
    return drill


def add_log(session: Session, actor: Actor, drill_id: int, data: dict, *, now: datetime,
            library: Mapping[str, Scenario]) -> DrillLogEntry:
    """Log an answer (to one of the three questions about an inject) or a free note, stamped ``now``."""
    require_role(actor, *READ_ROLES)
    drill = get_drill(session, actor, drill_id)
    participant_ids = set(drill.participant_org_ids)
    # Facilitators (拠点) log for everyone; institution staff only for their own participating organisation.
    if actor.role not in WRITE_ROLES and (actor.organization_id not in participant_ids or actor.role is Role.FIELD_TEAM):
        raise OutOfScope("この訓練の記録はできません")
    if not may_log(drill.status):
        raise Conflict("実施中の訓練にだけ記録できます", code="wrong_state")
    scenario = scenario_for(library, drill.scenario_key)
    problems: dict[str, list[str]] = {}
    inject_id = data.get("inject_id")
    question = data.get("question")
    if inject_id is None and question:
        inject_id = scenario.injects[drill.current_inject].id
    if inject_id is not None and inject_id not in {i.id for i in scenario.injects}:
        problems["inject_id"] = ["このシナリオにない状況付与です"]
    org_id = data.get("organization_id")
    if actor.role not in WRITE_ROLES:
        org_id = actor.organization_id
    if org_id is not None and org_id not in participant_ids:
        problems["organization_id"] = ["参加機関ではありません"]
    kind = data.get("kind") or ("answer" if question else "note")
    if kind == "answer" and not question:
        problems["question"] = [f"回答には設問（{', '.join(QUESTION_KEYS)}）が必要です"]
    if problems:
        raise Invalid("入力内容に誤りがあります", fields=problems)
    entry = log_entry(session, drill, now=now, kind=kind, text=data["text"].strip(), actor=actor,
                 inject_id=inject_id, question=question, organization_id=org_id)
    session.flush()
    return entry


def finish_drill(session: Session, actor: Actor, drill_id: int, *, now: datetime,
                 desk: OutageDesk | None) -> Drill:
    drill = get_drill(session, actor, drill_id, write=True)
    after = drill_after(drill.status, DrillEvent.FINISH)
    if after is None:
        raise Conflict("実施中の訓練ではありません", code="wrong_state")
    if drill.outage_id is not None and desk is not None:
        desk.resolve(session, drill.outage_id, actor=actor, now=now)
    drill.status = after
    drill.ended_at = now
    log_entry(session, drill, now=now, kind="event", text="訓練を終了しました", actor=actor)
    audit.record(session, actor, "finish", "drill", drill.id)
    return drill
