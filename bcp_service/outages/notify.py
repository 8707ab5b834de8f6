"""The outage desk's port to messaging: every message is an outbox row first.

Idempotency keys follow ARCHITECTURE.md: ``outage:{id}:patient:{id}:round:{n}:{channel}`` for
check-ins (``…:recheck:{cycle}:round:{n}:{channel}`` for a later re-check),
``outage:{id}:patient:{id}:contact:{contact row}:{channel}`` for a family contact asked in the patient's
place, ``outage:{id}:task:{id}:sms`` for field/transport tasks (a task moved to the next team is a new
row, so a new key) and
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
from bcp_service.registry.phones import sms_capable_kind

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


def _drill_safe(session: Session, outage: Outage, recipients: Sequence) -> Sequence:
    """A drill never messages a patient who is in an active real outage (``drill_overlap``): the last
    check before anything is queued, whatever path (round, re-check, restoration) got here."""
    if not outage.drill or not recipients:
        return recipients
    from bcp_service.outages.drill_overlap import real_outage_patients

    busy = real_outage_patients(session, [r.patient_id for r in recipients])
    return [r for r in recipients if r.patient_id not in busy] if busy else recipients


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
        recipients = _drill_safe(session, outage, recipients)
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

    def _task_context(self, task: FieldTask) -> dict:
        """What a task text names: ids only (the area is 「担当患者（ID n）」), the device, hours left,
        the transport need and the acknowledgement deadline."""
        from bcp_service.clock import to_local

        d = task.details or {}
        return {"hub_name": self.hub_name, "hours": f"{d.get('runway_hours_left', 0):.1f}",
                "device": d.get("device") or "医療機器", "needs": d.get("transport_needs_label") or "搬送手段未登録",
                "facility": d.get("facility_name") or "受入先",
                "deadline": to_local(task.ack_deadline_at).strftime("%H:%M") if task.ack_deadline_at else "至急"}

    def task_call_text(self, task: FieldTask, outage: Outage | None) -> str:
        """What a landline team hears on a task call (alerts/messages.yaml ``voice``), ids only."""
        context = {**self._task_context(task), "area": f"担当患者、ID {task.patient_id}"}
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
        else:       # a landline: a call that reads the task; 1 accepts, 2 declines
            self._enqueue(session, key=f"outage:{outage.id}:task:{task.id}:voice", channel="voice",
                          twiml_url=self.task_call_url(purpose, task), **common)
        return None

    def field_task(self, session: Session, outage: Outage, task: FieldTask, *, to: str | None,
                   now: datetime) -> str | None:
        body = texts.render("field_task", {
            **self._task_context(task), "area": f"担当患者（ID {task.patient_id}）",
            "link": self.task_link("field_task", task.id, outage.id)}, drill=outage.drill)
        return self._send_task(session, outage, task, to=to, purpose="field_task", body=body, now=now, round=3)

    def transport_task(self, session: Session, outage: Outage, task: FieldTask, *, to: str | None,
                       facility_name: str, now: datetime) -> str | None:
        body = texts.render("transport_task", {
            **self._task_context(task), "area": f"担当患者（ID {task.patient_id}）", "facility": facility_name,
            "link": self.task_link("transport_task", task.id, outage.id)}, drill=outage.drill)
        return self._send_task(session, outage, task, to=to, purpose="transport_task", body=body, now=now)

    def contact_checkin(self, session: Session, outage: Outage, contact, *, to: str, channel: str,
                        priority: int, round_no: int, now: datetime) -> None:
        """The check-in sent to a patient's registered contact (``models.ContactCheckin``): an SMS with
        a one-tap link to the same page, or a call for a landline. The token names the contact row."""
        token = make_token(self.secret, TapClaims("contact_checkin", contact.id, outage.id))
        common = dict(key=f"outage:{outage.id}:patient:{contact.patient_id}:contact:{contact.id}:{channel}",
                      to=to, channel=channel, purpose="contact_checkin", priority=priority,
                      patient_id=contact.patient_id, outage_id=outage.id, round=round_no, ref_id=contact.id,
                      drill=outage.drill, now=now)
        if channel == "sms":
            body = texts.render("contact_checkin", {"hub_name": self.hub_name,
                                                    "link": f"{self.base_url.rstrip('/')}/r/{token}"},
                                drill=outage.drill)
            self._enqueue(session, body=body, **common)
        else:
            self._enqueue(session, twiml_url=f"{self.base_url.rstrip('/')}/voice/checkin?t={token}", **common)

    def restoration_url(self, patient_id: int, outage_id: int) -> str:
        """The TwiML a landline's restoration call plays (a signed token: no guessable ids)."""
        token = restoration_token(self.secret, patient_id, outage_id)
        return f"{self.base_url.rstrip('/')}/outages/voice/restoration?t={token}"

    def restoration(self, session: Session, outage: Outage, recipients: Sequence, *, now: datetime) -> int:
        """SMS for mobiles; a short voice call for landlines (Japanese SMS cannot reach them)."""
        body = texts.render("restoration", {"hub_name": self.hub_name}, drill=outage.drill)
        rows = []
        for r in _drill_safe(session, outage, recipients):
            if not r.phone_e164:
                continue
            common = dict(to=r.phone_e164, purpose="restoration", priority=1000, patient_id=r.patient_id,
                          outage_id=outage.id, drill=outage.drill)
            if not sms_capable_kind(r.phone_kind):      # landline or 050 IP phone
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
