import pytest

from bcp_service.auth.roles import Actor, Role, may_see_region, scope_problem


@pytest.mark.parametrize("role, scope, region, prefecture, expected", [
    (Role.ADMIN, None, "1301", "13", True),
    (Role.HUB_STAFF, "1301", "1301", "13", True),
    (Role.HUB_STAFF, "1301", "1302", "13", False),
    (Role.INSTITUTION_STAFF, "1301", "2701", "27", False),
    (Role.FIELD_TEAM, "1301", "1301", "13", True),
    (Role.PREFECTURE_REVIEWER, "13", "1301", "13", True),
    (Role.PREFECTURE_REVIEWER, "13", "1302", "13", True),
    (Role.PREFECTURE_REVIEWER, "13", "2701", "27", False),
    # A region code that happens to equal a prefecture code gives a hub no prefecture-wide view.
    (Role.HUB_STAFF, "13", "1301", "13", False),
])
def test_region_visibility(role, scope, region, prefecture, expected):
    assert may_see_region(Actor(1, role, scope), region, prefecture) is expected


def test_reviewer_scope_must_be_a_prefecture_code():
    assert scope_problem(Role.PREFECTURE_REVIEWER, "1301", region_exists=True, prefecture_exists=False)
    assert scope_problem(Role.PREFECTURE_REVIEWER, "13", region_exists=False, prefecture_exists=True) is None


def test_staff_need_an_existing_region_and_admin_needs_none():
    assert scope_problem(Role.HUB_STAFF, None, region_exists=False, prefecture_exists=False)
    assert scope_problem(Role.HUB_STAFF, "9999", region_exists=False, prefecture_exists=False)
    assert scope_problem(Role.HUB_STAFF, "1301", region_exists=True, prefecture_exists=True) is None
    assert scope_problem(Role.ADMIN, None, region_exists=False, prefecture_exists=False) is None
    assert scope_problem(Role.ADMIN, "1301", region_exists=True, prefecture_exists=True)
