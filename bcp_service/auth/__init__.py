"""Users, roles, region scope, API tokens and the audit log.

``require(*roles)`` guards a view: the actor comes from a bearer token or the Flask-Login session;
no actor → 401, wrong role → 403. Region checks are done by services with ``scope.check_region``.
"""
from __future__ import annotations

from functools import wraps

from flask import request
from flask_login import current_user

from bcp_service.auth.roles import Actor, Role
from bcp_service.errors import OutOfScope, Unauthorized

__all__ = ["Actor", "Role", "require", "current_actor", "ALL_ROLES", "STAFF_ROLES"]

ALL_ROLES = tuple(Role)
STAFF_ROLES = (Role.ADMIN, Role.HUB_STAFF, Role.INSTITUTION_STAFF, Role.FIELD_TEAM)


def _actor_from_request() -> Actor | None:
    from bcp_service.appclock import get_clock
    from bcp_service.auth.services import actor_for, user_for_token
    from bcp_service.db import db

    header = request.headers.get("Authorization", "")
    if header:
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise Unauthorized("Authorization ヘッダーは 'Bearer <トークン>' の形式で送ってください")
        user = user_for_token(db.session, token.strip(), now=get_clock().now())
        if user is None:
            raise Unauthorized("トークンが無効か、取り消されています")
        actor = actor_for(user)
        db.session.commit()  # last_used_at
        return actor
    if current_user.is_authenticated:
        return actor_for(current_user)
    return None


def current_actor() -> Actor:
    """The actor of this request (cached per request, never across requests)."""
    actor = request.environ.get("bcp.actor")
    if actor is None:
        actor = _actor_from_request()
        if actor is None:
            raise Unauthorized("サインインするか、Bearer トークンを送ってください")
        request.environ["bcp.actor"] = actor
    return actor


def require(*roles: Role):
    """View decorator: an authenticated actor with one of ``roles`` (any role when none given)."""
    allowed = frozenset(roles or Role)

    def decorator(view):
        @wraps(view)
        def wrapper(*args, **kwargs):
            actor = current_actor()
            if actor.role not in allowed:
                raise OutOfScope(f"{actor.role.label}の役割ではこの画面・操作は使えません")
            return view(*args, **kwargs)

        wrapper.required_roles = allowed
        return wrapper

    return decorator
