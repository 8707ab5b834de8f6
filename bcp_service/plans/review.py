"""Keeping plans alive: annual review reminders and the inspection evidence pack."""
from __future__ import annotations

import csv
import io
import json
import logging
import zipfile
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Select, or_, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from bcp_service.auth import Actor, Role
from bcp_service.auth.models import User
from bcp_service.drills.models import Drill
from bcp_service.errors import DomainError
from bcp_service.exports import csv_row
from bcp_service.messaging import outbox

from .export import STATUS_LABELS, fmt_date, fmt_dt, to_docx, to_html, to_markdown
from .models import Plan, PlanEvent, PlanReminder
from .reminders import TOKYO, next_reminder_at, reminder_kind, reminder_text
from .access import get_plan
from .history import ACTION_LABELS, owner_label, plan_doc, user_names
from .states import PlanStatus

log = logging.getLogger(__name__)


# ------------------------------------------------------------------ reminders

def owners(session: Session, plan: Plan) -> list[User]:
    """Who hears about a plan's review: its author, the organisation's staff (機関型), the 圏域's
    拠点 staff (連携型・地域BCP)."""
    conds = [User.id == plan.created_by]
    if plan.type == "kikan" and plan.organization_id:
        conds.append(User.organization_id == plan.organization_id)
    else:
        conds.append((User.role == Role.HUB_STAFF.value) & (User.scope == plan.region_code))
    return list(session.scalars(select(User).where(User.active.is_(True), or_(*conds)).order_by(User.id)))


@dataclass(frozen=True)
class ReminderRun:
    plans: int
    reminders: int


def send_due_reminders(session: Session, *, now: datetime, limit: int = 200, base_url: str = "") -> ReminderRun:
    """Claim plans whose next reminder is due, remind their owners once each, set the next time.

    Rows are claimed with FOR UPDATE SKIP LOCKED on PostgreSQL, so a second clock cannot send twice;
    the unique reminder key makes a retry after a crash a no-op as well.
    """
    stmt = (select(Plan).where(Plan.next_reminder_at.is_not(None), Plan.next_reminder_at <= now,
                               Plan.review_due_on.is_not(None))
            .order_by(Plan.next_reminder_at).limit(limit))
    if session.get_bind().dialect.name == "postgresql":
        stmt = stmt.with_for_update(skip_locked=True, of=Plan)
    plans = list(session.scalars(stmt))
    sent = 0
    for plan in plans:
        due = plan.review_due_on
        kind = reminder_kind(due, now)
        slot = plan.next_reminder_at.astimezone(TOKYO).date().isoformat()
        text = reminder_text(kind, plan.title, due, today=now.astimezone(TOKYO).date())
        existing = set(session.scalars(select(PlanReminder.key).where(PlanReminder.plan_id == plan.id)))
        for user in owners(session, plan):
            key = f"plan:{plan.id}:review:{due.isoformat()}:{slot}:user:{user.id}"
            if key in existing:
                continue
            channel = "in_app"
            if user.phone_e164:
                body = f"{text} {base_url.rstrip('/')}/plans/{plan.id}" if base_url else text
                try:
                    with session.begin_nested():
                        # low priority: a review reminder must never delay an outage check-in
                        outbox.enqueue(session, key=key, to=user.phone_e164, body=body, channel="sms",
                                purpose="plan_review", priority=500, ref_id=plan.id, now=now)
                    channel = "outbox"
                except (SQLAlchemyError, DomainError) as exc:
                    # a failed insert: the in-app note still reaches them
                    log.warning("plan reminder via outbox failed (%s); in-app only", type(exc).__name__)
            session.add(PlanReminder(key=key, plan_id=plan.id, user_id=user.id, kind=kind, due_on=due,
                                     channel=channel, message=text, created_at=now))
            sent += 1
        plan.next_reminder_at = next_reminder_at(due, now)
    return ReminderRun(len(plans), sent)


def my_reminders_stmt(actor: Actor, *, unread_only: bool = True) -> Select:
    """The actor's own review reminders, newest first."""
    stmt = select(PlanReminder).where(PlanReminder.user_id == actor.user_id).order_by(PlanReminder.id.desc())
    if unread_only:
        stmt = stmt.where(PlanReminder.read_at.is_(None))
    return stmt


def my_reminders(session: Session, actor: Actor, *, unread_only: bool = True) -> list[PlanReminder]:
    """The newest 50, for the plans page."""
    return list(session.scalars(my_reminders_stmt(actor, unread_only=unread_only).limit(50)))


# ------------------------------------------------------------------ evidence pack

def drills_for(session: Session, plan: Plan) -> tuple[bool, list[dict]]:
    """Drills that exercised this plan (those that list it in ``plan_ids``). Returns (available, rows)."""
    rows = [d for d in session.scalars(select(Drill).where(Drill.region_code == plan.region_code).order_by(Drill.id))
            if plan.id in (d.plan_ids or [])]
    return True, [{"title": d.title, "scheduled_at": d.scheduled_at, "status": d.status, "mode": d.mode}
                  for d in rows]


def evidence_pack(session: Session, actor: Actor, plan_id: int) -> tuple[str, bytes]:
    """A zip for an inspection: the approved plan (DOCX, HTML), approval history, latest review
    date and drills held. Uses the latest approved version when there is one."""
    plan = get_plan(session, actor, plan_id)
    approved = [v for v in plan.versions if v.status == PlanStatus.APPROVED]
    version = approved[-1] if approved else next(v for v in plan.versions if v.number == plan.current_number)
    doc = plan_doc(session, actor, plan.id, version.number)
    evs = list(session.scalars(select(PlanEvent).where(PlanEvent.plan_id == plan.id).order_by(PlanEvent.id)))
    names = user_names(session, [e.user_id for e in evs] + [v.approved_by for v in plan.versions])
    drills_ok, drills = drills_for(session, plan)

    history = io.StringIO()
    w = csv.writer(history)
    w.writerow(["日時", "版", "操作", "担当"])
    for e in evs:
        if e.action in ("submit", "approve", "return", "revise", "upgrade", "create"):
            w.writerow(csv_row([fmt_dt(e.at), e.version_number, ACTION_LABELS.get(e.action, e.action),
                                names.get(e.user_id, "システム")]))

    lines = [f"# 監査用資料: {plan.title}", "", f"- 対象: {owner_label(plan)}",
             f"- 現在の状態: {STATUS_LABELS.get(plan.status, plan.status)}（第{plan.current_number}版）",
             f"- 同梱した版: 第{version.number}版（{STATUS_LABELS.get(version.status, version.status)}）",
             f"- 最終承認日: {fmt_dt(plan.last_approved_at) or '未承認'}",
             f"- 次回見直し期限: {fmt_date(plan.review_due_on) or '未設定'}", "", "## 承認の履歴", ""]
    for v in plan.versions:
        lines.append(f"- 第{v.number}版（テンプレート v{v.template_version}）: {STATUS_LABELS.get(v.status, v.status)}"
                     + (f"、承認 {fmt_dt(v.approved_at)} {names.get(v.approved_by, '')}" if v.approved_at else ""))
    lines += ["", "## 実施した訓練", ""]
    if not drills_ok:
        lines.append("訓練の記録はこのサービスではまだ連携されていません。計画書の「研修・訓練」の章を参照してください。")
    elif not drills:
        lines.append("この計画に紐づく訓練の記録はありません。")
    else:
        for d in drills:
            when = d["scheduled_at"]
            lines.append(f"- {fmt_dt(when) if isinstance(when, datetime) else when or ''} {d['title']}（{d['mode']}、{d['status']}）")
    summary = "\n".join(lines) + "\n"
    meta = {"plan_id": plan.id, "type": plan.type, "version": version.number, "status": version.status,
            "last_approved_at": plan.last_approved_at.isoformat() if plan.last_approved_at else None,
            "review_due_on": plan.review_due_on.isoformat() if plan.review_due_on else None,
            "drills_linked": drills_ok, "drills": len(drills)}

    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("00_概要.md", summary)
        z.writestr(f"01_計画書_第{version.number}版.docx", to_docx(doc))
        z.writestr(f"02_計画書_第{version.number}版.html", to_html(doc))
        z.writestr(f"03_計画書_第{version.number}版.md", to_markdown(doc))
        z.writestr("04_承認履歴.csv", "\ufeff" + history.getvalue())   # BOM so Excel reads Japanese
        z.writestr("metadata.json", json.dumps(meta, ensure_ascii=False, indent=2))
    return f"plan-{plan.id}-evidence.zip", buf.getvalue()
