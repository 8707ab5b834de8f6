"""Audit log: every sign-in and every read or write of personal data leaves an AuditEvent."""
from __future__ import annotations

from datetime import datetime

from flask import has_request_context, request
from sqlalchemy.orm import Session

from bcp_service.auth.models import AuditEvent
from bcp_service.auth.roles import Actor


def record(session: Session, actor: Actor | None, action: str, entity: str,
           entity_id: object = None, detail: dict | None = None, *, now: datetime | None = None) -> AuditEvent:
    """Add an audit row in the caller's transaction. ``detail`` must hold ids and field names, not values.
    ``now`` is the use case's time; left out (older callers), it is the app's clock."""
    if now is None:
        from bcp_service.appclock import get_clock

        now = get_clock().now()
    event = AuditEvent(
        at=now,
        user_id=actor.user_id if actor else None,
        role=actor.role.value if actor else None,
        action=action,
        entity=entity,
        entity_id=None if entity_id is None else str(entity_id),
        remote_addr=request.remote_addr if has_request_context() else None,
        detail=detail,
    )
    session.add(event)
    return event
