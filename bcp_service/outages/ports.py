"""The outage desk's port to messaging: who is messaged, and what the sender must offer.

The real ``Notifier`` (``notify.OutboxNotifier``) writes outbox rows with idempotent keys, so a
declared outage always has its messages and a retry never sends twice.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol, Sequence

from sqlalchemy.orm import Session

from bcp_service.outages.models import FieldTask, Outage


@dataclass(frozen=True)
class Recipient:
    patient_id: int
    phone_e164: str | None
    phone_kind: str | None
    priority: int = 100          # minutes of power left: the outbox sends the lowest first


def priority(runs_out: datetime, now: datetime) -> int:
    return max(0, min(100_000, int((runs_out - now).total_seconds() // 60)))


class Notifier(Protocol):
    def checkin(self, session: Session, outage: Outage, recipients: Sequence[Recipient], *,
                round_no: int, now: datetime, cycle: int = 0) -> int: ...

    # The task messages return None when queued, or why the team cannot be texted (no_phone,
    # invalid_phone, not_mobile): the task then waits on the desk's list for a phone call.
    def field_task(self, session: Session, outage: Outage, task: FieldTask, *, to: str | None,
                   now: datetime) -> str | None: ...

    def transport_task(self, session: Session, outage: Outage, task: FieldTask, *, to: str | None,
                       facility_name: str, now: datetime) -> str | None: ...

    def restoration(self, session: Session, outage: Outage, recipients: Sequence[Recipient], *,
                    now: datetime) -> int: ...

    def contact_checkin(self, session: Session, outage: Outage, contact, *, to: str, channel: str,
                        priority: int, round_no: int, now: datetime) -> None: ...
