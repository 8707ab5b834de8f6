"""Prefecture aggregates: counts per region from anonymous facts."""
import csv
import io
from datetime import date, datetime, timedelta, timezone

from bcp_service.prefecture.aggregate import CSV_HEADER, ActionFact, DrillFact, aggregate, to_csv

NOW = datetime(2026, 11, 24, 0, 0, tzinfo=timezone.utc)
TODAY = date(2026, 11, 24)
REGIONS = [("1301", "区中央部"), ("1302", "区南部")]


def run(**kw):
    return {r.code: r for r in aggregate(REGIONS, now=NOW, today=TODAY, **kw)}


def test_plans_are_counted_by_type_and_state_per_region():
    out = run(plans=[("1301", "kikan", "draft"), ("1301", "kikan", "approved"), ("1301", "kikan", "approved"),
                     ("1302", "chiiki", "in_review"), ("9999", "kikan", "draft")])
    assert out["1301"].plans["kikan"] == {"draft": 1, "in_review": 0, "approved": 2}
    assert out["1302"].plans["chiiki"]["in_review"] == 1
    assert "9999" not in out


def test_patients_are_counted_by_tier():
    out = run(patients=[("1301", "red"), ("1301", "red"), ("1301", "green"), ("1302", "yellow")])
    assert out["1301"].patients_by_tier == {"red": 2, "yellow": 0, "green": 1}
    assert out["1301"].as_dict()["patients_total"] == 3


def test_only_completed_drills_of_the_last_twelve_months_count_and_median_skips_unreached():
    drills = [
        DrillFact("1301", NOW - timedelta(days=10), "completed", 40.0),
        DrillFact("1301", NOW - timedelta(days=100), "completed", 20.0),
        DrillFact("1301", NOW - timedelta(days=200), "completed", None),       # tabletop / 100% not reached
        DrillFact("1301", NOW - timedelta(days=400), "completed", 5.0),        # too old
        DrillFact("1301", NOW - timedelta(days=5), "cancelled", 1.0),
        DrillFact("1301", None, "scheduled", None),
    ]
    r = run(drills=drills)["1301"]
    assert r.drills_held == 3
    assert r.median_checkin_minutes == 30.0
    assert run()["1302"].median_checkin_minutes is None


def test_open_and_overdue_actions_exclude_closed_ones():
    actions = [ActionFact("1301", "open", TODAY), ActionFact("1301", "in_progress", TODAY - timedelta(days=1)),
               ActionFact("1301", "done", TODAY - timedelta(days=30)), ActionFact("1302", "cancelled", TODAY)]
    out = run(actions=actions)
    assert (out["1301"].corrective_actions_open, out["1301"].corrective_actions_overdue) == (2, 1)
    assert out["1302"].corrective_actions_open == 0


def test_csv_has_bom_header_and_one_row_per_region():
    text = to_csv(list(run(patients=[("1302", "red")]).values()))
    assert text.startswith("\ufeff")
    rows = list(csv.reader(io.StringIO(text.lstrip("\ufeff"))))
    assert rows[0] == CSV_HEADER
    assert [r[1] for r in rows[1:]] == ["区中央部", "区南部"]
    assert rows[2][CSV_HEADER.index("patients_red")] == "1"
