"""The one-tap task page: the link in a field or transport team's SMS. The signed link is the
authority: it acts as the team the task was sent to (``access.link_actor``). Signed in, a field user
acts as themselves and only on their own organisation's tasks (403 otherwise, the page included);
names and addresses are shown only to signed-in staff who may see the task."""
from __future__ import annotations

from flask import Blueprint, current_app, redirect, render_template, request, url_for
from markupsafe import Markup
from flask_login import current_user

from bcp_service.api import csrf_exempt
from bcp_service.auth import current_actor
from bcp_service.auth.audit import record as audit
from bcp_service.auth.roles import Role
from bcp_service.db import db
from bcp_service.errors import Gone, Invalid, NotFound, OutOfScope
from bcp_service.messaging.tokens import InvalidToken, read_token
from bcp_service.outages import access, field_tasks, transport
from bcp_service.outages.hooks import still_open
from bcp_service.outages.models import TRANSPORT_LABELS, FieldTask, Outage, Transport
from bcp_service.outages.notify import notifier_for
from bcp_service.outages.views.request_parts import now as _now

bp = Blueprint("outage_links", __name__)

DECLINE = "受けられない（次のチームへ）"
TASK_ACTIONS = {
    "visit": {"ack": "受諾する", "report_ok": "訪問済み・問題なし", "report_transport": "訪問済み・搬送が必要",
              "decline": DECLINE},
    "transport": {"ack": "受諾する", "en_route": "出発した（搬送中）", "arrived": "施設に到着した", "decline": DECLINE},
}
TASK_STATUS_LABELS = {"open": "未受諾", "acknowledged": "受諾済み", "done": "完了", "cancelled": "取消",
                      "reassigned": "他のチームへ移動"}


def task_from_token(token: str) -> FieldTask:
    """The task a signed link names; 404 for a bad link, 410 once its outage is resolved."""
    try:
        claims = read_token(current_app.config["SECRET_KEY"], token)
    except InvalidToken:
        raise NotFound("リンクが正しくありません。") from None
    if claims.purpose not in ("field_task", "transport_task"):
        raise NotFound("リンクが正しくありません。")
    task = db.session.get(FieldTask, claims.subject_id)
    if task is None or task.outage_id != claims.context_id:
        raise NotFound("依頼が見つかりません。")
    if not still_open(db.session, claims):
        raise Gone("この停電は復旧済みです。依頼は終了しました。")
    return task


def link_actor_of(task: FieldTask):
    """The link's authority: the team the task was sent to, in its outage's region."""
    return access.link_actor(db.session.get(Outage, task.outage_id), task.organization_id)


def actor_for(task: FieldTask):
    """(who acts through this page, whether they may see names): a signed-in field user as themselves
    (their organisation's tasks only: 403 otherwise), the region's desk as itself, anyone else with
    the link as the link's team, without names."""
    if current_user.is_authenticated and current_user.role == Role.FIELD_TEAM.value:
        actor = current_actor()
        access.outage_for(db.session, actor, task.outage_id, roles=access.TEAM)
        access.check_task_team(actor, task.organization_id)
        return actor, True
    if current_user.is_authenticated and current_user.role in (Role.HUB_STAFF.value, Role.ADMIN.value):
        actor = current_actor()
        try:
            access.outage_for(db.session, actor, task.outage_id, roles=access.TEAM)
            return actor, True
        except OutOfScope:
            pass
    return link_actor_of(task), False


@bp.get("/t/<token>")
def task_page(token: str):
    task = task_from_token(token)
    _, may_see_names = actor_for(task)
    transport_row = db.session.get(Transport, task.transport_id) if task.transport_id else None
    # Names and addresses are shown only to signed-in staff; the link alone gives ids and actions.
    details = task.details if may_see_names else None
    audit(db.session, current_actor() if details is not None else None, "read", "field_task", task.id,
          detail={"via": "task_link", "details_shown": details is not None}, now=_now())
    db.session.commit()
    return render_template("outages/task.html", task=task, transport=transport_row, token=token,
                           actions=TASK_ACTIONS[task.kind], transport_labels=TRANSPORT_LABELS,
                           status_labels=TASK_STATUS_LABELS,
                           login_url=url_for("auth.login", next=url_for("outage_links.task_page", token=token)),
                           details=details, drill=db.session.get(Outage, task.outage_id).drill)


@bp.post("/t/<token>")
@csrf_exempt
def task_action(token: str):
    task = task_from_token(token)
    action = request.form.get("action", "")
    if action not in TASK_ACTIONS[task.kind]:
        raise Invalid("操作が正しくありません。", fields={"action": list(TASK_ACTIONS[task.kind])})
    at, n, actor = _now(), notifier_for(current_app), actor_for(task)[0]
    if action == "ack":
        field_tasks.acknowledge_task(db.session, actor, task.id, now=at)
    elif action == "decline":
        field_tasks.decline_task(db.session, actor, task.id, now=at, notifier=n)
    elif action in ("report_ok", "report_transport"):
        field_tasks.field_report(db.session, actor, task.id, needs_transport=action == "report_transport",
                                 now=at, notifier=n)
    else:
        field_tasks.acknowledge_task(db.session, actor, task.id, now=at)
        transport.update_transport(db.session, actor, task.transport_id, status=action, facility_id=None,
                                   now=at, notifier=n, via="one_tap")
    db.session.commit()
    return redirect(url_for("outage_links.task_page", token=token, done=action))


def home_panel(actor) -> Markup:
    """The field team's home: their organisation's open tasks, soonest deadline first, each with
    tap-to-call links, a map link, the deadline and the task's page."""
    from bcp_service.messaging.tokens import TapClaims, make_token

    secret = current_app.config["SECRET_KEY"]
    rows = []
    for task in field_tasks.open_tasks_of_team(db.session, actor):
        purpose = "transport_task" if task.kind == "transport" else "field_task"
        token = make_token(secret, TapClaims(purpose, task.id, task.outage_id))
        rows.append({"task": task, "d": task.details or {},
                     "url": url_for("outage_links.task_page", token=token)})
    return Markup(render_template("outages/_team_home.html", rows=rows, status_labels=TASK_STATUS_LABELS,
                                  has_org=actor.organization_id is not None))
