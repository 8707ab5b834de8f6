"""Re-verification of patients' power data (issue 14 item 8): data that stays true year after year.

Rule (pure, ``due_cutoff``): a patient's power data is confirmed on the later of
``patients.power_checked_on`` (the one-page form confirmed on a visit) and the oldest ``checked_on``
of their backups (when every backup carries one). It is overdue when that date is missing or before
the cutoff: ``max_age_days`` (365) before today, and — from ``preseason_from`` (06-01) until
``season_end`` (10-31), the typhoon season — ``preseason_lookback_days`` (90) before that year's
``preseason_from``, so each season starts with figures confirmed in the spring. All configurable
(``REVERIFY_*`` settings).

Shell: the overdue list and counts within the actor's scope, confirmation on a visit, and reminders
to the responsible nursing station (else the primary clinic) through the messaging outbox.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import and_, exists, func, not_, or_, select
from sqlalchemy.orm import Session

from bcp_service.auth import audit
from bcp_service.auth.models import User
from bcp_service.auth.roles import Actor, Role
from bcp_service.auth.scope import require_personal_data_role
from bcp_service.errors import OutOfScope
from bcp_service.registry import access, services
from bcp_service.registry.models import Patient, PatientBackup, PatientDevice


@dataclass(frozen=True)
class VerificationPolicy:
    max_age_days: int = 365
    preseason_from: tuple[int, int] = (6, 1)    # (month, day)
    season_end: tuple[int, int] = (10, 31)
    preseason_lookback_days: int = 90

    @classmethod
    def from_config(cls, config) -> "VerificationPolicy":
        def md(key: str, default: tuple[int, int]) -> tuple[int, int]:
            value = config.get(key)
            if not value:
                return default
            m, d = str(value).split("-")
            return int(m), int(d)

        return cls(int(config.get("REVERIFY_MAX_AGE_DAYS", 365)), md("REVERIFY_PRESEASON_FROM", (6, 1)),
                   md("REVERIFY_SEASON_END", (10, 31)), int(config.get("REVERIFY_PRESEASON_LOOKBACK_DAYS", 90)))


def in_season(today: date, policy: VerificationPolicy) -> bool:
    start = date(today.year, *policy.preseason_from)
    end = date(today.year, *policy.season_end)
    return start <= today <= end


def due_cutoff(today: date, policy: VerificationPolicy) -> date:
    """Confirmations before this date are overdue today."""
    cutoff = today - timedelta(days=policy.max_age_days)
    if in_season(today, policy):
        cutoff = max(cutoff, date(today.year, *policy.preseason_from) - timedelta(days=policy.preseason_lookback_days))
    return cutoff


def last_confirmed(power_checked_on: date | None, backup_checked: list[date | None]) -> date | None:
    from_backups = min(backup_checked) if backup_checked and all(backup_checked) else None
    dates = [d for d in (power_checked_on, from_backups) if d is not None]
    return max(dates) if dates else None


def overdue_reason(confirmed: date | None, today: date, policy: VerificationPolicy) -> str | None:
    """Japanese reason the data is overdue, or None when it is current."""
    if confirmed is None:
        return "電源情報が一度も確認されていません"
    if confirmed >= due_cutoff(today, policy):
        return None
    if confirmed < today - timedelta(days=policy.max_age_days):
        return "前回の確認から1年以上たっています"
    return "台風シーズン前の確認が済んでいません"


# --- shell --------------------------------------------------------------------------------------

def _overdue_clause(cutoff: date):
    current_patient = and_(Patient.power_checked_on.is_not(None), Patient.power_checked_on >= cutoff)
    has_backup = exists().where(PatientBackup.patient_id == Patient.id)
    stale_backup = exists().where(PatientBackup.patient_id == Patient.id,
                                  or_(PatientBackup.checked_on.is_(None), PatientBackup.checked_on < cutoff))
    current_backups = and_(has_backup, not_(stale_backup))
    return and_(Patient.deleted_at.is_(None), Patient.status == "active",
                exists().where(PatientDevice.patient_id == Patient.id),
                not_(or_(current_patient, current_backups)))


def _scoped(stmt, actor: Actor):
    cond = access.visibility(actor)  # the same filter as the patient list
    return stmt if cond is None else stmt.where(cond)


def overdue_count(session: Session, actor: Actor, today: date, policy: VerificationPolicy) -> int:
    stmt = select(func.count()).select_from(Patient).where(_overdue_clause(due_cutoff(today, policy)))
    return session.scalar(_scoped(stmt, actor)) or 0


@dataclass(frozen=True)
class Overdue:
    patient: Patient
    confirmed: date | None
    reason: str


def overdue_patients(session: Session, actor: Actor, today: date, policy: VerificationPolicy,
                     *, limit: int = 200, offset: int = 0) -> tuple[list[Overdue], int]:
    require_personal_data_role(actor)
    where = _overdue_clause(due_cutoff(today, policy))
    total = session.scalar(_scoped(select(func.count()).select_from(Patient).where(where), actor)) or 0
    stmt = _scoped(select(Patient).where(where), actor).order_by(Patient.nursing_org_id, Patient.id)
    rows = list(session.scalars(stmt.limit(limit).offset(offset)))
    out = []
    for p in rows:
        confirmed = last_confirmed(p.power_checked_on, [b.checked_on for b in p.backups])
        out.append(Overdue(p, confirmed, overdue_reason(confirmed, today, policy) or ""))
    # The list names patients: a read of personal data, audited like the patient list (issue 18).
    audit.record(session, actor, "read", "patients_overdue", None, {"count": len(out), "offset": offset})
    return out, total


def confirm(session: Session, actor: Actor, patient_id: int, *, today: date, now: datetime,
            policy: services.RunwayPolicy) -> Patient:
    """The figures were checked on a visit and are still true: record today on the patient and every
    backup (corrections go through the edit form first), and recompute the runway."""
    access.require_writer(actor)
    p = access.load_patient(session, patient_id)
    if not access.may_write(actor, p):
        raise OutOfScope("担当圏域外の患者です")
    p.power_checked_on = today
    for b in p.backups:
        b.checked_on = today
    p.updated_at = now
    services.refresh_runway(p, policy, today)
    audit.record(session, actor, "reverify", "patient", p.id, {"fields": ["power_checked_on", "checked_on"]})
    return p


def responsible_org(p: Patient) -> int | None:
    return p.nursing_org_id or p.primary_org_id


@dataclass(frozen=True)
class ReminderRun:
    organisations: int
    messages: int


def send_reminders(session: Session, *, today: date, now: datetime, policy: VerificationPolicy,
                   base_url: str = "") -> ReminderRun:
    """One SMS a week per staff member of each responsible nursing station (else the primary clinic)
    with overdue patients: counts only, no names (personal data stays behind the sign-in)."""
    from bcp_service.messaging.outbox import enqueue

    where = _overdue_clause(due_cutoff(today, policy))
    org = func.coalesce(Patient.nursing_org_id, Patient.primary_org_id)
    counts = session.execute(select(org, func.count()).where(where, org.is_not(None)).group_by(org)).all()
    year, week, _ = today.isocalendar()
    link = f" {base_url.rstrip('/')}/patients/reverify" if base_url else ""
    sent = 0
    for org_id, n in counts:
        users = session.scalars(select(User).where(User.organization_id == org_id, User.active.is_(True),
                                                   User.role == Role.INSTITUTION_STAFF.value,
                                                   User.phone_e164.is_not(None)).order_by(User.id))
        body = (f"【電源情報の再確認】担当の患者{n}名の予備電源・バッテリー情報が確認期限を過ぎています。"
                f"次の訪問で確認用紙により確認してください。{link}")
        for user in users:
            enqueue(session, key=f"reverify:{org_id}:{year}-W{week:02d}:user:{user.id}", to=user.phone_e164,
                    body=body, channel="sms", purpose="power_reverify", priority=500, now=now)
            sent += 1
    return ReminderRun(len(counts), sent)
