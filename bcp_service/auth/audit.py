"""Audit log: every sign-in and every read or write of personal data leaves an AuditEvent."""
from __future__ import annotations

from flask import has_request_context, request
from sqlalchemy.orm import Session

from bcp_service.auth.models import AuditEvent
from bcp_service.auth.roles import Actor
from bcp_service.clock import get_clock


def record(session: Session, actor: Actor | None, action: str, entity: str,
           entity_id: object = None, detail: dict | None = None) -> AuditEvent:
    """Add an audit row in the caller's transaction. ``detail`` must hold ids and field names, not values."""
    event = AuditEvent(
        at=get_clock().now(),
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
