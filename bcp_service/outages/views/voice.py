"""TwiML for calls to landlines: the restoration notice, and task calls for teams whose phone is a
landline. Every request is checked against Twilio's signature; the signed token in the URL names
the outage or the task."""
from __future__ import annotations

from flask import Blueprint, Response, current_app, request, url_for
from twilio.twiml.voice_response import VoiceResponse

from bcp_service.api import csrf_exempt
from bcp_service.db import db
from bcp_service.errors import Gone, NotFound
from bcp_service.messaging import texts
from bcp_service.messaging.signature import twilio_signature_ok
from bcp_service.outages import field_tasks, states
from bcp_service.outages.models import FieldTask, Outage
from bcp_service.outages.notify import notifier_for, read_restoration_token
from bcp_service.outages.views.request_parts import now as _now
from bcp_service.outages.views.team_links import link_actor_of, task_from_token

bp = Blueprint("outage_voice", __name__)


@bp.route("/outages/voice/restoration", methods=["POST"])
@csrf_exempt
def voice_restoration():
    """TwiML for the restoration call to a landline: one short ``<Say>`` in Japanese, then hang up.
    Valid after the outage is resolved (that is when it is called); the token names the outage."""
    if not twilio_signature_ok():
        return Response("forbidden", status=403, mimetype="text/plain")
    vr = VoiceResponse()
    ids = read_restoration_token(current_app.config["SECRET_KEY"], request.args.get("t", ""))
    outage = db.session.get(Outage, ids[1]) if ids is not None else None
    if outage is None:
        vr.say("このお電話は無効です。", language="ja-JP")
    else:
        text = texts.render("restoration", {"hub_name": notifier_for(current_app).hub_name})
        if outage.drill:
            text = texts.DRILL_VOICE_PREFIX["ja"] + text
        vr.say(text, language="ja-JP")
        vr.pause(length=1)
        vr.say(text, language="ja-JP")
    vr.hangup()
    return Response(str(vr), mimetype="application/xml")


# --- voice: tasks for teams whose phone is a landline -------------------------------------------------

def _open_task_for_call() -> FieldTask | None:
    """The task a signed task call names, or None when it is closed, resolved or the token is bad."""
    try:
        task = task_from_token(request.args.get("t", ""))
    except (NotFound, Gone):
        return None
    return None if states.task_is_closed(task.status) else task


def _twiml_say(key: str) -> Response:
    """A call that only says one thing from alerts/messages.yaml and hangs up."""
    vr = VoiceResponse()
    vr.say(texts.render_voice(key, {}), language="ja-JP")
    vr.hangup()
    return Response(str(vr), mimetype="application/xml")


@bp.route("/outages/voice/task", methods=["POST"])
@csrf_exempt
def voice_task():
    """TwiML for a task call to a landline team: the request read twice at most, 1 accepts (as the
    SMS link's 受諾 does), 2 declines (the next team is asked), 9 repeats. Ids only: whoever picks up a station's phone hears no name."""
    if not twilio_signature_ok():
        return Response("forbidden", status=403, mimetype="text/plain")
    task = _open_task_for_call()
    if task is None:
        return _twiml_say("task_closed")
    vr = VoiceResponse()
    action = url_for("outage_voice.voice_task_answer", t=request.args.get("t", ""))
    gather = vr.gather(num_digits=1, action=action, method="POST", timeout=10, language="ja-JP")
    gather.say(notifier_for(current_app).task_call_text(task, db.session.get(Outage, task.outage_id)),
               language="ja-JP")
    vr.say(texts.render_voice("task_no_input", {}), language="ja-JP")
    vr.hangup()
    return Response(str(vr), mimetype="application/xml")


@bp.route("/outages/voice/task/answer", methods=["POST"])
@csrf_exempt
def voice_task_answer():
    if not twilio_signature_ok():
        return Response("forbidden", status=403, mimetype="text/plain")
    task = _open_task_for_call()
    if task is None:
        return _twiml_say("task_closed")
    digit = (request.form.get("Digits") or "").strip()
    if digit == "1":
        field_tasks.acknowledge_task(db.session, link_actor_of(task), task.id, now=_now())
        db.session.commit()
        return _twiml_say("task_accepted")
    if digit == "2":            # cannot go: the next team in the on-call order is asked
        field_tasks.decline_task(db.session, link_actor_of(task), task.id, now=_now(),
                                 notifier=notifier_for(current_app))
        db.session.commit()
        return _twiml_say("task_declined")
    vr = VoiceResponse()        # 9, or anything else: read it again
    vr.redirect(url_for("outage_voice.voice_task", t=request.args.get("t", "")), method="POST")
    return Response(str(vr), mimetype="application/xml")
