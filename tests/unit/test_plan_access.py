"""The one plan-access rule (plans.access) that plans and drills share."""
from types import SimpleNamespace

import pytest

from bcp_service.auth.roles import Actor, Role
from bcp_service.plans.access import may_edit, may_read


def plan(type_="kikan", *, region="1301", org=None, members=(), status="draft", approved_once=None):
    approved_once = status == "approved" if approved_once is None else approved_once
    return SimpleNamespace(type=type_, region_code=region, organization_id=org, member_org_ids=list(members),
                           status=status, last_approved_at="2026-11-01" if approved_once else None)


ADMIN = Actor(1, Role.ADMIN, None)
HUB = Actor(2, Role.HUB_STAFF, "1301")
CLINIC = Actor(3, Role.INSTITUTION_STAFF, "1301", organization_id=10)
OTHER_CLINIC = Actor(4, Role.INSTITUTION_STAFF, "1301", organization_id=11)
FIELD = Actor(5, Role.FIELD_TEAM, "1301", organization_id=10)
REVIEWER = Actor(6, Role.PREFECTURE_REVIEWER, "13")


@pytest.mark.parametrize("actor, p, read, edit", [
    (ADMIN, plan(region="9999"), True, True),
    (HUB, plan(), True, True),
    (HUB, plan(region="1302"), False, False),
    (CLINIC, plan(org=10), True, True),
    (OTHER_CLINIC, plan(org=10), False, False),          # another clinic's 機関型 plan
    (CLINIC, plan("renkei", members=(10, 12)), True, False),
    (OTHER_CLINIC, plan("renkei", members=(10, 12)), False, False),
    (CLINIC, plan("chiiki", status="approved"), True, False),   # API.md: the approved 地域BCP of their region
    (CLINIC, plan("chiiki", status="draft"), False, False),
    (CLINIC, plan("chiiki", status="draft", approved_once=True), True, False),   # being revised: v1 stays shared
    (CLINIC, plan("chiiki", region="1302", status="approved"), False, False),
    (FIELD, plan(org=10), False, False),                 # field teams read no plans
    (REVIEWER, plan(), False, False),                    # reviewers: status lists only
])
def test_who_may_read_and_edit_a_plan(actor, p, read, edit):
    assert may_read(actor, p) is read
    assert may_edit(actor, p) is edit
