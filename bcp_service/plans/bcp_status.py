"""BCP status for the fee rule: which 在宅療養支援診療所・病院 of a region have an approved 機関型 plan,
and SMS reminders (outbox) to the staff of those without one. The rule itself is pure (plans.fee_rule)."""
from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from bcp_service.auth import Actor, Role
from bcp_service.auth.models import User
from bcp_service.auth.scope import check_region
from bcp_service.errors import Invalid, OutOfScope
from bcp_service.messaging import outbox
from bcp_service.orgs.models import Organization

from .fee_rule import FeeRule, OrgStatus, load_rule, reminder_due, reminder_text, status_rows
from .models import Plan
from .reminders import TOKYO

log = logging.getLogger(__name__)
STATUS_ROLES = (Role.ADMIN, Role.HUB_STAFF, Role.PREFECTURE_REVIEWER)


def _approved_org_ids(session: Session, org_ids: list[int]) -> set[int]:
    if not org_ids:
        return set()
    return set(session.scalars(select(Plan.organization_id).where(
        Plan.type == "kikan", Plan.organization_id.in_(org_ids), Plan.last_approved_at.is_not(None))))


def _supported(session: Session, region_code: str | None = None) -> list[Organization]:
    stmt = select(Organization).where(Organization.home_care_support.is_(True)).order_by(Organization.id)
    if region_code:
        stmt = stmt.where(Organization.region_code == region_code)
    return list(session.scalars(stmt))


def region_status(session: Session, actor: Actor, region_code: str | None, *, today: date,
                  rule: FeeRule | None = None) -> list[OrgStatus]:
    """Per 在宅療養支援診療所・病院 of the region: approved 機関型 or not, the deadline, days left.
    No plan contents: the prefecture reviewer may see this list too."""
    if actor.role not in STATUS_ROLES:
        raise OutOfScope("この役割ではBCPの策定状況を閲覧できません")
    region_code = region_code or (actor.scope if actor.role is Role.HUB_STAFF else None)
    if not region_code:
        raise Invalid("圏域を指定してください", fields={"region_code": ["必須です"]})
    check_region(session, actor, region_code)
    orgs = _supported(session, region_code)
    return status_rows([(o.id, o.name) for o in orgs], _approved_org_ids(session, [o.id for o in orgs]),
                       rule or load_rule(), today=today)


@dataclass(frozen=True)
class FeeReminderRun:
    organizations: int
    messages: int


def send_fee_reminders(session: Session, *, now: datetime, rule: FeeRule | None = None) -> FeeReminderRun:
    """On a reminder day, one SMS per active staff member (with a phone) of each organisation without an
    approved 機関型. Keys name the day's slot, so running the job again the same day sends nothing new."""
    rule = rule or load_rule()
    today = now.astimezone(TOKYO).date()
    slot = reminder_due(rule, today=today)
    if slot is None:
        return FeeReminderRun(0, 0)
    orgs = _supported(session)
    approved = _approved_org_ids(session, [o.id for o in orgs])
    todo = [o for o in orgs if o.id not in approved]
    sent = 0
    for org in todo:
        text = reminder_text(org.name, rule, today=today)
        users = session.scalars(select(User).where(User.organization_id == org.id, User.active.is_(True),
                                                   User.phone_e164.is_not(None)).order_by(User.id))
        for user in users:
            key = f"fee_rule:{rule.deadline.isoformat()}:{slot}:org:{org.id}:user:{user.id}"
            if outbox.get_by_key(session, key) is not None:
                continue
            # low priority: never ahead of an outage check-in
            outbox.enqueue(session, key=key, to=user.phone_e164, body=text, channel="sms",
                           purpose="bcp_fee_rule", priority=500, ref_id=org.id, now=now)
            sent += 1
    return FeeReminderRun(len(todo), sent)
