"""Issue 18 (Medium/Low): bounded outage areas, lists that never echo a whole drawn area, drill titles
with line breaks in .ics, and odd query values (NUL, huge offsets, integers beyond 2^31) on every
GET route: a 400 (or an empty page), never a 500."""
from __future__ import annotations

import re

import icalendar
import pytest
from marshmallow import fields as mfields
from sqlalchemy import func, select

from bcp_service.outages.models import Outage
from tests.e2e.drill_helpers import drill_body, later


@pytest.fixture
def hub(make_region, make_org, make_user, auth_headers):
    make_region("1301")
    org = make_org(name="試験中央病院", accepts_ventilator=True, ventilator_beds=2)
    user = make_user("hub_staff", scope="1301")
    return type("H", (), {"user": user, "h": auth_headers(user), "org": org})


def _square(n: int, lon=139.70, lat=35.60, size=0.2) -> dict:
    """A closed ring of n+1 positions around a square (n points along its edges)."""
    side = n // 4
    pts = []
    for i in range(side):
        pts.append([lon + size * i / side, lat])
    for i in range(side):
        pts.append([lon + size, lat + size * i / side])
    for i in range(side):
        pts.append([lon + size - size * i / side, lat + size])
    for i in range(side):
        pts.append([lon, lat + size - size * i / side])
    pts.append(pts[0])
    return {"type": "Polygon", "coordinates": [pts]}


def test_an_outage_area_beyond_ten_thousand_vertices_is_a_japanese_400_and_nothing_is_stored(client, session, hub):
    # The 1,000,000 vertices (~40 MB) stop at the body limit (413) or the cap (400) ...
    r = client.post("/api/v1/outages", json={"area": {"geometry": _square(1_000_000)}}, headers=hub.h)
    assert r.status_code in (400, 413)
    # ... and a body under the limit with more than 10,000 is refused by the cap, in Japanese.
    r = client.post("/api/v1/outages", json={"area": {"geometry": _square(20_000)}}, headers=hub.h)
    assert r.status_code == 400
    assert "頂点が多すぎます" in r.get_json()["error"]["fields"]["area"][0]
    multi = {"type": "MultiPolygon", "coordinates": [_square(6_000)["coordinates"],
                                                      _square(6_000, lon=140.2)["coordinates"]]}
    assert client.post("/api/v1/outages", json={"area": {"geometry": multi}}, headers=hub.h).status_code == 400
    assert session.scalar(select(func.count()).select_from(Outage)) == 0


def test_the_outage_list_carries_an_area_summary_and_the_single_outage_the_geometry(client, session, hub, make_user):
    from bcp_service.registry.models import Patient
    from tests.e2e.test_registry_api import body

    assert client.post("/api/v1/patients", json=body(lat=35.65, lon=139.75), headers=hub.h).status_code == 201
    polygon = _square(8_000)
    r = client.post("/api/v1/outages", json={"area": {"geometry": polygon}}, headers=hub.h)
    assert r.status_code == 201, r.get_json()
    outage_id = r.get_json()["id"]
    listed = client.get("/api/v1/outages", headers=hub.h)
    item = listed.get_json()["items"][0]
    assert item["area"] == {"kind": "geometry", "type": "Polygon", "vertices": 8_001,
                            "bbox": [35.6, 139.7, pytest.approx(35.8), pytest.approx(139.9)]}
    assert len(listed.get_data()) < 5_000
    single = client.get(f"/api/v1/outages/{outage_id}", headers=hub.h).get_json()
    assert len(single["area"]["geometry"]["coordinates"][0]) == 8_001
    assert session.scalar(select(func.count()).select_from(Patient)) == 1


def test_a_line_break_in_a_drill_title_keeps_the_ics_valid(client, clock, hub):
    title = "停電訓練\r\n2行目\nEND:VCALENDAR"
    r = client.post("/api/v1/drills", json=drill_body([hub.org], when=later(clock, days=10), title=title),
                    headers=hub.h)
    assert r.status_code == 201, r.get_json()
    drill_id = r.get_json()["id"]
    for url in (f"/api/v1/drills/{drill_id}/calendar.ics", "/api/v1/drills/calendar.ics"):
        ics = client.get(url, headers=hub.h)
        assert ics.status_code == 200, url
        text = ics.get_data(as_text=True)
        assert text.splitlines().count("END:VCALENDAR") == 1 and text.rstrip().endswith("END:VCALENDAR")
        cal = icalendar.Calendar.from_ical(ics.get_data())
        (event,) = cal.walk("VEVENT")
        assert "2行目" in str(event["summary"]) and "END:VCALENDAR" in str(event["summary"])


ODD_VALUES = {"q": "\x00", "offset": str(10**25), "limit": str(2**31), "status": "\x00"}
BIG = str(2**63)


def _query_ints(view) -> list[str]:
    doc = getattr(view, "api_doc", None)
    if not doc or doc.get("query") is None:
        return []
    return [f.data_key or name for name, f in doc["query"]().fields.items()
            if isinstance(f, (mfields.Integer, mfields.Float))]


def test_odd_query_values_on_every_get_route_are_never_a_server_error(app, client, hub, login):
    login(hub.user)
    checked = 0
    for rule in app.url_map.iter_rules():
        if "GET" not in (rule.methods or ()) or rule.rule.startswith(("/static", "/r/", "/t/")):
            continue
        url = re.sub(r"<(?:[a-z]+:)?([a-z_]+)>", "1", rule.rule)
        headers = hub.h if url.startswith("/api/") else {}
        view = app.view_functions[rule.endpoint]
        for name, value in [*ODD_VALUES.items(), *((n, BIG) for n in _query_ints(view)),
                            ("offset", BIG), ("region_code", "\x00"), ("from", "\x00")]:
            r = client.get(url, query_string={name: value}, headers=headers)
            assert r.status_code < 500, (url, name, value, r.status_code)
            checked += 1
    assert checked > 200
