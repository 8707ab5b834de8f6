"""Phones as people dial them: the paper run-sheet (with family contacts) and the desk's live table show
the national format (06-0000-0205, never +81600000205 or 060-000-0205) with tel: links."""
from datetime import timedelta

import pytest

pytestmark = pytest.mark.sqlite_smoke


def test_runsheet_and_dashboard_show_dialable_numbers(client, make_region, make_user, auth_headers, login, clock):
    make_region("1301")
    hub = make_user("hub_staff", scope="1301")
    h = auth_headers(hub)
    r = client.post("/api/v1/patients", headers=h, json={
        "name": "試験 太郎", "phone": "06-0000-0189", "municipality_code": "131016", "lat": 35.694, "lon": 139.753,
        "region_code": "1301",
        "devices": [{"kind": "ventilator", "mode": "TPPV", "watts": 100, "internal_battery_hours": 3}],
        "contacts": [{"name": "試験 花子", "relation": "妻", "phone": "06-0000-0205"}]})
    assert r.status_code == 201, r.get_json()
    r = client.post("/api/v1/outages", headers=h, json={
        "area": {"municipality_codes": ["131016"]}, "started_at": clock.now().isoformat(),
        "expected_restoration_at": (clock.now() + timedelta(hours=12)).isoformat()})
    assert r.status_code == 201, r.get_json()
    oid = r.get_json()["id"]
    login(hub)
    sheet = client.get(f"/outages/{oid}/runsheet").get_data(as_text=True)
    assert '<a class="tel" href="tel:+81600000189">06-0000-0189</a>' in sheet
    assert "試験 花子（妻）" in sheet and '<a class="tel" href="tel:+81600000205">06-0000-0205</a>' in sheet
    assert "+81600000189" not in sheet.replace('href="tel:+81600000189"', "")
    assert "060-000-0205" not in sheet
    live = client.get(f"/outages/{oid}/live.json").get_json()
    rows = live["patients"]
    assert rows[0]["phone"] == "+81600000189" and rows[0]["phone_display"] == "06-0000-0189"
