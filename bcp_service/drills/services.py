"""Drill use cases. Each function does one use case inside the caller's transaction (the caller commits).

Region scope and roles are enforced here, not only in the views. Times come in as ``now`` (from the
app's clock); nothing here calls ``datetime.now()``.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, Mapping, Protocol

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from bcp_service.auth import Actor, Role
from bcp_service.auth import audit
from bcp_service.auth.scope import check_region, require_role, visible_region_codes
from bcp_service.drills import evaluation as ev
from bcp_service.drills.ics import CalendarEvent
from bcp_service.drills.metrics import CheckinRecord, DrillMetrics, compute
from bcp_service.drills.models import CorrectiveAction, Drill, DrillLogEntry, DrillParticipant, Evaluation
from bcp_service.drills.reminders import next_drill_reminder_at
from bcp_service.drills.report import AarAction, AarObjective, AfterActionReport
from bcp_service.drills.scenarios import QUESTION_KEYS, TABLETOP_QUESTIONS, Scenario
from bcp_service.drills.scheduling import ScheduleWarning, Slot, check_schedule
from bcp_service.errors import Conflict, Invalid, NotFound, OutOfScope, Unprocessable
from bcp_service.orgs.models import Organization, Region
from bcp_service.plugins import optional_module

log = logging.getLogger(__name__)

WRITE_ROLES = (Role.ADMIN, Role.HUB_STAFF)
READ_ROLES = (Role.ADMIN, Role.HUB_STAFF, Role.INSTITUTION_STAFF, Role.FIELD_TEAM)
MAX_DRILL_SPAN = timedelta(days=7)      # longest drill we schedule; bounds the clash query
PLAN_TYPE_JA = {"kikan": "機関型BCP", "renkei": "連携型BCP", "chiiki": "地域BCP"}


def _plan_model():
    mod = optional_module("bcp_service.plans.models")
    return getattr(mod, "Plan", None) if mod else None


# --- ports -----------------------------------------------------------------------------------------

class Notifier(Protocol):
    """Sends a drill text to a staff contact through the messaging subsystem (outbox)."""

    def send(self, session: Session, *, to_e164: str, body: str, key: str, now: datetime) -> bool: ...


class OutageDesk(Protocol):
    """The outage pipeline as seen by a functional drill."""

    def open_drill_outage(self, session: Session, drill: Drill, scenario: Scenario, *, actor: Actor,
                          now: datetime) -> int: ...

    def resolve(self, session: Session, outage_id: int, *, actor: Actor, now: datetime) -> None: ...

    def checkin_timeline(self, session: Session, outage_id: int) -> tuple[datetime, list[CheckinRecord], list[datetime]]: ...


# --- scenarios ---------------------------------------------------------------------------------------

def scenario_for(library: Mapping[str, Scenario], key: str) -> Scenario:
    try:
        return library[key]
    except KeyError:
        # A scenario file removed after the drill was booked: say so instead of failing with 500.
        raise Unprocessable(f"scenario {key!r} is no longer in the library",
                            code="scenario_missing") from None


# --- drills -------------------------------------------------------------------------------------------

def get_drill(session: Session, actor: Actor, drill_id: int, *, write: bool = False) -> Drill:
    require_role(actor, *(WRITE_ROLES if write else READ_ROLES))
    drill = session.get(Drill, drill_id)
    if drill is None:
        raise NotFound(f"drill {drill_id} not found")
    try:
        check_region(session, actor, drill.region_code)
    except OutOfScope:
        # Outside the actor's region a drill does not exist as far as they can tell.
        raise NotFound(f"drill {drill_id} not found") from None
    return drill


def list_drills_stmt(session: Session, actor: Actor, *, region_code: str | None = None,
                     status: str | None = None, start: datetime | None = None, end: datetime | None = None):
    require_role(actor, *READ_ROLES)
    stmt = select(Drill).options(selectinload(Drill.participants)).order_by(Drill.scheduled_at, Drill.id)
    if region_code:
        check_region(session, actor, region_code)
        stmt = stmt.where(Drill.region_code == region_code)
    else:
        visible = visible_region_codes(session, actor)
        if visible is not None:
            stmt = stmt.where(Drill.region_code.in_(visible))
    if status:
        stmt = stmt.where(Drill.status == status)
    if start:
        stmt = stmt.where(Drill.scheduled_at >= start)
    if end:
        stmt = stmt.where(Drill.scheduled_at < end)
    return stmt


def _slot(drill: Drill) -> Slot:
    return Slot(drill.scheduled_at, drill.scheduled_at + timedelta(minutes=drill.duration_minutes),
                drill.region_code, frozenset(drill.participant_org_ids), drill.title, drill.id)


def schedule_warnings(session: Session, drill: Drill) -> list[ScheduleWarning]:
    """Holiday / 年末年始 / weekend warnings and clashes with other (not cancelled) drills."""
    slot = _slot(drill)
    others = session.scalars(
        select(Drill).options(selectinload(Drill.participants)).where(
            Drill.status != "cancelled", Drill.id != drill.id,
            Drill.scheduled_at < slot.ends_at, Drill.scheduled_at > slot.starts_at - MAX_DRILL_SPAN)
    ).all()
    return check_schedule(slot, [_slot(o) for o in others])


def _phone_e164(text: str | None) -> str | None:
    """A staff contact's mobile number in E.164. Drill texts go by SMS, which Japanese landlines
    cannot receive, so a landline is refused here rather than failing at 3 a.m. in the dispatcher."""
    if not text:
        return None
    phones = optional_module("bcp_service.registry.phones")
    if phones is None:
        return text if text.startswith("+") else None
    phone = phones.parse_phone(text)
    if not phone.sms_capable:
        raise ValueError("SMS を受け取れる携帯電話の番号を指定してください")
    return phone.e164


def _participant_contacts(session: Session, actor: Actor, data: Mapping[str, Any], problems: dict[str, list[str]],
                          *, already: frozenset[int] = frozenset()
                          ) -> tuple[dict[int, dict], dict[int, Organization], dict[int, str | None]]:
    """The participating organisations named by ``participant_org_ids`` and ``participants`` (the union;
    ``participants`` carries the contact details), checked: each organisation exists and is in the actor's
    regions (``already`` participating ones are exempt from the region check: the actor keeps or drops
    them but did not choose them), each contact phone can receive SMS. Problems are added to
    ``problems``; returns (contact details by org id, organisations by id, E.164 phones by org id)."""
    contacts: dict[int, dict] = {oid: {} for oid in data.get("participant_org_ids") or []}
    for p in data.get("participants") or []:
        contacts[p["organization_id"]] = p
    orgs = {o.id: o for o in session.scalars(select(Organization).where(Organization.id.in_(list(contacts))))}
    visible = visible_region_codes(session, actor)
    bad = [oid for oid in contacts if oid not in orgs
           or (visible is not None and oid not in already and orgs[oid].region_code not in visible)]
    if bad:
        problems["participant_org_ids"] = [f"存在しない、または範囲外の機関です: {', '.join(map(str, bad))}"]
    phones: dict[int, str | None] = {}
    for oid, p in contacts.items():
        try:
            phones[oid] = _phone_e164(p.get("contact_phone"))
        except ValueError as exc:   # PhoneError is a ValueError
            problems.setdefault("participants", []).append(f"機関 {oid}: {exc}")
    return contacts, orgs, phones


def create_drill(session: Session, actor: Actor, data: dict, *, now: datetime,
                 library: Mapping[str, Scenario], notifier: Notifier | None = None,
                 base_url: str = "") -> tuple[Drill, list[ScheduleWarning]]:
    require_role(actor, *WRITE_ROLES)
    region = check_region(session, actor, data["region_code"])
    problems: dict[str, list[str]] = {}

    scenario = library.get(data["scenario"])
    if scenario is None:
        problems["scenario"] = [f"シナリオ「{data['scenario']}」はありません（{', '.join(sorted(library))}）"]
    if data["scheduled_at"] < now:
        problems["scheduled_at"] = ["過去の日時は指定できません"]

    contacts, orgs, phones = _participant_contacts(session, actor, data, problems)
    visible = visible_region_codes(session, actor)

    plan_ids = list(dict.fromkeys(data.get("plan_ids", [])))
    if plan_ids:
        Plan = _plan_model()
        if Plan is None:
            problems["plan_ids"] = ["計画機能がまだ利用できません"]
        else:
            stmt = select(Plan.id).where(Plan.id.in_(plan_ids))
            if visible is not None:
                stmt = stmt.where(Plan.region_code.in_(visible))
            found = set(session.scalars(stmt))
            missing = [pid for pid in plan_ids if pid not in found]
            if missing:
                problems["plan_ids"] = [f"存在しない、または範囲外の計画です: {', '.join(map(str, missing))}"]
    if problems:
        raise Invalid("入力内容に誤りがあります", fields=problems)

    drill = Drill(
        title=data["title"], scenario_key=scenario.key, mode=data["mode"], status="scheduled",
        region_code=region.code, scheduled_at=data["scheduled_at"], duration_minutes=data["duration_minutes"],
        location=data.get("location"), contact=data.get("contact"),
        objectives=list(data.get("objectives") or [o.text for o in scenario.objectives]),
        plan_ids=plan_ids, current_inject=0, sequence=0, reminders_done=[],
        created_by=actor.user_id, created_at=now,
    )
    drill.next_reminder_at = next_drill_reminder_at(drill.scheduled_at, created_at=now, done=())
    for oid in contacts:
        p = contacts[oid]
        drill.participants.append(DrillParticipant(
            organization_id=oid, contact_name=p.get("contact_name"), contact_phone_e164=phones.get(oid),
            contact_email=p.get("contact_email")))
    session.add(drill)
    session.flush()
    warnings = schedule_warnings(session, drill)
    _log(session, drill, now=now, kind="event", text="訓練を登録しました", actor=actor)
    if notifier is not None:
        send_invitations(session, drill, notifier=notifier, now=now, base_url=base_url)
    audit.record(session, actor, "create", "drill", drill.id,
                 detail={"participants": len(drill.participants), "warnings": [w.code for w in warnings]})
    return drill, warnings


PARTICIPANT_KEYS = ("participant_org_ids", "participants")


def update_drill(session: Session, actor: Actor, drill_id: int, data: dict, *, now: datetime,
                 notifier: Notifier | None = None, base_url: str = "") -> tuple[Drill, list[ScheduleWarning]]:
    """Change a drill: title, time, place, 総括, cancel; while it is scheduled, also its participants.

    ``participant_org_ids`` and ``participants`` (contact details) together are the new complete set of
    participating organisations, as on creation: removed ones are dropped, kept ones keep their row (and
    its invitation) with the contact details updated where given, added ones are invited by SMS.
    Every check is made before anything changes.
    """
    drill = get_drill(session, actor, drill_id, write=True)
    cancelling = data.get("status") == "cancelled"
    regroup = any(k in data for k in PARTICIPANT_KEYS)
    if regroup:
        if drill.status != "scheduled" or cancelling:
            raise Conflict("実施前の訓練だけ参加機関を変更できます", code="wrong_state")
        problems: dict[str, list[str]] = {}
        current = {p.organization_id: p for p in drill.participants}
        contacts, orgs, phones = _participant_contacts(session, actor, data, problems, already=frozenset(current))
        if problems:
            raise Invalid("入力内容に誤りがあります", fields=problems)
    if cancelling and drill.status != "scheduled":
        raise Conflict("実施前の訓練だけ中止できます", code="wrong_state")
    moved = "scheduled_at" in data or "duration_minutes" in data
    if moved:
        if drill.status != "scheduled" or cancelling:
            raise Conflict("実施前の訓練だけ日時を変更できます", code="wrong_state")
        if data.get("scheduled_at") and data["scheduled_at"] < now:
            raise Invalid("過去の日時は指定できません", fields={"scheduled_at": ["過去の日時は指定できません"]})

    detail: dict[str, Any] = {"fields": sorted(data)}
    if regroup:
        added, removed = _regroup(drill, current, contacts, orgs, phones)
        if added or removed:
            drill.sequence += 1              # calendars update the event (its description lists them)
            parts = ([f"追加: {'、'.join(added)}"] if added else []) + ([f"削除: {'、'.join(removed)}"] if removed else [])
            _log(session, drill, now=now, kind="event", text=f"参加機関を変更しました（{'／'.join(parts)}）", actor=actor)
        detail["participants"] = len(drill.participants)
    if cancelling:
        drill.status = "cancelled"
        drill.next_reminder_at = None
        drill.sequence += 1
        _log(session, drill, now=now, kind="event", text="訓練を中止しました", actor=actor)
    for key in ("title", "scheduled_at", "duration_minutes", "location", "contact", "summary"):
        if key in data:
            setattr(drill, key, data[key])
    if moved:
        drill.sequence += 1
        drill.reminders_done = []
        drill.next_reminder_at = next_drill_reminder_at(drill.scheduled_at, created_at=now, done=())
    if regroup and notifier is not None:
        # Only contacts not invited yet (added organisations, or a phone given for the first time) get it.
        send_invitations(session, drill, notifier=notifier, now=now, base_url=base_url)
    audit.record(session, actor, "update", "drill", drill.id, detail=detail)
    session.flush()
    return drill, (schedule_warnings(session, drill) if drill.status == "scheduled" else [])


def _regroup(drill: Drill, current: dict[int, DrillParticipant], contacts: dict[int, dict],
             orgs: dict[int, Organization], phones: dict[int, str | None]) -> tuple[list[str], list[str]]:
    """Make the drill's participants the organisations in ``contacts``; returns (added, removed) names."""
    removed = [p for oid, p in current.items() if oid not in contacts]
    removed_names = [p.organization_name for p in removed]
    for p in removed:
        drill.participants.remove(p)     # delete-orphan: the row goes at flush
    added: list[str] = []
    for oid, c in contacts.items():
        p = current.get(oid)
        if p is None:
            drill.participants.append(DrillParticipant(
                organization_id=oid, organization=orgs[oid], contact_name=c.get("contact_name"),
                contact_phone_e164=phones.get(oid), contact_email=c.get("contact_email")))
            added.append(orgs[oid].name)
            continue
        if "contact_name" in c:
            p.contact_name = c["contact_name"]
        if "contact_phone" in c:
            p.contact_phone_e164 = phones.get(oid)
        if "contact_email" in c:
            p.contact_email = c["contact_email"]
    return added, removed_names


def _log(session: Session, drill: Drill, *, now: datetime, kind: str, text: str, actor: Actor | None = None,
         inject_id: str | None = None, question: str | None = None,
         organization_id: int | None = None) -> DrillLogEntry:
    entry = DrillLogEntry(at=now, kind=kind, text=text, inject_id=inject_id, question=question,
                          organization_id=organization_id, author_id=actor.user_id if actor else None)
    drill.log_entries.append(entry)
    return entry


def start_drill(session: Session, actor: Actor, drill_id: int, *, now: datetime,
                library: Mapping[str, Scenario], desk: OutageDesk | None,
                notifier: Notifier | None = None, base_url: str = "") -> Drill:
    drill = get_drill(session, actor, drill_id, write=True)
    if drill.status != "scheduled":
        raise Conflict(f"この訓練は開始できません（状態: {drill.status}）", code="wrong_state")
    scenario = scenario_for(library, drill.scenario_key)
    if drill.mode == "functional":
        if desk is None:
            raise Unprocessable("outage desk not available: 停電対応機能が未導入のため機能訓練を開始できません",
                                code="outage_desk_unavailable")
        outage_id = desk.open_drill_outage(session, drill, scenario, actor=actor, now=now)
        drill.outage_id = outage_id
        _log(session, drill, now=now, kind="event", text=f"訓練用の停電（No.{outage_id}）を開始しました", actor=actor)
        if notifier is not None:
            # The participating organisations' staff hear that the drill is on (patients get check-ins).
            for p in drill.participants:
                if p.contact_phone_e164:
                    notifier.send(session, to_e164=p.contact_phone_e164, now=now,
                                  body=f"【訓練】機能訓練「{drill.title}」を開始しました。{base_url}/drills/{drill.id}",
                                  key=f"drill:{drill.id}:org:{p.organization_id}:start")
    drill.status = "running"
    drill.started_at = now
    drill.current_inject = 0
    drill.next_reminder_at = None
    _log(session, drill, now=now, kind="event", text="訓練を開始しました", actor=actor)
    first = scenario.injects[0]
    _log(session, drill, now=now, kind="inject", text=first.title, inject_id=first.id, actor=actor)
    audit.record(session, actor, "start", "drill", drill.id, detail={"mode": drill.mode})
    return drill


def advance_inject(session: Session, actor: Actor, drill_id: int, *, now: datetime,
                   library: Mapping[str, Scenario]) -> Drill:
    drill = get_drill(session, actor, drill_id, write=True)
    if drill.status != "running":
        raise Conflict("実施中の訓練ではありません", code="wrong_state")
    scenario = scenario_for(library, drill.scenario_key)
    if drill.current_inject + 1 >= len(scenario.injects):
        raise Conflict("最後の状況付与です。訓練を終了してください", code="no_more_injects")
    drill.current_inject += 1
    inject = scenario.injects[drill.current_inject]
    _log(session, drill, now=now, kind="inject", text=inject.title, inject_id=inject.id, actor=actor)
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
    if drill.status != "running":
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
    entry = _log(session, drill, now=now, kind=kind, text=data["text"].strip(), actor=actor,
                 inject_id=inject_id, question=question, organization_id=org_id)
    session.flush()
    return entry


def finish_drill(session: Session, actor: Actor, drill_id: int, *, now: datetime,
                 desk: OutageDesk | None) -> Drill:
    drill = get_drill(session, actor, drill_id, write=True)
    if drill.status != "running":
        raise Conflict("実施中の訓練ではありません", code="wrong_state")
    outage_id = getattr(drill, "outage_id", None)
    if outage_id is not None and desk is not None:
        desk.resolve(session, outage_id, actor=actor, now=now)
    drill.status = "completed"
    drill.ended_at = now
    _log(session, drill, now=now, kind="event", text="訓練を終了しました", actor=actor)
    audit.record(session, actor, "finish", "drill", drill.id)
    return drill


# --- evaluation and corrective actions ----------------------------------------------------------------

def _check_plan_section(session: Session, actor: Actor, plan_id: int | None, section_key: str | None,
                        where: str, problems: dict[str, list[str]]) -> None:
    if plan_id is None:
        return
    Plan = _plan_model()
    if Plan is None:
        problems.setdefault(where, []).append("計画機能がまだ利用できません")
        return
    plan = session.get(Plan, plan_id)
    if plan is None:
        problems.setdefault(where, []).append(f"計画 {plan_id} はありません")
        return
    region = getattr(plan, "region_code", None)
    visible = visible_region_codes(session, actor)
    if region is not None and visible is not None and region not in visible:
        problems.setdefault(where, []).append(f"計画 {plan_id} は範囲外です")
        return
    if section_key is not None:
        keys = plan_section_keys(plan)
        if keys is not None and section_key not in keys:
            problems.setdefault(where, []).append(f"計画 {plan_id} に章「{section_key}」はありません")


def visible_plans(session: Session, actor: Actor) -> list:
    """Plans the actor may link drills and corrective actions to ([] while plans is absent)."""
    Plan = _plan_model()
    if Plan is None:
        return []
    stmt = select(Plan).order_by(Plan.id)
    visible = visible_region_codes(session, actor)
    if visible is not None:
        stmt = stmt.where(Plan.region_code.in_(visible))
    return list(session.scalars(stmt))


def check_plan_visible(session: Session, actor: Actor, plan_id: int) -> None:
    require_role(actor, *READ_ROLES)
    Plan = _plan_model()
    plan = session.get(Plan, plan_id) if Plan is not None else None
    if plan is None:
        raise NotFound(f"plan {plan_id} not found")
    visible = visible_region_codes(session, actor)
    if visible is not None and plan.region_code not in visible:
        raise NotFound(f"plan {plan_id} not found")


def plan_sections(plan: Any) -> list[tuple[str, str]]:
    """(key, title) of the sections of the plan's template version, for the evaluation form."""
    templates = optional_module("bcp_service.plans.templates")
    if templates is None:
        return []
    version = plan.versions[-1].template_version if getattr(plan, "versions", None) else None
    try:
        lib = templates.TemplateLibrary.load()
        tpl = lib.get(plan.type, version) if version is not None else lib.current(plan.type)
    except Exception:  # noqa: BLE001 - see plan_section_keys
        log.exception("plan templates could not be loaded")
        return []
    return [(s.key, s.title) for s in tpl.sections] if tpl else []


def plan_section_keys(plan: Any) -> set[str] | None:
    """Section keys of the plan's own template version (None if the template cannot be found)."""
    sections = plan_sections(plan)
    return {k for k, _ in sections} if sections else None


def add_evaluation(session: Session, actor: Actor, drill_id: int, data: dict, *, now: datetime) -> Evaluation:
    drill = get_drill(session, actor, drill_id, write=True)
    if drill.status not in ("running", "completed"):
        raise Conflict("評価は訓練の実施後に行います", code="wrong_state")
    problems: dict[str, list[str]] = {}
    if drill.objectives and data["objective"] not in drill.objectives:
        problems["objective"] = ["この訓練の目標ではありません（目標: " + "／".join(drill.objectives) + "）"]
    if any(e.objective == data["objective"] for e in drill.evaluations):
        raise Conflict("この目標は評価済みです", code="already_evaluated")
    actions = data.get("corrective_actions", [])
    owners = {o.id for o in session.scalars(select(Organization).where(
        Organization.id.in_([a["owner_org_id"] for a in actions])))}
    for i, a in enumerate(actions):
        where = f"corrective_actions.{i}"
        if a["owner_org_id"] not in owners:
            problems.setdefault(where, []).append(f"担当機関 {a['owner_org_id']} はありません")
        _check_plan_section(session, actor, a.get("plan_id"), a.get("section_key"), where, problems)
    if problems:
        raise Invalid("入力内容に誤りがあります", fields=problems)

    evaluation = Evaluation(objective=data["objective"], rating=data["rating"], strengths=data["strengths"],
                            improvements=data["improvements"], root_cause=data["root_cause"],
                            evaluator_id=actor.user_id, created_at=now)
    drill.evaluations.append(evaluation)
    for a in actions:
        # Attached to both parents: Drill.corrective_actions is delete-orphan, so an action that only
        # carried drill_id would be dropped as a pending orphan at flush.
        action = CorrectiveAction(
            drill=drill, title=a["title"], element=ev.normalise_element(a["element"]), owner_org_id=a["owner_org_id"],
            contact=a.get("contact"), start=a.get("start"), due=a["due"], status=a.get("status", "open"),
            plan_id=a.get("plan_id"), section_key=a.get("section_key"), created_at=now)
        with session.no_autoflush:
            evaluation.corrective_actions.append(action)
    session.flush()
    audit.record(session, actor, "evaluate", "drill", drill.id,
                 detail={"evaluation_id": evaluation.id, "rating": evaluation.rating, "actions": len(actions)})
    return evaluation


def update_action(session: Session, actor: Actor, action_id: int, data: dict, *, now: datetime) -> CorrectiveAction:
    action = session.get(CorrectiveAction, action_id)
    if action is None:
        raise NotFound(f"corrective action {action_id} not found")
    get_drill(session, actor, action.drill_id, write=True)
    if "status" in data and data["status"] != action.status:
        if not ev.can_move(action.status, data["status"]):
            raise Conflict(f"{ev.ACTION_STATUSES[action.status]}から{ev.ACTION_STATUSES[data['status']]}には変更できません",
                           code="wrong_state")
        action.status = data["status"]
        if action.status in ("done", "cancelled"):
            action.closed_at = now
    if "due" in data:
        action.due = data["due"]
        action.last_reminded_on = None   # a new deadline restarts the overdue reminders
    if "contact" in data:
        action.contact = data["contact"]
    audit.record(session, actor, "update", "corrective_action", action.id, detail={"fields": sorted(data)})
    return action


def open_actions_for_plan(session: Session, plan_id: int, *, today: date | None = None) -> dict[str | None, list[dict]]:
    """Open corrective actions that change this plan, grouped by section key (None: the plan as a whole).

    Called by the plans pages to show "open items from drills" inside each section.
    """
    rows = session.scalars(
        select(CorrectiveAction).options(selectinload(CorrectiveAction.owner), selectinload(CorrectiveAction.drill))
        .where(CorrectiveAction.plan_id == plan_id, CorrectiveAction.status.in_(("open", "in_progress")))
        .order_by(CorrectiveAction.due, CorrectiveAction.id)
    ).all()
    out: dict[str | None, list[dict]] = {}
    for a in rows:
        out.setdefault(a.section_key, []).append({
            "id": a.id, "title": a.title, "element": a.element, "element_label": ev.ELEMENTS.get(a.element, a.element),
            "owner": a.owner.name if a.owner else "", "due": a.due, "status": a.status,
            "status_label": ev.ACTION_STATUSES.get(a.status, a.status), "drill_id": a.drill_id,
            "drill_title": a.drill.title if a.drill else "",
            "overdue": today is not None and today > a.due,
        })
    return out


# --- invitations and reminders --------------------------------------------------------------------------

def _when(drill: Drill) -> str:
    from bcp_service.drills.scheduling import TOKYO, WEEKDAY_JA

    t = drill.scheduled_at.astimezone(TOKYO)
    return f"{t.month}/{t.day}（{WEEKDAY_JA[t.weekday()]}）{t:%H:%M}"


def invitation_text(drill: Drill, base_url: str) -> str:
    return f"【訓練】訓練のご案内:「{drill.title}」{_when(drill)}〜。詳細 {base_url}/drills/{drill.id}"


def reminder_text(drill: Drill, label: str, base_url: str) -> str:
    return f"【訓練】{label}のお知らせ:「{drill.title}」{_when(drill)}〜。{base_url}/drills/{drill.id}"


def send_invitations(session: Session, drill: Drill, *, notifier: Notifier, now: datetime, base_url: str) -> int:
    sent = 0
    for p in drill.participants:
        if p.invited_at is None and p.contact_phone_e164:
            if notifier.send(session, to_e164=p.contact_phone_e164, body=invitation_text(drill, base_url),
                             key=f"drill:{drill.id}:org:{p.organization_id}:invite:{drill.sequence}", now=now):
                p.invited_at = now
                sent += 1
    return sent


# --- metrics, report, calendar -------------------------------------------------------------------------

def drill_metrics(session: Session, drill: Drill, desk: OutageDesk | None) -> DrillMetrics | None:
    outage_id = getattr(drill, "outage_id", None)
    if drill.mode != "functional" or outage_id is None or desk is None:
        return None
    started, records, transports = desk.checkin_timeline(session, outage_id)
    return compute(started, records, transport_assigned_at=transports, ended_at=drill.ended_at)


def build_report(session: Session, actor: Actor, drill_id: int, *, now: datetime,
                 library: Mapping[str, Scenario], desk: OutageDesk | None) -> AfterActionReport:
    drill = get_drill(session, actor, drill_id)
    scenario = library.get(drill.scenario_key)
    region = session.get(Region, drill.region_code)
    evals = {e.objective: e for e in drill.evaluations}
    objectives = [AarObjective(text=o, rating=evals[o].rating if o in evals else None,
                               strengths=evals[o].strengths if o in evals else "",
                               improvements=evals[o].improvements if o in evals else "",
                               root_cause=evals[o].root_cause if o in evals else "")
                  for o in drill.objectives]
    # Evaluations of objectives added outside the drill's list still belong in the report.
    objectives += [AarObjective(e.objective, e.rating, e.strengths, e.improvements, e.root_cause)
                   for e in drill.evaluations if e.objective not in drill.objectives]
    Plan = _plan_model()
    actions = []
    for a in drill.corrective_actions:
        plan_ref = ""
        if a.plan_id is not None:
            plan = session.get(Plan, a.plan_id) if Plan is not None else None
            if plan is not None:
                plan_ref = f"{PLAN_TYPE_JA.get(plan.type, plan.type)}『{plan.title}』"
                titles = dict(plan_sections(plan))
            else:
                plan_ref, titles = f"計画 No.{a.plan_id}", {}
            if a.section_key:
                plan_ref += f" / {titles.get(a.section_key, a.section_key)}"
        actions.append(AarAction(
            issue=a.evaluation.objective if a.evaluation else "", title=a.title, element=a.element,
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
    )


def calendar_event(drill: Drill, base_url: str, host: str = "bcp-service") -> CalendarEvent:
    return CalendarEvent(
        uid=f"drill-{drill.id}@{host}", title=f"【訓練】{drill.title}", starts_at=drill.scheduled_at,
        ends_at=drill.scheduled_at + timedelta(minutes=drill.duration_minutes),
        description=f"形式: {'図上訓練' if drill.mode == 'tabletop' else '機能訓練'}／参加機関: {len(drill.participants)}",
        location=drill.location or "", url=f"{base_url}/drills/{drill.id}", sequence=drill.sequence,
        cancelled=drill.status == "cancelled",
    )


def questions() -> tuple[tuple[str, str], ...]:
    return TABLETOP_QUESTIONS
