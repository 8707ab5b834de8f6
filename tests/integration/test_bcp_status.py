"""BCP status for the fee rule: the per-organisation list and the reminders (outbox)."""
from datetime import date, datetime, timezone

import pytest
from sqlalchemy import select

from bcp_service.errors import OutOfScope
from bcp_service.messaging.models import OutboxMessage
from bcp_service.plans import bcp_status, workflow
from bcp_service.plans.fee_rule import FeeRule

from .plan_helpers import fill_required
from .test_plans_service import new_kikan, world  # noqa: F401 - the fixture is reused


def test_status_lists_home_care_support_organisations_and_reminds_those_without_a_plan(session, world, clock):
    world["clinic"].home_care_support = True
    world["other"].home_care_support = True
    world["far"].home_care_support = True          # another region: not in 1301's list
    world["doctor_user"].phone_e164 = "+819000000001"
    session.commit()
    plan = new_kikan(session, world, clock)
    fill_required(session, world["doctor"], plan, clock)
    workflow.submit(session, world["doctor"], plan.id, now=clock.now())
    workflow.approve(session, world["hub"], plan.id, now=clock.now())
    session.commit()

    rows = bcp_status.region_status(session, world["hub"], "1301", today=date(2026, 12, 2))
    assert [(r.name, r.has_approved_kikan, r.days_left) for r in rows] == [
        ("試験よその診療所", False, 180), ("試験在宅クリニック", True, 180)]
    assert bcp_status.region_status(session, world["pref"], "1301", today=date(2026, 12, 2))
    with pytest.raises(OutOfScope):
        bcp_status.region_status(session, world["doctor"], "1301", today=date(2026, 12, 2))

    from bcp_service.auth.models import User

    other_user = session.scalars(select(User).where(User.organization_id == world["other"].id)).one()
    other_user.phone_e164 = "+819000000002"
    session.commit()
    rule = FeeRule(date(2027, 5, 31), (180,))
    day = datetime(2026, 12, 2, 0, 5, tzinfo=timezone.utc)   # 09:05 Tokyo, 180 days before
    run = bcp_status.send_fee_reminders(session, now=day, rule=rule)
    session.commit()
    msgs = session.scalars(select(OutboxMessage).where(OutboxMessage.purpose == "bcp_fee_rule")).all()
    assert [m.to for m in msgs] == ["+819000000002"]            # the clinic with an approved plan hears nothing
    assert "あと180日" in msgs[0].body and run.messages == 1
    assert bcp_status.send_fee_reminders(session, now=day, rule=rule).messages == 0   # same day: nothing new
    assert bcp_status.send_fee_reminders(session, now=datetime(2026, 12, 3, tzinfo=timezone.utc),
                                         rule=rule).messages == 0                     # not a reminder day
