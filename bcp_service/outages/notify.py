"""The outage desk's port to messaging: every message is an outbox row first.

Idempotency keys follow ARCHITECTURE.md: ``outage:{id}:patient:{id}:round:{n}:{channel}`` for
check-ins (``…:recheck:{cycle}:round:{n}:{channel}`` for a later re-check), ``outage:{id}:task:{id}:sms`` for field/transport tasks and
``outage:{id}:patient:{id}:restoration:sms`` for the all-clear (``…:restoration:voice`` for
landlines: a short call whose TwiML is served by ``/outages/voice/restoration``). Enqueuing the same key twice is a
no-op in the outbox, so a retried declaration or a second clock never sends a second message.

Check-in texts are rendered once per outage and round (the one-tap link is substituted per patient):
rendering a Jinja template 20,000 times would cost more than the whole declaration may take.
Priority follows triage: whoever runs out first is sent first.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Sequence

from itsdangerous import BadSignature, Signer
from sqlalchemy.orm import Session

from bcp_service.messaging import outbox, texts
from bcp_service.messaging.tokens import TapClaims, make_token
from bcp_service.outages import rounds
from bcp_service.outages.models import FieldTask, Outage
from bcp_service.registry.phones import route as phone_route

log = logging.getLogger(__name__)
_LINK = "\x00LINK\x00"
# The restoration call's TwiML URL carries its own signed token (not a one-tap token: it answers
# nothing, and it must work after the outage is resolved, when one-tap links are dead).
_RESTORATION_SALT = "bcp-outage-restoration-v1"


def restoration_token(secret: str, patient_id: int, outage_id: int) -> str:
    return Signer(secret, salt=_RESTORATION_SALT).sign(f"{patient_id:x}-{outage_id:x}").decode()


def read_restoration_token(secret: str, token: str) -> tuple[int, int] | None:
    """(patient_id, outage_id), or None when the token is forged or malformed."""
    try:
        payload = Signer(secret, salt=_RESTORATION_SALT).unsign(token or "").decode()
        patient, outage = payload.split("-")
        return int(patient, 16), int(outage, 16)
    except (BadSignature, UnicodeError, ValueError):
        return None


@dataclass(frozen=True)
class OutboxNotifier:
    secret: str
    base_url: str
    hub_name: str

    def link(self, purpose: str, subject_id: int, context_id: int) -> str:
        token = make_token(self.secret, TapClaims(purpose, subject_id, context_id))
        return f"{self.base_url.rstrip('/')}/r/{token}"

    def task_link(self, purpose: str, task_id: int, outage_id: int) -> str:
        """Task links open the outage desk's own one-tap page (``/t/``): accept, en route, arrived."""
        token = make_token(self.secret, TapClaims(purpose, task_id, outage_id))
        return f"{self.base_url.rstrip('/')}/t/{token}"

    def _enqueue(self, session: Session, **kw) -> None:
        outbox.enqueue(session, **kw)

    def checkin(self, session: Session, outage: Outage, recipients: Sequence, *, round_no: int,
                now: datetime, cycle: int = 0) -> int:
        """Round ``round_no`` of contact cycle ``cycle`` (0: the first; each re-check opens another,
        keyed ``…:recheck:{cycle}:round:{n}:{channel}`` so it is sent once)."""
        if not recipients:
            return 0
        key = "checkin" if round_no == 1 else "reminder"
        template = texts.render(key, {"hub_name": self.hub_name, "link": _LINK}, drill=outage.drill)

        def rows():
            # Whoever runs out first is sent first (the dispatcher takes the lowest priority number).
            # A generator: the outbox writes the first rows while the later links are still signed.
            for r in sorted(recipients, key=lambda r: r.priority):
                if not r.phone_e164:
                    continue
                for channel in rounds.channels_for_round(round_no, r.phone_kind):
                    body = template.replace(_LINK, self.link("checkin", r.patient_id, outage.id)) \
                        if channel == "sms" else None
                    cyc = f"recheck:{cycle}:" if cycle else ""
                    yield dict(key=f"outage:{outage.id}:patient:{r.patient_id}:{cyc}round:{round_no}:{channel}",
                               to=r.phone_e164, channel=channel, body=body, purpose="checkin",
                               priority=r.priority, patient_id=r.patient_id, outage_id=outage.id,
                               round=round_no, drill=outage.drill)

        return outbox.enqueue_many(session, rows(), now=now)

    def _enqueue_many(self, session: Session, rows: list[dict], *, now: datetime) -> None:
        # Whoever runs out first is sent first (the dispatcher takes the lowest priority number).
        rows.sort(key=lambda r: r.get("priority", 100))
        outbox.enqueue_many(session, rows, now=now)

    def task_call_text(self, task: FieldTask, outage: Outage | None) -> str:
        """What a landline team hears on a task call (alerts/messages.yaml ``voice``), ids only."""
        d = task.details or {}
        context = {"hub_name": self.hub_name, "area": f"担当患者、ID {task.patient_id}",
                   "hours": f"{d.get('runway_hours_left', 0):.1f}", "facility": d.get("facility_name") or "受入先"}
        key = "transport_task" if task.kind == "transport" else "field_task"
        return texts.render_voice(key, context, drill=bool(outage and outage.drill))

    def task_call_url(self, purpose: str, task: FieldTask) -> str:
        """The TwiML a landline team's task call plays (the task's own one-tap token names it)."""
        token = make_token(self.secret, TapClaims(purpose, task.id, task.outage_id))
        return f"{self.base_url.rstrip('/')}/outages/voice/task?t={token}"

    def _send_task(self, session: Session, outage: Outage, task: FieldTask, *, to: str | None, purpose: str,
                   body: str, now: datetime, **extra) -> str | None:
        number, channel, unsent = phone_route(to)
        if unsent:
            log.warning("outage %s task %s: team cannot be reached (%s); desk must call", outage.id, task.id, unsent)
            return unsent
        common = dict(to=number, purpose=purpose, priority=0, patient_id=task.patient_id, outage_id=outage.id,
                      ref_id=task.id, drill=outage.drill, now=now, **extra)
        if channel == "sms":
            self._enqueue(session, key=f"outage:{outage.id}:task:{task.id}:sms", channel="sms", body=body, **common)
        else:       # a landline: a call that reads the task and takes 1 as acceptance
            self._enqueue(session, key=f"outage:{outage.id}:task:{task.id}:voice", channel="voice",
                          twiml_url=self.task_call_url(purpose, task), **common)
        return None

    def field_task(self, session: Session, outage: Outage, task: FieldTask, *, to: str | None,
                   now: datetime) -> str | None:
        d = task.details or {}
        body = texts.render("field_task", {
            "area": f"担当患者（ID {task.patient_id}）", "hours": f"{d.get('runway_hours_left', 0):.1f}",
            "link": self.task_link("field_task", task.id, outage.id)}, drill=outage.drill)
        return self._send_task(session, outage, task, to=to, purpose="field_task", body=body, now=now, round=3)

    def transport_task(self, session: Session, outage: Outage, task: FieldTask, *, to: str | None,
                       facility_name: str, now: datetime) -> str | None:
        body = texts.render("transport_task", {
            "area": f"担当患者（ID {task.patient_id}）", "facility": facility_name,
            "link": self.task_link("transport_task", task.id, outage.id)}, drill=outage.drill)
        return self._send_task(session, outage, task, to=to, purpose="transport_task", body=body, now=now)

    def restoration_url(self, patient_id: int, outage_id: int) -> str:
        """The TwiML a landline's restoration call plays (a signed token: no guessable ids)."""
        token = restoration_token(self.secret, patient_id, outage_id)
        return f"{self.base_url.rstrip('/')}/outages/voice/restoration?t={token}"

    def restoration(self, session: Session, outage: Outage, recipients: Sequence, *, now: datetime) -> int:
        """SMS for mobiles; a short voice call for landlines (Japanese SMS cannot reach them)."""
        body = texts.render("restoration", {"hub_name": self.hub_name}, drill=outage.drill)
        rows = []
        for r in recipients:
            if not r.phone_e164:
                continue
            common = dict(to=r.phone_e164, purpose="restoration", priority=1000, patient_id=r.patient_id,
                          outage_id=outage.id, drill=outage.drill)
            if r.phone_kind == "landline":
                rows.append(dict(key=f"outage:{outage.id}:patient:{r.patient_id}:restoration:voice",
                                 channel="voice", body=None,
                                 twiml_url=self.restoration_url(r.patient_id, outage.id), **common))
            else:
                rows.append(dict(key=f"outage:{outage.id}:patient:{r.patient_id}:restoration:sms",
                                 channel="sms", body=body, **common))
        self._enqueue_many(session, rows, now=now)
        return len(rows)


def notifier_for(app) -> OutboxNotifier:
    cfg = app.config
    return OutboxNotifier(secret=cfg["SECRET_KEY"], base_url=cfg.get("PUBLIC_BASE_URL") or "http://127.0.0.1:5000",
                          hub_name=cfg.get("HUB_NAME") or "在宅医療連携拠点")
