"""The outage's timeline: one ``OutageEvent`` row per thing that happened (report.py labels them)."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from bcp_service.outages.models import OutageEvent


def event(session: Session, outage_id: int, kind: str, *, at: datetime, patient_id: int | None = None,
          actor_user_id: int | None = None, **detail) -> None:
    session.add(OutageEvent(outage_id=outage_id, at=at, kind=kind, patient_id=patient_id,
                            actor_user_id=actor_user_id, detail=detail or None))
