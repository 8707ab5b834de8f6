"""Headless chromium journeys: the facilitator runs a tabletop drill; a prefecture reviewer reads
the aggregate page."""
from __future__ import annotations

from datetime import timedelta

import pytest

from bcp_service.auth.roles import Actor, Role
from bcp_service.drills import booking
from bcp_service.drills.models import Drill
from bcp_service.drills.scenarios import load_library

pytestmark = pytest.mark.browser


def test_facilitator_runs_injects_and_logs_the_three_questions(page, live_server, browser_login, session, clock,
                                                               make_region, make_org, make_user, tmp_path):
    make_region("1301")
    clinic = make_org(name="試験クリニック", kind="clinic")
    hub = make_user("hub_staff")
    data = {"title": "机上訓練（大規模停電）", "scenario": "blackout_72h", "mode": "tabletop",
            "scheduled_at": clock.now() + timedelta(days=1), "duration_minutes": 120, "region_code": "1301",
            "participant_org_ids": [clinic.id], "participants": [], "plan_ids": [], "objectives": []}
    drill, _ = booking.create_drill(session, Actor(hub.id, Role.HUB_STAFF, "1301"), data, now=clock.now(),
                                     library=load_library())
    session.commit()

    browser_login(hub)
    page.goto(f"{live_server}/drills/{drill.id}")
    page.get_by_role("button", name="訓練を開始する").click()
    page.wait_for_load_state()
    assert page.locator("#inject-title").inner_text() == "圏域全域で停電発生"
    for label in ["1. 組織として何をするか", "2. 各自は何をするか", "3. 患者の療養をどう継続するか"]:
        assert page.get_by_label(label).is_visible()
    page.get_by_label("回答した機関").select_option(label="試験クリニック")
    page.get_by_label("1. 組織として何をするか").fill("災害対策本部を立ち上げ、連絡網を起動する")
    page.get_by_label("3. 患者の療養をどう継続するか").fill("自立電源の短い順に安否確認する")
    page.get_by_role("button", name="回答を記録する（時刻つき）").click()
    page.wait_for_load_state()
    answers = page.locator("#answers").inner_text()
    assert "【組織として何をするか】災害対策本部を立ち上げ" in answers
    assert "【患者の療養をどう継続するか】自立電源の短い順" in answers
    page.get_by_role("button", name="次の状況付与へ →").click()
    page.wait_for_load_state()
    assert page.locator("#inject-position").inner_text() == "2"
    assert page.locator("#inject-title").inner_text() == "外部バッテリー残量低下の報告"
    page.screenshot(path=str(tmp_path / "console.png"), full_page=True)

    session.expire_all()
    entries = session.get(Drill, drill.id).log_entries
    answered = [(e.question, e.organization_id, e.inject_id) for e in entries if e.kind == "answer"]
    assert answered == [("organization", clinic.id, "outage_begins"), ("patient_care", clinic.id, "outage_begins")]


def test_reviewer_sees_region_charts_and_downloads_csv(page, live_server, browser_login, make_region, make_user,
                                                       tmp_path):
    make_region("1301")
    make_region("1302", name="区南部")
    reviewer = make_user("prefecture_reviewer", scope="13")
    browser_login(reviewer)
    page.get_by_role("link", name="都道府県集計").first.click()
    page.wait_for_load_state()
    assert "都道府県集計" in page.locator("h1").inner_text()
    for chart in ["#chart-patients", "#chart-plans", "#chart-drills", "#chart-actions"]:
        assert page.locator(chart).is_visible()
    rows = page.locator("#region-table tbody tr")
    assert rows.count() == 2 and "区南部（1302）" in rows.nth(1).inner_text()
    with page.expect_download() as info:
        page.get_by_role("link", name="CSV をダウンロード").click()
    path = info.value.path()
    assert open(path, encoding="utf-8-sig").readline().startswith("region_code,region_name")
    page.screenshot(path=str(tmp_path / "prefecture.png"), full_page=True)
