"""The demo seed gives the calendar a past evaluated drill and two upcoming ones."""
from sqlalchemy import select

from bcp_service.drills.models import CorrectiveAction, Drill


def test_demo_seed_creates_drills_evaluations_and_an_overdue_action(app, session):
    from bcp_service import demo

    demo.seed(patients=10)      # the whole demo, as `bcp-service demo` seeds it
    drills = session.scalars(select(Drill).order_by(Drill.scheduled_at)).all()
    assert [d.status for d in drills] == ["completed", "scheduled", "scheduled"]
    past = drills[0]
    assert len(past.evaluations) == 2 and {e.rating for e in past.evaluations} == {"S", "M"}
    assert sum(1 for e in past.log_entries if e.kind == "answer") == 15
    actions = session.scalars(select(CorrectiveAction)).all()
    assert len(actions) == 2 and any(a.due < app.extensions["clock"].now().date() for a in actions)
    assert {d.mode for d in drills[1:]} == {"tabletop", "drill"}   # HSEEP names (functional: the old name of drill)
