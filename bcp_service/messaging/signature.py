"""Twilio's request signature, for every endpoint Twilio calls (messaging's webhooks and TwiML, the
outage desk's voice TwiML)."""
from __future__ import annotations

from flask import current_app, request


def twilio_signature_ok() -> bool:
    """``X-Twilio-Signature`` over PUBLIC_BASE_URL + path + query and the POST form.

    PUBLIC_BASE_URL (not the Host header) is what Twilio requested, so the check holds behind a proxy
    or load balancer that rewrites scheme, host or port.
    """
    from twilio.request_validator import RequestValidator

    token = current_app.config.get("TWILIO_AUTH_TOKEN")
    signature = request.headers.get("X-Twilio-Signature", "")
    if not token or not signature:
        return False
    path = request.full_path if request.query_string else request.path
    url = current_app.config["PUBLIC_BASE_URL"].rstrip("/") + path
    return RequestValidator(token).validate(url, request.form, signature)
