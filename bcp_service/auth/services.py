"""Use cases of auth: users, tokens, sign-in. Each takes a session and ``now``; the caller commits.

``now`` may be left out by older callers: it then defaults to the app's clock (``appclock``)."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import pyotp
from sqlalchemy import select
from sqlalchemy.orm import Session

from bcp_service.auth import audit
from bcp_service.auth.models import ApiToken, User
from bcp_service.auth.passwords import hash_password, hash_token, new_api_token, verify_password
from bcp_service.auth.roles import Actor, Role, scope_problem
from bcp_service.errors import Conflict, Invalid, NotFound
from bcp_service.orgs.models import Organization, Region


def actor_for(user: User) -> Actor:
    return Actor(user_id=user.id, role=Role(user.role), scope=user.scope, organization_id=user.organization_id)


def _at(now: datetime | None) -> datetime:
    if now is not None:
        return now
    from bcp_service.appclock import get_clock

    return get_clock().now()


def normalize_email(email: str) -> str:
    return email.strip().lower()


def create_user(session: Session, *, email: str, password: str, role: str, scope: str | None = None,
                organization_id: int | None = None, display_name: str = "", phone_e164: str | None = None,
                now: datetime | None = None) -> User:
    email = normalize_email(email)
    fields: dict[str, list[str]] = {}
    if "@" not in email:
        fields["email"] = ["メールアドレスの形式ではありません"]
    try:
        role_enum = Role(role)
    except ValueError:
        fields["role"] = [f"role must be one of {', '.join(r.value for r in Role)}"]
        role_enum = None
    if role_enum is not None:
        region_exists = scope is not None and session.get(Region, scope) is not None
        pref_exists = scope is not None and session.scalar(
            select(Region.code).where(Region.prefecture_code == scope).limit(1)) is not None
        problem = scope_problem(role_enum, scope, region_exists=region_exists, prefecture_exists=pref_exists)
        if problem:
            fields["scope"] = [problem]
    if organization_id is not None:
        org = session.get(Organization, organization_id)
        if org is None:
            fields["organization_id"] = [f"no organisation {organization_id}"]
        elif role_enum not in (None, Role.ADMIN, Role.PREFECTURE_REVIEWER) and scope and org.region_code != scope:
            fields["organization_id"] = ["the organisation is outside the user's region"]
    elif role_enum is Role.INSTITUTION_STAFF:
        fields["organization_id"] = ["institution staff belong to an organisation (--org)"]
    try:
        password_hash = hash_password(password, context=(email, display_name))
    except ValueError as exc:
        fields["password"] = [str(exc)]
    if fields:
        raise Invalid("invalid user", fields=fields)
    if session.scalar(select(User.id).where(User.email == email)) is not None:
        raise Conflict(f"a user with e-mail {email} exists")
    user = User(email=email, password_hash=password_hash, role=role_enum.value, scope=scope or None,
                organization_id=organization_id, display_name=display_name, phone_e164=phone_e164,
                created_at=_at(now), active=True)
    session.add(user)
    session.flush()
    return user


def user_by_email(session: Session, email: str) -> User:
    user = session.scalar(select(User).where(User.email == normalize_email(email)))
    if user is None:
        raise NotFound(f"no user with e-mail {email}")
    return user


def issue_token(session: Session, user: User, *, now: datetime | None = None) -> str:
    """Make a new API token for the user; returns the token (only its hash is kept)."""
    token, digest = new_api_token()
    session.add(ApiToken(user_id=user.id, token_hash=digest, prefix=token[:10], created_at=_at(now)))
    return token


def user_for_token(session: Session, token: str, *, now: datetime | None = None) -> User | None:
    row = session.scalar(select(ApiToken).where(ApiToken.token_hash == hash_token(token)))
    if row is None or row.revoked_at is not None or not row.user.active:
        return None
    row.last_used_at = _at(now)
    return row.user


def enable_totp(session: Session, user: User) -> str:
    """Turn on the second factor; returns the provisioning URI for an authenticator app."""
    user.totp_secret = pyotp.random_base32()
    user.totp_last_step = None
    return totp_uri(user.email, user.totp_secret)


def totp_uri(email: str, secret: str) -> str:
    return pyotp.TOTP(secret).provisioning_uri(name=email, issuer_name="bcp-service")


def totp_step(secret: str, code: str, *, last_step: int | None, now: datetime) -> int | None:
    """The time-step ``code`` belongs to (``now`` ±30 s), if it is newer than ``last_step``; else None.
    Pure: a code, or any older one, is accepted once."""
    code = (code or "").strip()
    if not (code.isdigit() and len(code) == 6):
        return None
    totp = pyotp.TOTP(secret)
    now_step = totp.timecode(now)
    for step in (now_step - 1, now_step, now_step + 1):
        if (last_step is None or step > last_step) and pyotp.utils.strings_equal(totp.generate_otp(step), code):
            return step
    return None


def totp_required(user: User, roles: tuple[str, ...]) -> bool:
    return user.role in roles


def confirm_totp(session: Session, user: User, secret: str, code: str, *, now: datetime | None = None) -> bool:
    """Enrolment: keep ``secret`` as the user's second factor once a code from it is confirmed."""
    now = _at(now)
    step = totp_step(secret, code, last_step=None, now=now)
    if step is None:
        return False
    user.totp_secret, user.totp_last_step = secret, step
    audit.record(session, actor_for(user), "totp_enrolled", "user", user.id, now=now)
    return True


def end_sessions(user: User) -> None:
    """Every signed-in session of this user ends (they carry the old generation)."""
    user.session_generation = (user.session_generation or 0) + 1


def change_password(session: Session, user: User, *, current: str, new: str) -> None:
    if not verify_password(user.password_hash, current):
        raise Invalid("現在のパスワードが正しくありません。", fields={"current_password": ["正しくありません"]})
    try:
        user.password_hash = hash_password(new, context=(user.email, user.display_name))
    except ValueError as exc:
        raise Invalid(str(exc), fields={"new_password": [str(exc)]}) from None
    end_sessions(user)
    audit.record(session, actor_for(user), "password_changed", "user", user.id)


def set_password(session: Session, user: User, new: str) -> None:
    """Administrative reset (CLI): the policy applies and every session ends."""
    try:
        user.password_hash = hash_password(new, context=(user.email, user.display_name))
    except ValueError as exc:
        raise Invalid(str(exc), fields={"password": [str(exc)]}) from None
    end_sessions(user)
    audit.record(session, None, "password_reset", "user", user.id)


def set_role(session: Session, user: User, *, role: str, scope: str | None) -> None:
    """Change a user's role and scope; every session ends so no page keeps the old rights."""
    try:
        role_enum = Role(role)
    except ValueError:
        raise Invalid("invalid role", fields={"role": [f"role must be one of {', '.join(r.value for r in Role)}"]}) \
            from None
    region_exists = scope is not None and session.get(Region, scope) is not None
    pref_exists = scope is not None and session.scalar(
        select(Region.code).where(Region.prefecture_code == scope).limit(1)) is not None
    problem = scope_problem(role_enum, scope, region_exists=region_exists, prefecture_exists=pref_exists)
    if problem:
        raise Invalid("invalid scope", fields={"scope": [problem]})
    user.role, user.scope = role_enum.value, scope or None
    end_sessions(user)
    audit.record(session, None, "role_changed", "user", user.id, detail={"role": role_enum.value})


@dataclass(frozen=True)
class SignIn:
    user: User | None
    needs_otp: bool = False
    needs_enrolment: bool = False
    error: str | None = None


def sign_in(session: Session, *, email: str, password: str, otp: str | None,
            require_totp_roles: tuple[str, ...] = (), now: datetime | None = None) -> SignIn:
    """Check credentials (and TOTP when on or required); audit success and failure alike.

    A user whose role requires TOTP and who has none gets ``needs_enrolment`` (password verified, not
    signed in): the view shows a new secret and signs in once a code from it is confirmed."""
    now = _at(now)
    user = session.scalar(select(User).where(User.email == normalize_email(email)))
    ok = verify_password(user.password_hash if user else None, password)
    if not ok or user is None or not user.active:
        audit.record(session, None, "sign_in_failed", "user", user.id if user else None, now=now)
        return SignIn(None, error="メールアドレスまたはパスワードが正しくありません。")
    if user.totp_secret:
        if not otp:
            return SignIn(None, needs_otp=True, error="確認コード（6桁）を入力してください。")
        step = totp_step(user.totp_secret, otp, last_step=user.totp_last_step, now=now)
        if step is None:
            audit.record(session, actor_for(user), "sign_in_failed_otp", "user", user.id, now=now)
            return SignIn(None, needs_otp=True, error="確認コードが正しくないか、使用済みです。")
        user.totp_last_step = step
    elif totp_required(user, require_totp_roles):
        return SignIn(user, needs_enrolment=True)
    user.last_login_at = now
    audit.record(session, actor_for(user), "sign_in", "user", user.id, now=now)
    return SignIn(user)
