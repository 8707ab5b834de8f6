"""The ports a drill needs from the outside: a notifier (outbox) and the outage desk (functional drills).

The implementations are in ``drills.adapters``; tests pass their own or None.
"""
from __future__ import annotations

from datetime import datetime
from typing import Protocol

from sqlalchemy.orm import Session

from bcp_service.auth import Actor
from bcp_service.drills.metrics import CheckinRecord
from bcp_service.drills.models import Drill
from bcp_service.drills.scenarios import Scenario


class Notifier(Protocol):
    """Sends a drill text to a staff contact through the messaging subsystem (outbox)."""

    def send(self, session: Session, *, to_e164: str, body: str, key: str, now: datetime) -> bool: ...


class OutageDesk(Protocol):
    """The outage pipeline as seen by a functional drill."""

    def open_drill_outage(self, session: Session, drill: Drill, scenario: Scenario, *, actor: Actor,
                          now: datetime) -> int: ...

    def resolve(self, session: Session, outage_id: int, *, actor: Actor, now: datetime) -> None: ...

    def active_real_outages(self, session: Session, region_code: str) -> list[int]:
        """Ids of the real (not drill) outages active in the region."""
        ...

    def excluded_patients(self, session: Session, outage_id: int) -> list[tuple[int, int]]:
        """(patient id, real outage id): the drill outage's patients left out for a real outage."""
        ...

    def checkin_timeline(self, session: Session, outage_id: int) -> tuple[datetime, list[CheckinRecord], list[datetime]]: ...
