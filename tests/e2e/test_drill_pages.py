"""Drill pages over HTTP with a signed-in session (forms carry CSRF tokens)."""
from __future__ import annotations

import re
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from tests.conftest import csrf_from

JST = ZoneInfo("Asia/Tokyo")


@pytest.fixture
def signed_in(client, make_region, make_org, make_user, login):
    make_region("1301")
    clinic = make_org(name="試験クリニック", kind="clinic")
    hub = make_user("hub_staff")
    login(hub)
    return {"clinic": clinic, "hub": hub}


def _new_form(client, **fields):
    token = csrf_from(client.get("/drills/new").get_data(as_text=True))
    data = {"csrf_token": token, "title": "試験 図上訓練", "scenario": "earthquake_shindo6plus", "mode": "tabletop",
            "scheduled_at": "2026-12-23T14:00", "duration_minutes": "120", "region_code": "1301", **fields}
    return client.post("/drills/new", data=data)


def test_create_from_the_form_then_see_it_on_the_calendar(client, signed_in):
    r = _new_form(client, participant_org_ids=str(signed_in["clinic"].id))
    assert r.status_code == 302
    detail = client.get(r.headers["Location"]).get_data(as_text=True)
    assert "試験 図上訓練" in detail and "試験クリニック" in detail
    cal = client.get("/drills?month=2026-12").get_data(as_text=True)
    assert "14:00 試験 図上訓練" in cal
    assert "2026年12月" in cal


def test_form_errors_are_shown_in_japanese_and_nothing_is_created(client, signed_in):
    r = _new_form(client, scenario="no_such", scheduled_at="2020-01-01T10:00")
    assert r.status_code == 400
    html = r.get_data(as_text=True)
    assert "入力内容を確認してください" in html and "過去の日時は指定できません" in html
    assert "試験 図上訓練" not in client.get("/drills?month=2026-12").get_data(as_text=True)


def test_holiday_warning_is_flashed_after_booking(client, signed_in):
    r = _new_form(client, scheduled_at="2027-01-11T10:00")
    page = client.get(r.headers["Location"]).get_data(as_text=True)
    assert "成人の日" in page


def test_evaluation_form_rejects_an_invalid_rating_and_records_a_valid_one(client, signed_in):
    r = _new_form(client, participant_org_ids=str(signed_in["clinic"].id))
    drill_id = int(re.search(r"/drills/(\d+)", r.headers["Location"]).group(1))
    detail = client.get(f"/drills/{drill_id}").get_data(as_text=True)
    client.post(f"/drills/{drill_id}/start", data={"csrf_token": csrf_from(detail)})
    form = client.get(f"/drills/{drill_id}/evaluate").get_data(as_text=True)
    objective = re.search(r"<option>([^<]+)</option>", form).group(1)
    bad = client.post(f"/drills/{drill_id}/evaluate", data={"csrf_token": csrf_from(form), "objective": objective,
                                                          "rating": "Z"})
    assert bad.status_code == 400 and "P, S, M, U のいずれかです" in bad.get_data(as_text=True)
    ok = client.post(f"/drills/{drill_id}/evaluate", data={
        "csrf_token": csrf_from(form), "objective": objective, "rating": "S", "strengths": "参集が早かった",
        "action_title": "参集ルールを見直す", "owner_org_id": str(signed_in["clinic"].id), "due": "2027-03-31",
        "element": "training"})
    assert ok.status_code == 302
    page = client.get(f"/drills/{drill_id}").get_data(as_text=True)
    assert "S（一部課題あり）" in page and "参集ルールを見直す" in page and "教育・研修" in page


def test_form_posts_without_csrf_are_refused(client, signed_in):
    r = client.post("/drills/new", data={"title": "x"})
    assert r.status_code == 400


def test_summary_written_on_the_page_appears_in_the_report(client, signed_in):
    r = _new_form(client, participant_org_ids=str(signed_in["clinic"].id))
    drill_id = int(re.search(r"/drills/(\d+)", r.headers["Location"]).group(1))
    detail = client.get(f"/drills/{drill_id}").get_data(as_text=True)
    client.post(f"/drills/{drill_id}/start", data={"csrf_token": csrf_from(detail)})
    detail = client.get(f"/drills/{drill_id}").get_data(as_text=True)
    r = client.post(f"/drills/{drill_id}/summary", data={"csrf_token": csrf_from(detail),
                                                         "summary": "連絡網は機能したが夜間体制に課題"})
    assert r.status_code == 302
    report = client.get(f"/drills/{drill_id}/report").get_data(as_text=True)
    assert "連絡網は機能したが夜間体制に課題" in report


def test_corrective_action_is_closed_from_the_drill_page(client, signed_in):
    r = _new_form(client, participant_org_ids=str(signed_in["clinic"].id))
    drill_id = int(re.search(r"/drills/(\d+)", r.headers["Location"]).group(1))
    detail = client.get(f"/drills/{drill_id}").get_data(as_text=True)
    client.post(f"/drills/{drill_id}/start", data={"csrf_token": csrf_from(detail)})
    form = client.get(f"/drills/{drill_id}/evaluate").get_data(as_text=True)
    objective = re.search(r"<option>([^<]+)</option>", form).group(1)
    r = client.post(f"/drills/{drill_id}/evaluate", data={
        "csrf_token": csrf_from(form), "objective": objective, "rating": "M",
        "action_title": "参集ルールを見直す", "owner_org_id": str(signed_in["clinic"].id), "due": "2027-03-31"})
    assert r.status_code == 302
    assert r.headers["Location"].endswith(f"/drills/{drill_id}")
    detail = client.get(f"/drills/{drill_id}").get_data(as_text=True)
    action_id = re.search(r"/drills/actions/(\d+)/status", detail).group(1)
    r = client.post(f"/drills/actions/{action_id}/status", data={"csrf_token": csrf_from(detail), "status": "done"})
    assert r.status_code == 302
    page = client.get(f"/drills/{drill_id}").get_data(as_text=True)
    assert "完了" in page and f"/drills/actions/{action_id}/status" not in page
