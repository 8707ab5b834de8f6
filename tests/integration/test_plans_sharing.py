"""Sharing (API.md "Plans: sharing"): institution staff read, never edit, the approved 地域BCP of their region
and the 連携型 plans their organisation is a member of; exports follow the same rule."""
import pytest

from bcp_service.auth.roles import Actor, Role
from bcp_service.errors import NotFound, OutOfScope
from bcp_service.plans import access, authoring, history, versions, workflow

from .plan_helpers import fill_required
from .test_plans_service import world  # noqa: F401 - the fixture is reused


def _approved_chiiki(session, world, clock):
    plan = authoring.create_plan(session, world["hub"], authoring.NewPlan("chiiki", "区中央部 地域BCP",
                                                                          region_code="1301"), now=clock.now())
    session.commit()
    fill_required(session, world["hub"], plan, clock)
    workflow.submit(session, world["hub"], plan.id, now=clock.now())
    workflow.approve(session, world["hub2"], plan.id, now=clock.now())
    session.commit()
    return plan


def test_staff_read_and_export_the_approved_chiiki_but_not_the_draft_of_its_revision(session, world, clock):
    draft = authoring.create_plan(session, world["hub"], authoring.NewPlan("chiiki", "下書き", region_code="1301"),
                                  now=clock.now())
    session.commit()
    with pytest.raises(NotFound):
        access.get_plan(session, world["doctor"], draft.id)
    session.delete(draft)
    session.commit()
    plan = _approved_chiiki(session, world, clock)
    assert access.get_plan(session, world["doctor"], plan.id) is plan
    doc = history.plan_doc(session, world["doctor"], plan.id)
    assert doc.version_number == 1 and doc.status == "approved"
    with pytest.raises(OutOfScope):
        authoring.save_section(session, world["doctor"], plan.id, "area", {"municipalities": "x"}, now=clock.now())
    session.rollback()
    with pytest.raises(NotFound):   # another region's staff
        access.get_plan(session, Actor(99, Role.INSTITUTION_STAFF, "1302", organization_id=world["far"].id), plan.id)

    workflow.revise(session, world["hub"], plan.id, now=clock.now(), note="見直し")
    authoring.save_section(session, world["hub"], plan.id, "area", {"municipalities": "改訂中の下書き"}, now=clock.now())
    session.commit()
    assert access.shown_version(world["doctor"], plan).number == 1          # staff keep the approved one
    assert access.shown_version(world["hub"], plan).number == 2
    doc = history.plan_doc(session, world["doctor"], plan.id)
    assert doc.version_number == 1 and doc.answers["area"]["municipalities"] != "改訂中の下書き"
    with pytest.raises(NotFound):
        history.plan_doc(session, world["doctor"], plan.id, 2)
    assert [p.id for p in session.scalars(access.readable_plans_stmt(world["doctor"]))] == [plan.id]


def test_members_read_and_export_their_renkei_plan_and_others_do_not(session, world, clock):
    renkei = authoring.create_plan(session, world["hub"], authoring.NewPlan(
        "renkei", "区中央部 在宅連携", member_org_ids=(world["clinic"].id, world["hospital"].id)), now=clock.now())
    session.commit()
    assert history.plan_doc(session, world["hospital_staff"], renkei.id).title == "区中央部 在宅連携"
    assert versions.current_version(access.get_plan(session, world["doctor"], renkei.id)).number == 1
    with pytest.raises(OutOfScope):
        authoring.save_section(session, world["doctor"], renkei.id, "members", {"coordinator": "x"}, now=clock.now())
    session.rollback()
    with pytest.raises(NotFound):
        history.plan_doc(session, world["other_staff"], renkei.id)
