"""Data-quality problems of the registry that would cost someone a check-in in an outage: no
municipality (a municipality-code outage can only guess), or coordinates far from the registered
municipality (one of the two is wrong); per list row also no device (no runway can be computed) and
an overdue power check (``registry.verification``). Computed on read; nothing stored."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy.orm import Session

from bcp_service.auth import Actor
from bcp_service.geo.checks import Problem, data_quality
from bcp_service.registry import queries
from bcp_service.registry.models import Patient
from bcp_service.registry.verification import VerificationPolicy, last_confirmed, overdue_reason


@dataclass(frozen=True)
class PatientProblem:
    patient_id: int
    name: str
    problem: Problem


def problems(session: Session, actor: Actor, *, limit: int = 100) -> tuple[list[PatientProblem], int]:
    """Active patients the actor may see with a data-quality problem (first ``limit``), and how many."""
    stmt = queries.patients_query(session, actor, status="active").with_only_columns(
        Patient.id, Patient.name, Patient.municipality_code, Patient.lat, Patient.lon)
    found: list[PatientProblem] = []
    total = 0
    for pid, name, code, lat, lon in session.execute(stmt):
        for problem in data_quality(code, lat, lon):
            total += 1
            if len(found) < limit:
                found.append(PatientProblem(pid, name, problem))
    return found, total


@dataclass(frozen=True)
class Flag:
    code: str       # no_device | municipality_unknown | far_from_municipality | power_check_overdue
    label: str      # short, for a list row
    message: str    # what to do, for a tooltip or the detail page


def row_flags(p: Patient, *, today: date, policy: VerificationPolicy) -> list[Flag]:
    """What is wrong with one patient's data, for the list and the detail page. Pure over the loaded
    patient (devices and backups included); only active patients are checked — the others are not
    contacted in an outage."""
    if p.status != "active":
        return []
    flags: list[Flag] = []
    if not p.devices:
        flags.append(Flag("no_device", "機器未登録",
                          "医療機器が登録されていないため、自立電源時間を計算できません。機器を登録してください"))
    for problem in data_quality(p.municipality_code, p.lat, p.lon):
        label = "市区町村未登録" if problem.code == "municipality_unknown" else "座標要確認"
        flags.append(Flag(problem.code, label, problem.message))
    if p.devices:
        confirmed = last_confirmed(p.power_checked_on, [b.checked_on for b in p.backups])
        reason = overdue_reason(confirmed, today, policy)
        if reason:
            flags.append(Flag("power_check_overdue", "電源確認期限切れ", reason + "。訪問時に電源情報を確認してください"))
    return flags
