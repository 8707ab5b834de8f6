"""Runways of patients with a daily device schedule, from a known start of a power cut (issue 13).

The registry stores each patient's worst-case runway (no start time known). For an outage the start
is known, so patients whose devices carry a ``daily_schedule`` get their runway again from the core,
following local time (``runway.runs_out_at``'s model). Everyone else keeps the stored figure: only
patients with a schedule are loaded, so a declaration over many patients stays one cheap query.
"""
from __future__ import annotations

from datetime import date, datetime
from typing import Iterable

from sqlalchemy import select
from sqlalchemy.orm import Session

from bcp_service.registry import runway as rw
from bcp_service.registry.models import Patient, PatientDevice

_CHUNK = 2000  # ids per IN list (SQLite's bound-parameter limit)


def scheduled_runways(session: Session, patient_ids: Iterable[int], start: datetime, *, today: date | None,
                      assumptions: rw.Assumptions = rw.DEFAULT_ASSUMPTIONS) -> dict[int, float]:
    """patient id → hours from ``start`` until power runs out, for those of ``patient_ids`` with a
    scheduled device. A patient whose stored figures no longer validate keeps the stored worst case."""
    ids = sorted(set(patient_ids))
    out: dict[int, float] = {}
    for k in range(0, len(ids), _CHUNK):
        chunk = ids[k:k + _CHUNK]
        scheduled = select(PatientDevice.patient_id).where(PatientDevice.patient_id.in_(chunk),
                                                           PatientDevice.daily_schedule.is_not(None))
        for p in session.scalars(select(Patient).where(Patient.id.in_(scheduled))):
            try:
                out[p.id] = rw.runway(*p.runway_inputs(), assumptions=assumptions, today=today, start=start).hours
            except (rw.RunwayInputError, rw.ScheduleError):
                continue
    return out
