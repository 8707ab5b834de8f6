"""The plan, drill and corrective-action state machines (pure transitions; values as stored)."""
import pytest

from bcp_service.drills.states import (ActionStatus, DrillEvent, DrillStatus, action_is_open, action_may_move,
                                       drill_after, may_change_plan, may_evaluate, may_log)
from bcp_service.plans.states import PlanAction, PlanStatus, after_approval, is_editable, next_status


def test_state_values_are_the_stored_strings():
    assert [s.value for s in PlanStatus] == ["draft", "in_review", "approved", "superseded"]
    assert [s.value for s in DrillStatus] == ["scheduled", "running", "completed", "cancelled"]
    assert [s.value for s in ActionStatus] == ["open", "in_progress", "done", "cancelled"]
    assert PlanStatus.IN_REVIEW == "in_review" and f"{DrillStatus.RUNNING}" == "running"


@pytest.mark.parametrize("status, action, after", [
    ("draft", PlanAction.SUBMIT, "in_review"),
    ("in_review", PlanAction.APPROVE, "approved"),
    ("in_review", PlanAction.RETURN, "draft"),
    ("approved", PlanAction.REVISE, "draft"),
    ("draft", PlanAction.APPROVE, None),
    ("approved", PlanAction.SUBMIT, None),
    ("in_review", PlanAction.REVISE, None),
    ("superseded", PlanAction.REVISE, None),
    ("bogus", PlanAction.SUBMIT, None),
])
def test_plan_transitions(status, action, after):
    assert next_status(status, action) == after


def test_only_drafts_are_edited_and_approval_supersedes_the_old_approved_version():
    assert is_editable("draft") and not is_editable("in_review") and not is_editable("approved")
    assert after_approval("approved") == "superseded" and after_approval("draft") == "draft"


@pytest.mark.parametrize("status, event, after", [
    ("scheduled", DrillEvent.START, "running"),
    ("running", DrillEvent.FINISH, "completed"),
    ("scheduled", DrillEvent.CANCEL, "cancelled"),
    ("running", DrillEvent.START, None),
    ("completed", DrillEvent.FINISH, None),
    ("running", DrillEvent.CANCEL, None),
    ("cancelled", DrillEvent.START, None),
])
def test_drill_transitions(status, event, after):
    assert drill_after(status, event) == after


def test_what_a_drill_allows_in_each_state():
    assert may_change_plan("scheduled") and not may_change_plan("running")
    assert may_log("running") and not may_log("completed")
    assert may_evaluate("running") and may_evaluate("completed") and not may_evaluate("scheduled")


@pytest.mark.parametrize("src, dst, ok", [
    ("open", "in_progress", True), ("in_progress", "open", True), ("open", "done", True),
    ("in_progress", "cancelled", True), ("done", "open", False), ("cancelled", "in_progress", False),
    ("open", "bogus", False),
])
def test_corrective_action_moves_and_closing_is_final(src, dst, ok):
    assert action_may_move(src, dst) is ok
    assert action_is_open(src) is (src in ("open", "in_progress"))
