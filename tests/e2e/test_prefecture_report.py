"""Prefecture review: aggregates per region, and no personal data in JSON, HTML or CSV."""
from __future__ import annotations

import csv
import io
from datetime import timedelta

import pytest

from tests.e2e.drill_helpers import drill_body, later, make_plan

NAMES = ["試験 花子", "試験 次郎", "シケン ハナコ"]
PHONES = ["090-0000-1234", "080-0000-5678"]
PHONE_DIGITS = ["09000001234", "08000005678", "+819000001234", "+818000005678", "0000-1234", "0000-5678"]


def patient_body(name, kana, phone, org_id, *, battery_hours):
    return {"name": name, "name_kana": kana, "birth_date": "1950-04-01", "phone": phone,
            "address": "東京都千代田区試験町1-2-3", "municipality_code": "131016", "lat": 35.69, "lon": 139.75,
            "region_code": "1301", "primary_org_id": org_id, "consent_to_share": True, "drill_opt_in": True,
            "devices": [{"kind": "ventilator", "mode": "TPPV", "watts": 30, "hours_per_day": 24,
                         "internal_battery_hours": battery_hours}],
            "backups": [], "contacts": [{"name": "試験 家族", "relation": "長男", "phone": "090-0000-9999"}]}


@pytest.fixture
def seeded(client, make_region, make_org, make_user, auth_headers, session, clock):
    make_region("1301")
    make_region("1302", name="区南部")
    make_region("1401", name="他県の圏域", prefecture_code="14")
    clinic = make_org(name="試験クリニック", kind="clinic")
    hub = make_user("hub_staff")
    h = auth_headers(hub)
    for (name, kana, phone, hours) in [(NAMES[0], NAMES[2], PHONES[0], 2), (NAMES[1], "シケン ジロウ", PHONES[1], 30)]:
        r = client.post("/api/v1/patients", json=patient_body(name, kana, phone, clinic.id, battery_hours=hours),
                        headers=h)
        assert r.status_code == 201, r.get_json()
    make_plan(session, clock, plan_type="kikan", status="approved")
    make_plan(session, clock, plan_type="chiiki", status="draft", title="区中央部 地域BCP")
    # A completed tabletop drill with one overdue corrective action.
    d = client.post("/api/v1/drills", json=drill_body([clinic], when=later(clock, hours=2)), headers=h).get_json()
    clock.advance(hours=2)
    client.post(f"/api/v1/drills/{d['id']}/start", headers=h)
    client.post(f"/api/v1/drills/{d['id']}/evaluations", headers=h, json={
        "objective": "搬送の調整ができる", "rating": "M",
        "corrective_actions": [{"title": "試験 花子さん宅の搬送経路を確認", "owner_org_id": clinic.id,
                                "due": (clock.now() - timedelta(days=1)).date().isoformat()}]})
    client.post(f"/api/v1/drills/{d['id']}/finish", headers=h)
    reviewer = make_user("prefecture_reviewer", scope="13")
    return {"h": auth_headers(reviewer), "hub_h": h, "reviewer": reviewer, "make_user": make_user,
            "auth_headers": auth_headers}


def no_personal_data(text: str) -> None:
    for needle in NAMES + PHONE_DIGITS + PHONES + ["試験 家族", "試験町", "1950-04-01"]:
        assert needle not in text, f"personal data leaked: {needle}"


def test_json_aggregates_per_region(client, seeded):
    r = client.get("/api/v1/reports/prefecture/13", headers=seeded["h"])
    assert r.status_code == 200
    body = r.get_json()
    regions = {x["region_code"]: x for x in body["regions"]}
    assert set(regions) == {"1301", "1302"}           # 1401 belongs to prefecture 14
    c = regions["1301"]
    assert c["patients_by_tier"]["red"] == 1 and c["patients_total"] == 2
    assert c["plans"]["kikan"]["approved"] == 1 and c["plans"]["chiiki"]["draft"] == 1
    assert c["drills_held"] == 1
    assert (c["corrective_actions_open"], c["corrective_actions_overdue"]) == (1, 1)
    assert regions["1302"]["patients_total"] == 0
    no_personal_data(r.get_data(as_text=True))


def test_page_and_csv_carry_no_personal_data(client, seeded, login):
    csv_text = client.get("/api/v1/reports/prefecture/13.csv", headers=seeded["h"]).data.decode("utf-8")
    no_personal_data(csv_text)
    rows = list(csv.DictReader(io.StringIO(csv_text.lstrip("\ufeff"))))
    assert {r["region_code"] for r in rows} == {"1301", "1302"}
    assert next(r for r in rows if r["region_code"] == "1301")["patients_red"] == "1"
    login(seeded["reviewer"])
    page = client.get("/reports/prefecture/13")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "区中央部" in html and 'id="chart-patients"' in html
    no_personal_data(html)


def test_reviewers_see_only_their_prefecture_and_staff_see_no_aggregates(client, seeded):
    assert client.get("/api/v1/reports/prefecture/14", headers=seeded["h"]).status_code == 403
    assert client.get("/api/v1/reports/prefecture/13", headers=seeded["hub_h"]).status_code == 403
    assert client.get("/api/v1/reports/prefecture/13").status_code == 401
    assert client.get("/api/v1/reports/prefecture/1x", headers=seeded["h"]).status_code == 400
    admin = seeded["make_user"]("admin")
    assert client.get("/api/v1/reports/prefecture/45", headers=seeded["auth_headers"](admin)).status_code == 404
