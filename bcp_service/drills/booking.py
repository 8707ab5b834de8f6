"""Booking a drill: create, change, cancel; participants and their invitations; schedule warnings.

Each function does one use case inside the caller's transaction (the caller commits). Times come in as
``now``; nothing here calls ``datetime.now()``.
"""
from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, Mapping

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from bcp_service.auth import Actor, audit
from bcp_service.auth.scope import check_region, require_role, visible_region_codes
from bcp_service.drills.access import WRITE_ROLES, get_drill
from bcp_service.drills.models import Drill, DrillParticipant
from bcp_service.drills.notices import send_invitations
from bcp_service.drills.ports import Notifier
from bcp_service.drills.reminders import next_drill_reminder_at
from bcp_service.drills.running import log_entry
from bcp_service.drills.scenarios import Scenario
from bcp_service.drills.scheduling import ScheduleWarning, Slot, check_schedule
from bcp_service.drills.states import DrillEvent, DrillStatus, drill_after, may_change_plan
from bcp_service.errors import Conflict, Invalid
from bcp_service.orgs.models import Organization
from bcp_service.plans.access import readable_clause
from bcp_service.plans.models import Plan
from bcp_service.registry.phones import parse_phone


MAX_DRILL_SPAN = timedelta(days=7)      # longest drill we schedule; bounds the clash query


def _slot(drill: Drill) -> Slot:
    return Slot(drill.scheduled_at, drill.scheduled_at + timedelta(minutes=drill.duration_minutes),
                drill.region_code, frozenset(drill.participant_org_ids), drill.title, drill.id)


def schedule_warnings(session: Session, drill: Drill) -> list[ScheduleWarning]:
    """Holiday / 年末年始 / weekend warnings and clashes with other (not cancelled) drills."""
    slot = _slot(drill)
    others = session.scalars(
        select(Drill).options(selectinload(Drill.participants)).where(
            Drill.status != DrillStatus.CANCELLED, Drill.id != drill.id,
            Drill.scheduled_at < slot.ends_at, Drill.scheduled_at > slot.starts_at - MAX_DRILL_SPAN)
    ).all()
    return check_schedule(slot, [_slot(o) for o in others])


def _phone_e164(text: str | None) -> str | None:
    """A staff contact's mobile number in E.164. Drill texts go by SMS, which Japanese landlines
    cannot receive, so a landline is refused here rather than failing at 3 a.m. in the dispatcher."""
    if not text:
        return None
    phone = parse_phone(text)
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

    plan_ids = list(dict.fromkeys(data.get("plan_ids", [])))
    if plan_ids:
        # A drill links only plans the actor may read (plans.access, the rule plans use).
        found = set(session.scalars(select(Plan.id).where(Plan.id.in_(plan_ids), readable_clause(actor))))
        missing = [pid for pid in plan_ids if pid not in found]
        if missing:
            problems["plan_ids"] = [f"存在しない、または範囲外の計画です: {', '.join(map(str, missing))}"]
    if problems:
        raise Invalid("入力内容に誤りがあります", fields=problems)

    drill = Drill(
        title=data["title"], scenario_key=scenario.key, mode=data["mode"], status=DrillStatus.SCHEDULED,
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
    log_entry(session, drill, now=now, kind="event", text="訓練を登録しました", actor=actor)
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
    cancelling = data.get("status") == DrillStatus.CANCELLED
    regroup = any(k in data for k in PARTICIPANT_KEYS)
    if regroup:
        if not may_change_plan(drill.status) or cancelling:
            raise Conflict("実施前の訓練だけ参加機関を変更できます", code="wrong_state")
        problems: dict[str, list[str]] = {}
        current = {p.organization_id: p for p in drill.participants}
        contacts, orgs, phones = _participant_contacts(session, actor, data, problems, already=frozenset(current))
        if problems:
            raise Invalid("入力内容に誤りがあります", fields=problems)
    if cancelling and drill_after(drill.status, DrillEvent.CANCEL) is None:
        raise Conflict("実施前の訓練だけ中止できます", code="wrong_state")
    moved = "scheduled_at" in data or "duration_minutes" in data
    if moved:
        if not may_change_plan(drill.status) or cancelling:
            raise Conflict("実施前の訓練だけ日時を変更できます", code="wrong_state")
        if data.get("scheduled_at") and data["scheduled_at"] < now:
            raise Invalid("過去の日時は指定できません", fields={"scheduled_at": ["過去の日時は指定できません"]})

    detail: dict[str, Any] = {"fields": sorted(data)}
    if regroup:
        added, removed = _regroup(drill, current, contacts, orgs, phones)
        if added or removed:
            drill.sequence += 1              # calendars update the event (its description lists them)
            parts = ([f"追加: {'、'.join(added)}"] if added else []) + ([f"削除: {'、'.join(removed)}"] if removed else [])
            log_entry(session, drill, now=now, kind="event", text=f"参加機関を変更しました（{'／'.join(parts)}）", actor=actor)
        detail["participants"] = len(drill.participants)
    if cancelling:
        drill.status = drill_after(drill.status, DrillEvent.CANCEL)
        drill.next_reminder_at = None
        drill.sequence += 1
        log_entry(session, drill, now=now, kind="event", text="訓練を中止しました", actor=actor)
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
    return drill, (schedule_warnings(session, drill) if may_change_plan(drill.status) else [])


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
