"""Every endpoint, every role: the API refuses roles a view does not allow (403), and every page
but the public ones sends an anonymous visitor to the login page."""
import re

from bcp_service.auth.roles import Role

# Public by design: sign-in, health, static files, the OpenAPI document, and the views that
# authenticate by a signed token or a provider signature instead of a session.
PUBLIC_PREFIXES = ("/login", "/logout", "/healthz", "/static/", "/api/v1/openapi.json", "/r/", "/voice/",
                   "/sms/", "/t/")


def _concrete(rule: str) -> str:
    return re.sub(r"<(?:[a-z]+:)?([a-z_]+)>", "1", rule)


def _scopes(role: Role):
    return {Role.ADMIN: None, Role.PREFECTURE_REVIEWER: "13"}.get(role, "1301")


def test_api_refuses_roles_a_view_does_not_allow(app, client, make_region, make_org, make_user, auth_headers):
    make_region()
    org = make_org()
    headers = {role: auth_headers(make_user(role.value, scope=_scopes(role),
                                            organization=org if role is Role.INSTITUTION_STAFF else None))
               for role in Role}
    checked = 0
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/api/v1/") or rule.rule == "/api/v1/openapi.json":
            continue
        view = app.view_functions[rule.endpoint]
        allowed = getattr(view, "required_roles", None)
        assert allowed is not None, f"{rule.rule} is not guarded by auth.require"
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            for role in set(Role) - set(allowed):
                response = client.open(_concrete(rule.rule), method=method, json={}, headers=headers[role])
                assert response.status_code == 403, (method, rule.rule, role.value, response.status_code)
                checked += 1
    assert checked > 0


def test_pages_send_anonymous_visitors_to_login(app, client):
    for rule in app.url_map.iter_rules():
        if "GET" not in (rule.methods or ()) or rule.rule.startswith("/api/"):
            continue
        if rule.rule.startswith(PUBLIC_PREFIXES):
            continue
        response = client.get(_concrete(rule.rule))
        assert response.status_code in (302, 401), (rule.rule, response.status_code)
        if response.status_code == 302:
            assert "/login" in response.headers["Location"], rule.rule
