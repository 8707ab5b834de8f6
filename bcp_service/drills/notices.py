"""What participants hear about a drill: invitations, reminder and start texts, calendar entries."""
from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from bcp_service.drills.ics import CalendarEvent
from bcp_service.drills.models import Drill
from bcp_service.drills.ports import Notifier
from bcp_service.drills.scheduling import TOKYO, WEEKDAY_JA
from bcp_service.drills.states import DrillStatus


def _when(drill: Drill) -> str:
    t = drill.scheduled_at.astimezone(TOKYO)
    return f"{t.month}/{t.day}（{WEEKDAY_JA[t.weekday()]}）{t:%H:%M}"


def invitation_text(drill: Drill, base_url: str) -> str:
    return f"【訓練】訓練のご案内:「{drill.title}」{_when(drill)}〜。詳細 {base_url}/drills/{drill.id}"


def reminder_text(drill: Drill, label: str, base_url: str) -> str:
    return f"【訓練】{label}のお知らせ:「{drill.title}」{_when(drill)}〜。{base_url}/drills/{drill.id}"


def send_invitations(session: Session, drill: Drill, *, notifier: Notifier, now: datetime, base_url: str) -> int:
    sent = 0
    for p in drill.participants:
        if p.invited_at is None and p.contact_phone_e164:
            if notifier.send(session, to_e164=p.contact_phone_e164, body=invitation_text(drill, base_url),
                             key=f"drill:{drill.id}:org:{p.organization_id}:invite:{drill.sequence}", now=now):
                p.invited_at = now
                sent += 1
    return sent


def send_start_notices(session: Session, drill: Drill, *, notifier: Notifier, now: datetime, base_url: str) -> None:
    """A functional drill has started: each participating organisation's contact hears it by SMS."""
    for p in drill.participants:
        if p.contact_phone_e164:
            notifier.send(session, to_e164=p.contact_phone_e164, now=now,
                          body=f"【訓練】機能訓練「{drill.title}」を開始しました。{base_url}/drills/{drill.id}",
                          key=f"drill:{drill.id}:org:{p.organization_id}:start")


def calendar_event(drill: Drill, base_url: str, host: str = "bcp-service") -> CalendarEvent:
    return CalendarEvent(
        uid=f"drill-{drill.id}@{host}", title=f"【訓練】{drill.title}", starts_at=drill.scheduled_at,
        ends_at=drill.scheduled_at + timedelta(minutes=drill.duration_minutes),
        description=f"形式: {'図上訓練（TTX）' if drill.mode == 'tabletop' else 'ドリル（安否確認の実動訓練）'}／参加機関: {len(drill.participants)}",
        location=drill.location or "", url=f"{base_url}/drills/{drill.id}", sequence=drill.sequence,
        cancelled=drill.status == DrillStatus.CANCELLED,
    )
