"""Drive the plan wizard in a browser: fill every required field of every section through the DOM."""
from __future__ import annotations

import re

from playwright.sync_api import expect

from bcp_service.plans.templates import Template

TEXT = {"text": "試験の記入", "long_text": "試験の記入内容です。", "date": "2027-05-31"}


def fill_section(page, section) -> None:
    for f in section.fields:
        if not f.required:
            continue
        box = page.locator(f'.field[data-key="{f.key}"]')
        if f.type in ("text", "long_text", "date"):
            el = box.locator("input, textarea").first
            if not el.input_value():      # keep what the person already wrote
                el.fill(TEXT[f.type])
        elif f.type == "number":
            box.locator("input").fill(str(int(f.min or 1)))
        elif f.type == "choice":
            box.locator("select").select_option(index=1)
        elif f.type == "checklist":
            box.locator("input[type=checkbox]").first.check()
        elif f.type in ("table", "contact_list"):
            if f.type == "contact_list":
                # auto-filled staff rows may lack a phone: give the first row one
                if box.locator("tbody tr").count() == 0:
                    box.get_by_role("button", name="＋ 行を追加").click()
                row = box.locator("tbody tr").first
                row.locator('[data-col="name"]').fill("試験 太郎")
                row.locator('[data-col="phone"]').fill("090-0000-0001")
            elif box.locator("tbody tr").count() == 0:
                box.get_by_role("button", name="＋ 行を追加").click()
                cell = box.locator("tbody tr").first.locator("[data-col]").first
                if cell.evaluate("e => e.tagName") == "SELECT":
                    cell.select_option(index=1)
                elif cell.get_attribute("data-coltype") == "number":
                    cell.fill("1")
                else:
                    cell.fill("試験の行")


def fill_plan(page, base_url: str, plan_id: int, template: Template) -> None:
    """Open each section, fill it, and move on with 保存して次へ (the last one autosaves)."""
    page.goto(f"{base_url}/plans/{plan_id}/sections/{template.sections[0].key}")
    for i, section in enumerate(template.sections):
        assert page.locator("h1").inner_text() == section.title
        fill_section(page, section)
        if i + 1 < len(template.sections):
            page.get_by_role("link", name="保存して次へ →").click()
            page.wait_for_url(re.compile(f"/sections/{template.sections[i + 1].key}$"))
        elif any(f.required for f in section.fields):   # (a clinic's last section may have none)
            expect(page.locator("#save-state")).to_have_text(re.compile("^保存しました"))
