"""The one-tap task page: the link in a field or transport team's SMS. The signed link is the
authority (it acts as the field team of the outage's region, ``access.link_actor``); names and
addresses are shown only to signed-in staff of that region."""
from __future__ import annotations

from flask import Blueprint, current_app, redirect, render_template, request, url_for
from flask_login import current_user

from bcp_service.api import csrf_exempt
from bcp_service.db import db
from bcp_service.errors import Gone, Invalid, NotFound
from bcp_service.messaging.tokens import InvalidToken, read_token
from bcp_service.outages import access, field_tasks, transport
from bcp_service.outages.hooks import still_open
from bcp_service.outages.models import TRANSPORT_LABELS, FieldTask, Outage, Transport
from bcp_service.outages.notify import notifier_for
from bcp_service.outages.views.request_parts import now as _now

bp = Blueprint("outage_links", __name__)

TASK_ACTIONS = {
    "visit": {"ack": "受諾する", "report_ok": "訪問済み・問題なし", "report_transport": "訪問済み・搬送が必要"},
    "transport": {"ack": "受諾する", "en_route": "出発した（搬送中）", "arrived": "施設に到着した"},
}


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
    return access.link_actor(db.session.get(Outage, task.outage_id))


@bp.get("/t/<token>")
def task_page(token: str):
    task = task_from_token(token)
    transport_row = db.session.get(Transport, task.transport_id) if task.transport_id else None
    # Names and addresses are shown only to signed-in staff; the link alone gives ids and actions.
    return render_template("outages/task.html", task=task, transport=transport_row, token=token,
                           actions=TASK_ACTIONS[task.kind], transport_labels=TRANSPORT_LABELS,
                           login_url=url_for("auth.login", next=url_for("outage_links.task_page", token=token)),
                           details=task.details if _signed_in_staff_of(task) else None,
                           drill=db.session.get(Outage, task.outage_id).drill)


def _signed_in_staff_of(task: FieldTask) -> bool:
    """Personal details only for signed-in desk or field staff of the outage's region."""
    if not (current_user.is_authenticated and current_user.role in ("admin", "hub_staff", "field_team")):
        return False
    if current_user.role == "admin":
        return True
    region = db.session.get(Outage, task.outage_id).region_code
    return region is not None and region == current_user.scope


@bp.post("/t/<token>")
@csrf_exempt
def task_action(token: str):
    task = task_from_token(token)
    action = request.form.get("action", "")
    if action not in TASK_ACTIONS[task.kind]:
        raise Invalid("操作が正しくありません。", fields={"action": list(TASK_ACTIONS[task.kind])})
    at, n, actor = _now(), notifier_for(current_app), link_actor_of(task)
    if action == "ack":
        field_tasks.acknowledge_task(db.session, actor, task.id, now=at)
    elif action in ("report_ok", "report_transport"):
        field_tasks.field_report(db.session, actor, task.id, needs_transport=action == "report_transport",
                                 now=at, notifier=n)
    else:
        field_tasks.acknowledge_task(db.session, actor, task.id, now=at)
        transport.update_transport(db.session, actor, task.transport_id, status=action, facility_id=None,
                                   now=at, notifier=n, via="one_tap")
    db.session.commit()
    return redirect(url_for("outage_links.task_page", token=token, done=action))
