"""Data-quality problems of the registry that would cost someone a check-in in an outage: no
municipality (a municipality-code outage can only guess), or coordinates far from the registered
municipality (one of the two is wrong). Computed on read from ``geo.checks``; nothing stored."""
from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session

from bcp_service.auth import Actor
from bcp_service.geo.checks import Problem, data_quality
from bcp_service.registry import queries
from bcp_service.registry.models import Patient


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
