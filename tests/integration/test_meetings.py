"""協議の場: meeting records per region; decisions become corrective actions linked to plan sections."""
from datetime import date

import pytest

from bcp_service.drills.evaluations import open_actions_for_plan, update_action
from bcp_service.errors import Conflict, Invalid, NotFound, OutOfScope
from bcp_service.meetings import services

from .test_plans_service import new_kikan, world  # noqa: F401 - the fixture is reused


def _data(world, plan_id, **extra):
    return {"region_code": "1301", "held_on": date(2026, 11, 20), "title": "第3回 在宅医療 災害対策協議",
            "agenda": "停電時の搬送体制", "attendees": [
                {"organization_id": world["clinic"].id, "names": "院長 試験 太郎"},
                {"organization_id": world["hospital"].id, "names": "地域連携室 試験 花子"}],
            "decisions": [{"text": "民間救急との協定を結ぶ", "corrective_action": {
                "title": "民間救急との搬送協定", "owner_org_id": world["clinic"].id, "due": date(2027, 3, 31),
                "element": "planning", "plan_id": plan_id, "section_key": "transport"}},
                {"text": "次回は2月に開催する"}], **extra}


def test_a_meeting_decision_becomes_an_open_action_in_the_plan_section(session, world, clock):
    plan = new_kikan(session, world, clock)
    m = services.create_meeting(session, world["hub"], _data(world, plan.id), now=clock.now())
    session.commit()
    assert [a.organization.name for a in m.attendees] == ["試験在宅クリニック", "試験総合病院"]
    (action,) = m.actions
    assert m.decisions[0].action_id == action.id and m.decisions[1].action_id is None
    assert action.drill_id is None and action.meeting_id == m.id
    shown = open_actions_for_plan(session, plan.id)["transport"]
    assert shown[0]["title"] == "民間救急との搬送協定" and shown[0]["meeting_id"] == m.id

    later = services.decision_to_action(session, world["hub"], m.id, m.decisions[1].id, {
        "title": "2月の協議を招集", "owner_org_id": world["hospital"].id, "due": date(2027, 2, 1),
        "element": "organization", "plan_id": plan.id, "section_key": "partners"}, now=clock.now())
    session.commit()
    assert m.decisions[1].action_id == later.id
    with pytest.raises(Conflict):
        services.decision_to_action(session, world["hub"], m.id, m.decisions[1].id, {
            "title": "x", "owner_org_id": world["hospital"].id, "due": date(2027, 2, 1), "element": "planning"},
            now=clock.now())
    update_action(session, world["hub"], action.id, {"status": "in_progress"}, now=clock.now())
    session.commit()
    assert action.status == "in_progress"


def test_meetings_are_scoped_to_the_region_and_bad_input_changes_nothing(session, world, clock):
    plan = new_kikan(session, world, clock)
    with pytest.raises(OutOfScope):
        services.create_meeting(session, world["doctor"], _data(world, plan.id), now=clock.now())
    bad = _data(world, plan.id)
    bad["decisions"][0]["corrective_action"]["section_key"] = "no_such_section"
    bad["attendees"].append({"organization_id": 99999})
    with pytest.raises(Invalid) as exc:
        services.create_meeting(session, world["hub"], bad, now=clock.now())
    assert "attendees.2" in exc.value.fields and "decisions.0.corrective_action" in exc.value.fields
    session.rollback()
    m = services.create_meeting(session, world["hub"], _data(world, plan.id), now=clock.now())
    session.commit()
    assert services.get_meeting(session, world["doctor"], m.id) is m      # institution staff of the region read
    with pytest.raises(NotFound):
        services.get_meeting(session, world["west_hub"], m.id)
    from sqlalchemy import func, select

    from bcp_service.meetings.models import Meeting
    assert session.scalar(select(func.count()).select_from(Meeting)) == 1
