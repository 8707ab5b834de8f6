"""Clock jobs of drills on both databases: reminders 7 days / 1 day / 1 hour before, overdue actions."""
from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy import select

from bcp_service.auth.roles import Actor, Role
from bcp_service.drills import booking, evaluations
from bcp_service.drills.adapters import OutboxNotifier
from bcp_service.drills.jobs import remind_overdue_actions, send_due_reminders
from bcp_service.drills.models import CorrectiveAction, Drill
from bcp_service.drills.scenarios import load_library
from bcp_service.messaging.models import OutboxMessage


class RecordingNotifier(OutboxNotifier):
    """The real outbox notifier; ``sent`` reads back the drill rows it queued (key, to, body)."""

    def __init__(self, session):
        super().__init__()
        object.__setattr__(self, "_session", session)

    @property
    def sent(self) -> list[tuple[str, str, str]]:
        rows = self._session.scalars(select(OutboxMessage).where(OutboxMessage.purpose == "drill",
                                                                 ~OutboxMessage.key.contains(":invite:"))
                                     .order_by(OutboxMessage.id)).all()
        return [(m.key, m.to, m.body) for m in rows]


@pytest.fixture
def drill(session, clock, make_region, make_org, make_user):
    make_region("1301")
    clinic = make_org(name="試験クリニック", kind="clinic")
    nursing = make_org(name="試験訪問看護ステーション", kind="home_nursing")
    hub = make_user("hub_staff")
    actor = Actor(hub.id, Role.HUB_STAFF, "1301")
    data = {"title": "圏域合同訓練", "scenario": "planned_outage", "mode": "tabletop",
            "scheduled_at": clock.now() + timedelta(days=30), "duration_minutes": 120, "region_code": "1301",
            "participant_org_ids": [], "plan_ids": [], "objectives": [],
            "participants": [{"organization_id": clinic.id, "contact_name": "試験 一郎", "contact_phone": "090-0000-1111"},
                             {"organization_id": nursing.id, "contact_name": None, "contact_phone": None}]}
    d, _ = booking.create_drill(session, actor, data, now=clock.now(), library=load_library())
    session.commit()
    return d, actor, clinic


def test_reminders_go_out_once_at_seven_days_and_the_closest_after_a_gap(session, clock, drill):
    d, _, _ = drill
    n = RecordingNotifier(session)
    clock.set(d.scheduled_at - timedelta(days=7, minutes=1))
    assert send_due_reminders(session, now=clock.now(), notifier=n, base_url="http://bcp.test") == 0
    clock.set(d.scheduled_at - timedelta(days=7))
    assert send_due_reminders(session, now=clock.now(), notifier=n, base_url="http://bcp.test") == 1
    session.commit()
    [(key, to, body)] = n.sent
    assert key.endswith(":reminder:7d:0") and to == "+819000001111"
    assert body.startswith("【訓練】1週間前のお知らせ") and "http://bcp.test/drills/" in body
    assert send_due_reminders(session, now=clock.now(), notifier=n, base_url="") == 0
    # The clock was down over the 1-day mark: only the 1-hour reminder is sent.
    clock.set(d.scheduled_at - timedelta(minutes=30))
    assert send_due_reminders(session, now=clock.now(), notifier=n, base_url="") == 1
    session.commit()
    assert n.sent[-1][0].endswith(":reminder:1h:0")
    session.expire_all()
    row = session.get(Drill, d.id)
    assert sorted(row.reminders_done) == ["1d", "1h", "7d"] and row.next_reminder_at is None


def test_a_cancelled_drill_gets_no_reminders(session, clock, drill):
    d, actor, _ = drill
    booking.update_drill(session, actor, d.id, {"status": "cancelled"}, now=clock.now())
    session.commit()
    n = RecordingNotifier(session)
    clock.set(d.scheduled_at - timedelta(hours=1))
    assert send_due_reminders(session, now=clock.now(), notifier=n, base_url="") == 0


def test_overdue_actions_remind_the_owner_first_day_then_weekly_until_done(session, clock, drill):
    d, actor, clinic = drill
    d = session.get(Drill, d.id)
    d.status = "completed"
    action = CorrectiveAction(drill_id=d.id, title="連絡網を更新する", element="planning", owner_org_id=clinic.id,
                              due=date(2026, 12, 1), status="open", created_at=clock.now())
    session.add(action)
    session.commit()
    n = RecordingNotifier(session)
    assert remind_overdue_actions(session, today=date(2026, 12, 1), now=clock.now(), notifier=n, base_url="") == 0
    assert remind_overdue_actions(session, today=date(2026, 12, 2), now=clock.now(), notifier=n, base_url="") == 1
    session.commit()
    assert "期限（12/1）を過ぎています" in n.sent[0][2] and n.sent[0][1] == "+819000001111"
    assert remind_overdue_actions(session, today=date(2026, 12, 5), now=clock.now(), notifier=n, base_url="") == 0
    assert remind_overdue_actions(session, today=date(2026, 12, 9), now=clock.now(), notifier=n, base_url="") == 1
    session.commit()
    evaluations.update_action(session, actor, action.id, {"status": "done"}, now=clock.now())
    session.commit()
    assert remind_overdue_actions(session, today=date(2026, 12, 30), now=clock.now(), notifier=n, base_url="") == 0


def test_clock_registers_the_drill_jobs_and_a_beat_sends_due_reminders(app, session, clock, drill):
    from apscheduler.schedulers.background import BackgroundScheduler

    from bcp_service.scheduler import build_scheduler, run_metronome_once, schedule_of

    scheduler = build_scheduler(app, BackgroundScheduler)
    job = scheduler.get_job("drills.overdue_actions")
    assert job is not None and "hour='9'" in str(job.trigger)
    assert "drills.reminders" in [t.name for t in schedule_of(app).ticks]
    d, _, _ = drill
    clock.set(d.scheduled_at - timedelta(days=1))
    assert run_metronome_once(app)["drills.reminders"] == "ok"
    session.expire_all()
    keys = session.scalars(select(OutboxMessage.key).where(OutboxMessage.purpose == "drill",
                                                           OutboxMessage.key.contains(":reminder:"))).all()
    assert [k.rsplit(":", 2)[-2] for k in keys] == ["1d"]
