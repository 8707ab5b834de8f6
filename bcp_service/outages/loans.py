"""Power loans: loanable equipment held by organisations, lent to a patient during an outage.

A loan is recorded when the equipment is handed over. It adds to the patient's backups for that
outage at once: the registry's runway (``registry.services.compute_runway``, the runway core) is
computed with and without it, and the difference moves ``runs_out_at`` on (from now, if the patient
had already run out). A transport the loan may make unnecessary is flagged for the desk, never
cancelled: the desk decides. Equipment comes back after restoration (``return_loan``). Each use case
checks the actor's role and region scope and changes nothing on bad input.
"""
from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from bcp_service.auth.roles import Actor, Role
from bcp_service.auth.scope import check_region, require_role, visible_region_codes
from bcp_service.clock import iso_local
from bcp_service.errors import Conflict, Invalid, NotFound, OutOfScope
from bcp_service.orgs.models import Organization
from bcp_service.outages import access, triage
from bcp_service.outages.models import (
    EQUIPMENT_KINDS, EQUIPMENT_STATUSES, LoanEquipment, Outage, OutagePatient, PowerLoan, Transport,
)
from bcp_service.outages.states import OutageStatus, TransportStatus
from bcp_service.outages.timeline import event
from bcp_service.registry import runway as rw
from bcp_service.registry.models import Patient
from bcp_service.registry.services import RunwayPolicy, compute_runway

EQUIPMENT_ROLES = (Role.ADMIN, Role.HUB_STAFF, Role.INSTITUTION_STAFF)
KIND_LABELS = {"power_station": "ポータブル電源", "generator": "発電機", "external_battery": "外部バッテリー"}


def _number(data: dict, key: str, lo: float, hi: float, errors: dict) -> float | None:
    value = data.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not (lo < value <= hi):
        errors[key] = [f"{lo:g}より大きく{hi:g}以下の数で指定してください"]
        return None
    return float(value)


def add_equipment(session: Session, actor: Actor, data: dict, *, now: datetime) -> LoanEquipment:
    """Register loanable equipment of an organisation in the actor's region (institution staff: their own)."""
    require_role(actor, *EQUIPMENT_ROLES)
    errors: dict[str, list[str]] = {}
    kind = data.get("kind")
    if kind not in EQUIPMENT_KINDS:
        errors["kind"] = ["power_station・generator・external_battery のいずれかです"]
    org_id = data.get("organization_id")
    org = session.get(Organization, org_id) if isinstance(org_id, int) and not isinstance(org_id, bool) else None
    if org is None:
        errors["organization_id"] = ["存在する機関のIDを指定してください"]
    watt_hours = _number(data, "watt_hours", 0, 100_000, errors)
    hours = _number(data, "hours", 0, 1_000, errors)
    count = data.get("count", 1)
    if isinstance(count, bool) or not isinstance(count, int) or not (1 <= count <= 50):
        errors["count"] = ["1〜50の整数で指定してください"]
    if kind == "power_station" and watt_hours is None and "watt_hours" not in errors:
        errors["watt_hours"] = ["ポータブル電源は容量(Wh)が必要です"]
    if kind in ("generator", "external_battery") and hours is None and "hours" not in errors:
        errors["hours"] = ["発電機・外部バッテリーは時間が必要です"]
    label = data.get("label")
    if label is not None and (not isinstance(label, str) or len(label) > 100):
        errors["label"] = ["100文字以内の文字列です"]
    unknown = set(data) - {"kind", "organization_id", "watt_hours", "hours", "count", "label"}
    for key in sorted(unknown):
        errors[key] = ["不明な項目です"]
    if errors:
        raise Invalid("貸出機材の入力に誤りがあります。", fields=errors)
    if actor.role == Role.INSTITUTION_STAFF and actor.organization_id != org.id:
        raise OutOfScope("自機関の機材だけを登録できます。")
    check_region(session, actor, org.region_code)
    eq = LoanEquipment(organization_id=org.id, kind=kind, label=label, watt_hours=watt_hours, hours=hours,
                       count=count, status="available", created_at=now, updated_at=now)
    session.add(eq)
    session.flush()
    return eq


def equipment_stmt(session: Session, actor: Actor, *, organization_id: int | None = None,
                   status: str | None = None, kind: str | None = None):
    """Equipment the actor may see (their regions), for ``api.paginate``."""
    require_role(actor, *EQUIPMENT_ROLES)
    if status is not None and status not in EQUIPMENT_STATUSES:
        raise Invalid("status が不正です。", fields={"status": ["available・lent・retired のいずれかです"]})
    stmt = select(LoanEquipment).join(Organization, Organization.id == LoanEquipment.organization_id)
    regions = visible_region_codes(session, actor)
    if regions is not None:
        stmt = stmt.where(Organization.region_code.in_(sorted(regions)))
    for col, value in ((LoanEquipment.organization_id, organization_id), (LoanEquipment.status, status),
                       (LoanEquipment.kind, kind)):
        if value is not None:
            stmt = stmt.where(col == value)
    return stmt.order_by(LoanEquipment.id)


def equipment_dict(eq: LoanEquipment) -> dict:
    return {"id": eq.id, "kind": eq.kind, "kind_label": KIND_LABELS.get(eq.kind), "organization_id": eq.organization_id,
            "label": eq.label, "watt_hours": eq.watt_hours, "hours": eq.hours, "count": eq.count,
            "status": eq.status}


def _backup(eq: LoanEquipment) -> rw.Backup:
    return rw.Backup(eq.kind, eq.hours, eq.count, eq.watt_hours)


def lend(session: Session, actor: Actor, *, outage_id: int, patient_id: int, equipment_id, now: datetime,
         policy: RunwayPolicy) -> PowerLoan:
    """Hand equipment over to a patient of an active outage (409 if it is out already, 403 if it
    belongs to another region); their runway for this outage grows by what it adds."""
    outage = access.outage_for(session, actor, outage_id)
    if isinstance(equipment_id, bool) or not isinstance(equipment_id, int):
        raise Invalid("equipment_id は整数です。", fields={"equipment_id": ["整数で指定してください"]})
    if outage.status != OutageStatus.ACTIVE:
        raise Conflict("復旧済みの停電では貸し出せません。", code="wrong_state")
    row = session.scalars(select(OutagePatient).where(OutagePatient.outage_id == outage.id,
                                                      OutagePatient.patient_id == patient_id)
                          .with_for_update()).first()
    if row is None:
        raise NotFound("この停電の対象者ではありません。")
    eq = session.scalars(select(LoanEquipment).where(LoanEquipment.id == equipment_id).with_for_update()).first()
    if eq is None:
        raise NotFound("貸出機材が見つかりません。", fields={"equipment_id": ["存在しません"]})
    org = session.get(Organization, eq.organization_id)
    if outage.region_code is not None and org.region_code != outage.region_code:
        raise OutOfScope("他の圏域の機材は貸し出せません。", fields={"equipment_id": ["他の圏域の機材です"]})
    check_region(session, actor, org.region_code)
    if eq.status != "available":
        raise Conflict("この機材はすでに貸出中です（または使用できません）。", code="already_lent")
    patient = session.get(Patient, patient_id)
    devices, backups = patient.runway_inputs()
    earlier = [_backup(e) for e in session.scalars(
        select(LoanEquipment).join(PowerLoan, PowerLoan.equipment_id == LoanEquipment.id)
        .where(PowerLoan.outage_id == outage.id, PowerLoan.patient_id == patient_id))]
    base = compute_runway(devices, [*backups, *earlier], policy).hours
    added = max(0.0, compute_runway(devices, [*backups, *earlier, _backup(eq)], policy).hours - base)
    before = row.runs_out_at
    if added > 0:
        # The loan's hours follow what is left now (or now, if the power had already run out).
        row.runs_out_at = max(row.runs_out_at, now) + timedelta(hours=added)
        registry_out = outage.started_at + timedelta(hours=row.runway_hours or 0.0)
        row.runway_hours = (max(registry_out, now) + timedelta(hours=added) - outage.started_at).total_seconds() / 3600
    eq.status, eq.updated_at = "lent", now
    loan = PowerLoan(outage_id=outage.id, patient_id=patient_id, equipment_id=eq.id, added_hours=round(added, 2),
                     runs_out_before=before, runs_out_after=row.runs_out_at, handed_over_at=now,
                     handed_over_by=actor.user_id)
    session.add(loan)
    session.flush()
    flagged = _flag_transport(session, outage, row, now=now)
    event(session, outage.id, "loan", at=now, patient_id=patient_id, actor_user_id=actor.user_id,
          equipment_id=eq.id, equipment_kind=eq.kind, added_hours=loan.added_hours,
          runs_out_at=iso_local(row.runs_out_at), transport_id=flagged)
    return loan


def _flag_transport(session: Session, outage: Outage, row: OutagePatient, *, now: datetime) -> int | None:
    """A live transport that the longer runway may make unnecessary is flagged for the desk."""
    t = session.scalars(select(Transport).where(
        Transport.outage_id == outage.id, Transport.patient_id == row.patient_id,
        Transport.status.in_((TransportStatus.PROPOSED.value, TransportStatus.ASSIGNED.value)))).first()
    if t is None or triage.needs_transport_before_restoration(row.runs_out_at, outage.expected_restoration_at,
                                                              now=now):
        return None
    t.desk_flag, t.updated_at = "loan_covers", now
    return t.id


def return_loan(session: Session, actor: Actor, loan_id: int, *, now: datetime) -> PowerLoan:
    """Equipment back after restoration: the loan closes and the equipment is available again."""
    loan = session.scalars(select(PowerLoan).where(PowerLoan.id == loan_id).with_for_update()).first()
    if loan is None:
        raise NotFound("貸出記録が見つかりません。")
    outage = access.outage_for(session, actor, loan.outage_id)
    if loan.returned_at is not None:
        raise Conflict("この機材はすでに返却済みです。", code="already_returned")
    if outage.status == OutageStatus.ACTIVE:
        raise Conflict("停電中は返却を記録できません（復旧後に記録してください）。", code="wrong_state")
    eq = session.get(LoanEquipment, loan.equipment_id)
    loan.returned_at, loan.returned_by = now, actor.user_id
    eq.status, eq.updated_at = "available", now
    event(session, outage.id, "loan_returned", at=now, patient_id=loan.patient_id, actor_user_id=actor.user_id,
          equipment_id=eq.id, equipment_kind=eq.kind)
    return loan


def loan_dict(loan: PowerLoan) -> dict:
    return {"id": loan.id, "outage_id": loan.outage_id, "patient_id": loan.patient_id,
            "equipment_id": loan.equipment_id, "added_hours": loan.added_hours,
            "runs_out_before": iso_local(loan.runs_out_before), "runs_out_at": iso_local(loan.runs_out_after),
            "handed_over_at": iso_local(loan.handed_over_at), "returned_at": iso_local(loan.returned_at),
            "status": "returned" if loan.returned_at else "lent"}


def loans_stmt(outage_id: int):
    return select(PowerLoan).where(PowerLoan.outage_id == outage_id).order_by(PowerLoan.id)
