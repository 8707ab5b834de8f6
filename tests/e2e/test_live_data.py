"""The compact live data holds exactly what the dashboard draws, with the same values as live.json."""
from bcp_service.db import db
from bcp_service.outages import access, live_data
from tests.e2e.test_outage_http import body, desk  # noqa: F401 - the fixture

SHOWN = ("patient_id", "runs_out_at", "tier", "checkin", "transport_id", "dependent_24h", "round", "reported_hours",
         "reported_at", "covered_by_outage_id", "name", "address", "phone", "phone_display", "lat", "lon")


def test_compact_live_data_matches_the_dashboards_fields(client, clock, desk):  # noqa: F811
    oid = client.post("/api/v1/outages", json=body(clock), headers=desk.hub).get_json()["id"]
    client.post(f"/api/v1/outages/{oid}/patients/{desk.ids[1]}/answer", json={"answer": "3"}, headers=desk.hub)
    client.post(f"/api/v1/outages/{oid}/patients/{desk.ids[2]}/answer", json={"answer": "2"}, headers=desk.hub)
    full = client.get(f"/outages/{oid}/live.json", headers=desk.hub).get_json()
    compact = live_data.live_body(db.session, access.get_outage(db.session, oid), now=clock.now(),
                                  red_hours=6, yellow_hours=24)
    assert compact["now"] == full["now"]
    assert [{k: r[k] for k in SHOWN} for r in full["patients"]] == compact["patients"]
    assert {k: compact["outage"][k] for k in ("status", "affected", "counts", "reached")} == \
           {k: full["outage"][k] for k in ("status", "affected", "counts", "reached")}
    assert "area" not in compact["outage"] and "area" in full["outage"]
    assert compact["patients"][0]["checkin"] == "needs_help" and full["transports"]
    assert [{k: t[k] for k in compact["transports"][0]} for t in full["transports"]] == compact["transports"]
    assert [{k: e[k] for k in ("at", "kind", "patient_id", "detail_text")} for e in full["events"]] == compact["events"]
    assert [{k: t[k] for k in ("id", "kind", "patient_id", "status", "created_at")} for t in full["tasks"]] == \
           compact["tasks"]
    assert [{k: f[k] for k in ("name", "lat", "lon", "has_generator", "power_supply_point")}
            for f in full["facilities"]] == compact["facilities"]
