"""Messaging: outbox, dispatcher, channels (Twilio SMS/voice, console), inbound webhooks, one-tap page.

The stable API for other subpackages (messaging never imports outages or registry):

* ``messaging.outbox.enqueue(session, *, key, to, body=None, channel="sms"|"voice", priority=100,
  purpose, patient_id=None, outage_id=None, round=None, not_before=None, twiml_url=None, ref_id=None,
  drill=False, now=None) -> OutboxMessage`` — idempotent by ``key``, inside the caller's transaction;
  ``outbox.enqueue_many(session, rows, now=...)`` for fan-outs; ``outbox.cancel_pending(...)``.
  Lower ``priority`` is sent first.
* Answer handlers ``fn(received: messaging.answers.AnswerReceived)``, one per token purpose, listed in
  ``bcp_service/wiring.py`` (``ANSWER_HANDLERS``) — called for one-tap, SMS replies and DTMF digits; token
  validity checks ``fn(session, claims) -> bool`` (False → 410, ``TOKEN_CHECKS``); escalation handlers
  ``fn(session, message, reason, now)`` (``ESCALATIONS``).
* ``messaging.tokens.make_token(secret, TapClaims(purpose, subject_id, context_id))`` for ``/r/<token>``
  links; ``messaging.texts.render(key, context, drill=...)`` for texts from ``alerts/``.
* ``messaging.rollcall`` — 職員安否確認 (``POST /api/v1/rollcalls``).

See each module's docstring; the dispatcher's crash window is described in ``dispatcher.py``.
"""
