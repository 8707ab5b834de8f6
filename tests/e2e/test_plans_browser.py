"""Headless chromium: a clinic doctor writes a 機関型 plan through the wizard (autosave, progress),
submits it; 拠点 staff approve it and download the DOCX."""
from __future__ import annotations

import io
import re

import pytest
from playwright.sync_api import expect
from docx import Document
from sqlalchemy import select

from bcp_service.plans import versions
from bcp_service.plans.models import Plan

from .plan_wizard import fill_plan

pytestmark = pytest.mark.browser


def test_doctor_writes_kikan_plan_in_wizard_and_hub_approves_and_downloads_docx(
        page, live_server, browser_login, session, make_region, make_org, make_user, tmp_path):
    make_region("1301")
    clinic = make_org(name="試験在宅クリニック", kind="clinic")
    doctor = make_user("institution_staff", organization=clinic)
    hub = make_user("hub_staff")

    browser_login(doctor)
    page.goto(f"{live_server}/plans")
    page.get_by_label("計画名").fill("試験在宅クリニック 機関型BCP")
    page.get_by_role("button", name="作成して書き始める").click()
    page.wait_for_url(re.compile(r"/plans/\d+$"))
    plan_id = int(page.url.rsplit("/", 1)[1])
    assert page.locator("#overall").inner_text() == "0%"

    # one field, then wait for autosave: the progress bars move without leaving the page
    page.get_by_role("link", name="基本方針と推進体制").click()
    page.locator('.field[data-key="leader"] input').fill("院長 試験 太郎")
    expect(page.locator("#save-state")).to_have_text(re.compile("^保存しました"))
    assert page.locator("#section-pct").inner_text() == "33%"   # a clinic: leader, deputy, staff contacts
    assert page.locator("#overall-pct").inner_text() != "0%"
    # a wrong value is shown beside the field and not saved
    page.get_by_role("link", name="目次へ").click()
    page.wait_for_url(re.compile(rf"/plans/{plan_id}$"))
    page.goto(f"{live_server}/plans/{plan_id}/sections/training")
    page.locator('.field[data-key="drills_per_year"] input').fill("99")
    expect(page.locator("#save-state")).to_have_text(re.compile("^保存できませんでした"))
    assert "12回以下" in page.locator('[data-errors-for="drills_per_year"]').inner_text()

    session.expire_all()
    template = versions.template_of(session.get(Plan, plan_id), versions.current_version(session.get(Plan, plan_id)))
    fill_plan(page, live_server, plan_id, template)
    page.goto(f"{live_server}/plans/{plan_id}")
    assert page.locator("#overall").inner_text() == "100%"
    page.get_by_role("button", name="提出する").click()
    page.wait_for_load_state()
    assert "提出しました" in page.content()

    page.get_by_role("button", name="ログアウト").click()
    browser_login(hub)
    page.goto(f"{live_server}/plans/{plan_id}")
    page.get_by_role("button", name="承認する").click()
    page.wait_for_load_state()
    assert "承認しました" in page.content()
    with page.expect_download() as info:
        page.get_by_role("link", name="Word（DOCX）").click()
    path = tmp_path / "plan.docx"
    info.value.save_as(path)
    doc = Document(str(path))
    cover = {r.cells[0].text: r.cells[1].text for r in doc.tables[0].rows}
    assert cover["状態"] == "承認済み" and cover["版"] == "第1版"
    assert "患者・家族への指導" in [p.text for p in doc.paragraphs if p.style.name.startswith("Heading")]

    session.expire_all()
    plan = session.scalars(select(Plan).where(Plan.id == plan_id)).one()
    assert plan.status == "approved" and plan.review_due_on is not None
    assert versions.answers_of(versions.current_version(plan))["policy"]["leader"] == "院長 試験 太郎"
