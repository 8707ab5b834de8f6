"""Benchmark: how long a minimal 機関型 plan takes end to end, and what auto-fill costs.

1. Template size: sections, fields and required fields per type and version.
2. Scripted API walkthrough of a minimal 機関型 plan (create → every required field, one PUT per
   section → submit → approve by a second person → DOCX), on a fresh migrated SQLite database.
3. The same walkthrough in headless chromium through the wizard pages (typing into the fields,
   autosave, 保存して次へ), when chromium is installed.
4. Auto-fill of the patient priority table for a clinic with 300 registered patients (in a 圏域 of
   3,000): the service's query (filtered by organisation, devices/backups loaded in batches) against
   a naive baseline in the same process (load the whole 圏域, filter in Python, lazy-load devices
   and backups one patient at a time).

Run: .venv/bin/python benchmarks/plans_walkthrough.py [--no-browser]  → benchmarks/results/plans.md
"""
from __future__ import annotations

import argparse
import os
import random
import re
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("BCP_ENV", "test")

RESULTS = ROOT / "benchmarks" / "results" / "plans.md"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
PASSWORD = "bench-password-123"


def template_table() -> list[str]:
    from bcp_service.plans.templates import TYPE_LABELS, TemplateLibrary

    lib = TemplateLibrary.load()
    lines = ["| type | template | sections | fields | required | auto-fill bindings |", "|---|---:|---:|---:|---:|---:|"]
    for t in lib.types():
        for v in lib.versions(t):
            tpl = lib.get(t, v)
            bindings = sum(1 for s in tpl.sections for f in s.fields if f.binding)
            current = " (current)" if v == lib.current(t).version else ""
            lines.append(f"| {TYPE_LABELS[t]} `{t}` | v{v}{current} | {len(tpl.sections)} | {tpl.field_count} | "
                         f"{tpl.required_count} | {bindings} |")
    return lines


def fresh_app(tmp: Path, name: str):
    from bcp_service.app import create_app
    from bcp_service.migrate import upgrade

    url = f"sqlite:///{tmp / name}"
    upgrade(url)
    return create_app({"DATABASE_URL": url, "TESTING": True, "WTF_CSRF_ENABLED": True})


def seed_people(app):
    from bcp_service.auth import services as auth_services
    from bcp_service.appclock import get_clock
    from bcp_service.db import db
    from bcp_service.orgs.models import Organization, Region

    with app.app_context():
        now = get_clock().now()
        db.session.add(Region(code="1301", name="区中央部", prefecture_code="13", kind="secondary_medical_area",
                              municipality_codes=[], created_at=now))
        clinic = Organization(name="試験在宅クリニック", kind="clinic", region_code="1301", created_at=now)
        db.session.add(clinic)
        db.session.flush()
        doctor = auth_services.create_user(db.session, email="dr@example.invalid", password=PASSWORD,
                                           role="institution_staff", scope="1301", organization_id=clinic.id,
                                           display_name="試験 太郎")
        doctor.phone_e164 = "+819000000001"
        hub = auth_services.create_user(db.session, email="hub@example.invalid", password=PASSWORD,
                                        role="hub_staff", scope="1301", display_name="試験 拠点")
        tokens = (auth_services.issue_token(db.session, doctor), auth_services.issue_token(db.session, hub))
        db.session.commit()
        return clinic.id, tokens


def api_walkthrough(tmp: Path, run: int) -> tuple[float, int]:
    from bcp_service.plans.templates import TemplateLibrary

    sys.path.insert(0, str(ROOT / "tests" / "integration"))
    from plan_helpers import minimal_answers  # noqa: E402  (the same minimal answers the tests use)

    app = fresh_app(tmp, f"api{run}.sqlite")
    clinic_id, (doctor, hub) = seed_people(app)
    client = app.test_client()
    hd, hh = {"Authorization": f"Bearer {doctor}"}, {"Authorization": f"Bearer {hub}"}
    requests = 0
    t0 = time.perf_counter()
    r = client.post("/api/v1/plans", json={"type": "kikan", "title": "試験クリニック 機関型BCP",
                                           "organization_id": clinic_id}, headers=hd)
    requests += 1
    plan = r.get_json()
    missing = {s["key"]: set(s["missing"]) for s in plan["sections"]}
    for section, answers in minimal_answers(TemplateLibrary.load().current("kikan")).items():
        todo = {k: v for k, v in answers.items() if k in missing[section]}
        if todo:
            assert client.put(f"/api/v1/plans/{plan['id']}/sections/{section}", json={"answers": todo},
                              headers=hd).status_code == 200
            requests += 1
    assert client.post(f"/api/v1/plans/{plan['id']}/submit", headers=hd).status_code == 200
    assert client.post(f"/api/v1/plans/{plan['id']}/approve", headers=hh).status_code == 200
    docx = client.get(f"/api/v1/plans/{plan['id']}/export?format=docx", headers=hd)
    assert docx.status_code == 200 and len(docx.data) > 10_000
    requests += 3
    return time.perf_counter() - t0, requests


def browser_walkthrough(tmp: Path, run: int) -> float | None:
    if not Path(CHROMIUM).exists():
        return None
    from playwright.sync_api import sync_playwright
    from werkzeug.serving import make_server

    from bcp_service.plans.templates import TemplateLibrary
    from tests.e2e.plan_wizard import fill_plan

    app = fresh_app(tmp, f"web{run}.sqlite")
    seed_people(app)
    server = make_server("127.0.0.1", 0, app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_port}"
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
            page = browser.new_context(locale="ja-JP").new_page()
            page.set_default_timeout(15_000)
            t0 = time.perf_counter()
            for email, then in (("dr@example.invalid", "write"), ("hub@example.invalid", "approve")):
                page.goto(f"{base}/login")
                page.get_by_label("メールアドレス").fill(email)
                page.get_by_label("パスワード").fill(PASSWORD)
                page.get_by_role("button", name="ログイン").click()
                page.wait_for_load_state()
                if then == "write":
                    page.goto(f"{base}/plans")
                    page.get_by_label("計画名").fill("試験クリニック 機関型BCP")
                    page.get_by_role("button", name="作成して書き始める").click()
                    page.wait_for_url(re.compile(r"/plans/\d+$"))
                    plan_id = int(page.url.rsplit("/", 1)[1])
                    fill_plan(page, base, plan_id, TemplateLibrary.load().current("kikan"))
                    page.goto(f"{base}/plans/{plan_id}")
                    page.get_by_role("button", name="提出する").click()
                    page.wait_for_load_state()
                    page.get_by_role("button", name="ログアウト").click()
                    page.wait_for_load_state()
                else:
                    page.goto(f"{base}/plans/{plan_id}")
                    page.get_by_role("button", name="承認する").click()
                    page.wait_for_load_state()
                    with page.expect_download():
                        page.get_by_role("link", name="Word（DOCX）").click()
            elapsed = time.perf_counter() - t0
            assert "承認済み" in page.content()
            browser.close()
            return elapsed
    finally:
        server.shutdown()


def autofill_bench(tmp: Path, repeats: int = 7) -> dict:
    from sqlalchemy import select
    from sqlalchemy.orm import lazyload

    from bcp_service.appclock import get_clock
    from bcp_service.db import db
    from bcp_service.orgs.models import Organization
    from bcp_service.plans import bindings
    from bcp_service.plans.export import PlanDoc, to_docx
    from bcp_service.plans.templates import TemplateLibrary
    from bcp_service.registry import models as reg

    app = fresh_app(tmp, "autofill.sqlite")
    clinic_id, _ = seed_people(app)
    rng = random.Random(6)
    with app.app_context():
        now = get_clock().now()
        others = [Organization(name=f"試験診療所{i}", kind="clinic", region_code="1301", created_at=now) for i in range(9)]
        db.session.add_all(others)
        db.session.flush()
        org_ids = [clinic_id] + [o.id for o in others]
        for i in range(3000):
            vent = rng.random() < 0.3
            p = reg.Patient(name=f"試験 患者{i}", phone_e164=f"+8190{i:08d}", phone_kind="mobile", region_code="1301",
                            primary_org_id=org_ids[i % 10], runway_hours=round(rng.uniform(0, 72), 1),
                            runway_tier=rng.choice(["red", "yellow", "green"]), runway_explain="", created_at=now,
                            updated_at=now, consent_scope=[], status="active", evacuation_plan_status="none")
            p.devices = [reg.PatientDevice(kind="ventilator" if vent else "oxygen_concentrator",
                                           mode="TPPV" if vent else None, position=0)]
            p.backups = [reg.PatientBackup(kind="external_battery", count=2, hours=8, position=0)]
            db.session.add(p)
        db.session.commit()

        class _Plan:
            organization_id = clinic_id
            region_code = "1301"

        def ours():
            db.session.expunge_all()
            return bindings.priority_patients(db.session, _Plan()).rows

        def naive():
            # what a first version would do: the whole 圏域, filtered in Python, devices and backups
            # fetched one patient at a time
            db.session.expunge_all()
            P = reg.Patient
            everyone = db.session.scalars(select(P).options(lazyload(P.devices), lazyload(P.backups))
                                          .where(P.region_code == "1301")).all()
            mine = [p for p in everyone if clinic_id in (p.primary_org_id, p.nursing_org_id)
                    and p.status == "active" and p.deleted_at is None]
            rows = []
            for p in mine:
                kinds = [d.kind for d in p.devices]
                rows.append((0 if "ventilator" in kinds else 1, p.runway_hours, p.id, p.name, len(p.backups)))
            return sorted(rows)

        def timed(fn):
            out = []
            for _ in range(repeats):
                t0 = time.perf_counter()
                result = fn()
                out.append(time.perf_counter() - t0)
            return statistics.median(out), result

        t_ours, rows = timed(ours)
        t_naive, naive_rows = timed(naive)
        assert [r["name"] for r in rows] == [r[3] for r in naive_rows], "naive and service disagree on the order"
        template = TemplateLibrary.load().current("kikan")
        doc = PlanDoc(template=template, answers={"patient_priority": {"priority_patients": rows}},
                      title="試験クリニック 機関型BCP", owner="試験在宅クリニック", version_number=1, status="draft",
                      created_at=now)
        t_docx, data = timed(lambda: to_docx(doc))
        return {"rows": len(rows), "ours": t_ours, "naive": t_naive, "docx": t_docx, "docx_bytes": len(data)}


def solo_clinic_walkthrough(tmp: Path) -> dict:
    """A one-doctor clinic (3 registered patients, one designated facility) through the real API: the same
    clinic's 機関型 plan on the old template (v2, every required field applies) and on the current one
    (the solo-clinic path). Screens = wizard sections; "to write" = sections with a required field still empty
    after auto-fill; pre-filled = required fields auto-fill already answered."""
    from bcp_service.appclock import get_clock
    from bcp_service.db import db
    from bcp_service.orgs.models import Organization
    from bcp_service.plans.models import Plan
    from bcp_service.registry.models import Patient, PatientDevice

    app = fresh_app(tmp, "solo.sqlite")
    clinic_id, (doctor, _hub) = seed_people(app)
    with app.app_context():
        now = get_clock().now()
        hospital = Organization(name="試験総合病院", kind="hospital", region_code="1301", has_generator=True,
                                accepts_ventilator=True, ventilator_beds=4, created_at=now)
        db.session.add(hospital)
        db.session.flush()
        for i, (tier, kind, need) in enumerate((("red", "ventilator", "stretcher"), ("yellow", "oxygen_concentrator",
                                                 "wheelchair"), ("green", "suction", "ambulatory")), start=1):
            p = Patient(name=f"試験 患者{i}", phone_e164=f"+8190000004{i:02d}", phone_kind="mobile", region_code="1301",
                        primary_org_id=clinic_id, runway_hours=5.0 * i, runway_tier=tier, runway_explain="",
                        created_at=now, updated_at=now, consent_scope=[], status="active",
                        evacuation_plan_status="none", transport_needs=need, designated_facility_id=hospital.id)
            p.devices = [PatientDevice(kind=kind, position=0)]
            db.session.add(p)
        db.session.commit()
    client = app.test_client()
    hd = {"Authorization": f"Bearer {doctor}"}
    out = {}
    created = client.post("/api/v1/plans", json={"type": "kikan", "title": "試験クリニック 機関型BCP",
                                                 "organization_id": clinic_id}, headers=hd).get_json()
    for label, template_version in (("after (kikan v3, solo-clinic path)", None), ("before (kikan v2, all required)", 2)):
        plan = created
        if template_version is not None:
            with app.app_context():   # the same clinic's plan on the old template, auto-filled as it was then
                version = db.session.get(Plan, plan["id"]).versions[0]
                version.template_version = template_version
                version.answers[:] = []
                db.session.commit()
            assert client.post(f"/api/v1/plans/{plan['id']}/autofill", json={}, headers=hd).status_code == 200
            plan = client.get(f"/api/v1/plans/{plan['id']}", headers=hd).get_json()
        sections = plan["sections"]
        required = sum(s["required"] for s in sections)
        prefilled = sum(s["filled"] for s in sections)
        out[label] = {"template": plan["template_version"], "screens": len(sections),
                      "screens_to_write": sum(1 for s in sections if s["missing"]), "required": required,
                      "prefilled": prefilled, "to_write": required - prefilled}
        with app.app_context():
            from bcp_service.plans.templates import TemplateLibrary
            t = TemplateLibrary.load().get("kikan", plan["template_version"])
            out[label]["fields"] = t.field_count
            out[label]["prefilled_any"] = sum(len(v) for v in plan["answers"].values())
    return out


def solo_lines(solo: dict) -> list[str]:
    lines = ["### Solo clinic (one doctor, kind `clinic`): before and after issue 16", "",
             "| | template | screens | screens with something to write | fields | required | required pre-filled | "
             "required left to write | answers pre-filled (any) |", "|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for label, r in sorted(solo.items(), reverse=True):   # before, then after
        lines.append(f"| {label} | v{r['template']} | {r['screens']} | {r['screens_to_write']} | {r['fields']} | "
                     f"{r['required']} | {r['prefilled']} | {r['to_write']} | {r['prefilled_any']} |")
    return lines + [""]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--no-browser", action="store_true")
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--solo-only", action="store_true", help="only the solo-clinic before/after table (small)")
    args = ap.parse_args()
    if args.solo_only:
        with tempfile.TemporaryDirectory() as d:
            lines = solo_lines(solo_clinic_walkthrough(Path(d)))
        print("\n".join(lines))
        text = RESULTS.read_text(encoding="utf-8") if RESULTS.exists() else ""
        marker = "<!-- /plans-walkthrough -->"
        block = "<!-- plans-solo-clinic -->\n" + "\n".join(lines) + "<!-- /plans-solo-clinic -->\n"
        if "<!-- plans-solo-clinic -->" in text:
            text = text[:text.index("<!-- plans-solo-clinic -->")] + block + text[text.index("<!-- /plans-solo-clinic -->")
                                                                              + len("<!-- /plans-solo-clinic -->\n"):]
        elif marker in text:
            text = text.replace(marker, block + marker)
        else:
            text += block
        RESULTS.write_text(text, encoding="utf-8")
        return
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        api = [api_walkthrough(tmp, i) for i in range(args.runs)]
        web = [] if args.no_browser else [browser_walkthrough(tmp, i) for i in range(3)]
        web = [w for w in web if w is not None]
        fill = autofill_bench(tmp)
        solo = solo_clinic_walkthrough(tmp)
    api_med = statistics.median(t for t, _ in api)
    from bcp_service.plans.templates import TemplateLibrary

    kikan = TemplateLibrary.load().current("kikan")
    free_text = sum(1 for s in kikan.sections for f in s.fields if f.required and f.type in ("text", "long_text"))
    lines = ["<!-- plans-walkthrough -->", "## Plans — template size, minimal 機関型 walkthrough, auto-fill", "",
             *template_table(), "",
             f"- Scripted API walkthrough of a minimal 機関型 plan (create with auto-fill → {api[0][1] - 4} section "
             f"saves → submit → approve by a second person → DOCX, {api[0][1]} requests): median **{api_med * 1000:.0f} ms** "
             f"over {len(api)} runs on SQLite."]
    if web:
        lines.append(f"- The same walkthrough in headless chromium through the wizard (typing every required field, "
                     f"autosave, 保存して次へ through all sections, submit, sign out, approve, download DOCX): "
                     f"median **{statistics.median(web):.1f} s** over {len(web)} runs (all runs: "
                     + ", ".join(f"{w:.1f} s" for w in web) + ").")
    else:
        lines.append("- Browser walkthrough: not run (chromium missing or --no-browser).")
    lines += [
        f"- For a person: the minimal 機関型 plan is {kikan.required_count} required fields in {len(kikan.sections)} "
        f"sections, {free_text} of them free text. Human writing time was not measured here; the machine times above "
        "are the floor the software adds.",
        f"- Auto-fill of the patient priority table, clinic with {fill['rows']} patients in a 圏域 of 3,000 "
        f"(median of 7): service **{fill['ours'] * 1000:.1f} ms**, naive baseline (whole 圏域 + per-patient "
        f"lazy loads) **{fill['naive'] * 1000:.1f} ms**, ratio naive / service **{fill['naive'] / fill['ours']:.1f}×**; "
        "same order of patients in both.",
        f"- DOCX export with that {fill['rows']}-row table: median **{fill['docx'] * 1000:.0f} ms**, "
        f"{fill['docx_bytes'] // 1024} KiB.",
        "", "<!-- plans-solo-clinic -->", *solo_lines(solo), "<!-- /plans-solo-clinic -->",
        "Run: `.venv/bin/python benchmarks/plans_walkthrough.py` (add `--no-browser` without chromium; "
        "`--solo-only` for the solo-clinic table alone).",
        "<!-- /plans-walkthrough -->", ""]
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text("\n".join(lines), encoding="utf-8")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
