"""GET /api/v1/municipalities?q= (API.md) from the offline table, SQLite and PostgreSQL."""


def test_search_by_name_and_code(client, make_region, make_user, auth_headers):
    make_region()
    h = auth_headers(make_user("field_team", scope="1301"))
    r = client.get("/api/v1/municipalities?q=千代田区", headers=h)
    assert r.status_code == 200
    assert r.get_json()["items"][0] == {"code": "131016", "name": "千代田区", "prefecture": "東京都"}
    r = client.get("/api/v1/municipalities?q=13105", headers=h)
    assert r.get_json() == {"items": [{"code": "131059", "name": "文京区", "prefecture": "東京都"}]}
    assert client.get("/api/v1/municipalities?q=存在しない町名", headers=h).get_json() == {"items": []}


def test_needs_login_and_a_query(client, make_region, make_user, auth_headers):
    make_region()
    assert client.get("/api/v1/municipalities?q=千代田").status_code == 401
    r = client.get("/api/v1/municipalities", headers=auth_headers(make_user("hub_staff", scope="1301")))
    assert r.status_code == 400 and "q" in r.get_json()["error"]["fields"]
