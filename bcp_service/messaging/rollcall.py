"""職員安否確認 (staff roll-call): the same outbox, one-tap page and reply parser, for staff.

``start_rollcall`` asks every member 「無事／参集可能時間」 by SMS with a one-tap link; answers come back
through ``/r/<token>`` (purpose ``rollcall``), an SMS reply (「1 30分」) or the desk; ``tally`` counts.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from bcp_service.auth.roles import Actor, Role
from bcp_service.errors import Invalid, NotFound, OutOfScope
from bcp_service.messaging import outbox, texts
from bcp_service.messaging.models import Rollcall, RollcallMember
from bcp_service.messaging.replies import ROLLCALL_ANSWERS
from bcp_service.messaging.tokens import TapClaims, make_token

ETA_BUCKETS = ((30, "30分以内"), (60, "1時間以内"), (180, "3時間以内"), (None, "3時間超"))


@dataclass(frozen=True)
class MemberIn:
    name: str
    phone: str            # E.164
    user_id: int | None = None


@dataclass(frozen=True)
class Tally:
    total: int
    answered: int
    no_answer: int
    by_answer: dict[str, int]
    eta: dict[str, int]           # safe_available members by 参集可能時間 bucket
    available_within_60: int


def tally_members(members: Sequence[RollcallMember]) -> Tally:
    """Pure count over members (answer, eta_minutes)."""
    by_answer = {a: 0 for a in ROLLCALL_ANSWERS}
    eta = {label: 0 for _, label in ETA_BUCKETS}
    eta["未回答"] = 0
    answered = 0
    within_60 = 0
    for m in members:
        if m.answer is None:
            continue
        answered += 1
        by_answer[m.answer] = by_answer.get(m.answer, 0) + 1
        if m.answer == "safe_available":
            if m.eta_minutes is None:
                eta["未回答"] += 1
            else:
                label = next(lbl for limit, lbl in ETA_BUCKETS if limit is None or m.eta_minutes <= limit)
                eta[label] += 1
                within_60 += m.eta_minutes <= 60
    return Tally(total=len(members), answered=answered, no_answer=len(members) - answered,
                 by_answer=by_answer, eta=eta, available_within_60=within_60)


def start_rollcall(session: Session, *, title: str, organization_id: int | None, members: Sequence[MemberIn],
                   drill: bool, created_by: int | None, now: datetime, secret: str, base_url: str,
                   hub_name: str = "") -> Rollcall:
    if not members:
        raise Invalid("対象の職員がいません（電話番号のある職員が必要です）。", fields={"members": ["1人以上必要です"]})
    phones = [m.phone for m in members]
    if len(set(phones)) != len(phones):
        raise Invalid("同じ電話番号が重複しています。", fields={"members": ["電話番号が重複しています"]})
    for m in members:
        if not outbox.E164.match(m.phone or ""):
            raise Invalid("電話番号が不正です。", fields={"members": [f"{m.name}: E.164 形式が必要です"]})
    rc = Rollcall(title=title, organization_id=organization_id, drill=drill, created_by=created_by, created_at=now)
    rc.members = [RollcallMember(name=m.name, phone=m.phone, user_id=m.user_id) for m in members]
    session.add(rc)
    session.flush()
    rows = []
    for m in rc.members:
        token = make_token(secret, TapClaims("rollcall", m.id, rc.id))
        body = texts.render("rollcall", {"title": title, "link": f"{base_url.rstrip('/')}/r/{token}",
                                         "hub_name": hub_name}, drill=drill)
        # Staff roll-call goes before routine texts but after patients whose power is running out.
        rows.append(dict(key=f"rollcall:{rc.id}:member:{m.id}:sms", to=m.phone, body=body, channel="sms",
                         priority=500, purpose="rollcall", ref_id=m.id, drill=drill))
    outbox.enqueue_many(session, rows, now=now)
    return rc


def rollcall_region(session: Session, organization_id: int | None, created_by: int | None) -> str | None:
    """A roll-call's region: its organisation's, else that of the staff member who started it."""
    from bcp_service.auth.models import User
    from bcp_service.orgs.models import Organization

    if organization_id is not None:
        org = session.get(Organization, organization_id)
        return org.region_code if org else None
    creator = session.get(User, created_by) if created_by is not None else None
    return creator.scope if creator and creator.role != Role.ADMIN.value else None


def check_scope(session: Session, actor: Actor, *, organization_id: int | None, created_by: int | None) -> None:
    """Institution staff: their own organisation only. Hub staff (and field teams): their region only."""
    if actor.is_admin:
        return
    if actor.role is Role.INSTITUTION_STAFF:
        if organization_id != actor.organization_id:
            raise OutOfScope("自機関の職員だけを対象にできます。")
        return
    if actor.role is Role.PREFECTURE_REVIEWER or \
            rollcall_region(session, organization_id, created_by) != actor.scope:
        raise OutOfScope("担当圏域外の安否確認です。")


def get_rollcall(session: Session, rollcall_id: int, actor: Actor | None = None) -> Rollcall:
    """The roll-call; with ``actor``, only within the actor's scope (OutOfScope otherwise)."""
    rc = session.get(Rollcall, rollcall_id)
    if rc is None:
        raise NotFound("安否確認が見つかりません。")
    if actor is not None:
        check_scope(session, actor, organization_id=rc.organization_id, created_by=rc.created_by)
    return rc


def record_answer(session: Session, *, member_id: int, rollcall_id: int, answer: str, eta_minutes: int | None,
                  channel: str, now: datetime) -> bool:
    """False when the roll-call is closed (the page then says so)."""
    if answer not in ROLLCALL_ANSWERS:
        raise Invalid("回答が不正です。", fields={"answer": ["1・2・3 のいずれかです"]})
    if eta_minutes is not None and not (0 <= eta_minutes <= 7 * 24 * 60):
        raise Invalid("参集可能時間が不正です。", fields={"eta_minutes": ["0〜10080 分"]})
    member = session.scalars(select(RollcallMember).where(RollcallMember.id == member_id,
                                                          RollcallMember.rollcall_id == rollcall_id)).first()
    if member is None:
        raise NotFound("安否確認の対象者ではありません。")
    if member.rollcall.closed_at is not None:
        return False
    member.answer = answer
    member.eta_minutes = eta_minutes if answer == "safe_available" else None
    member.channel = channel
    member.answered_at = now
    return True


def close_rollcall(session: Session, rollcall_id: int, *, now: datetime, actor: Actor | None = None) -> Rollcall:
    rc = get_rollcall(session, rollcall_id, actor)
    if rc.closed_at is None:
        rc.closed_at = now
    return rc


def still_open(session: Session, claims: TapClaims) -> bool:
    """Token validity check (listed in ``wiring.TOKEN_CHECKS``): a roll-call link dies once closed."""
    if claims.purpose != "rollcall":
        return True
    rc = session.get(Rollcall, claims.context_id)
    return rc is not None and rc.closed_at is None
