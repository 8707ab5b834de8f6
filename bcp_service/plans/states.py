"""The plan (and plan version) state machine. Pure: no Flask, no session, no clock.

draft → (submit) → in_review → (approve) → approved → (revise) → a new draft of version n+1;
in_review → (return) → draft. An approved version becomes superseded when a later one is approved.
"""
from __future__ import annotations

from enum import StrEnum


class PlanStatus(StrEnum):
    DRAFT = "draft"
    IN_REVIEW = "in_review"
    APPROVED = "approved"
    SUPERSEDED = "superseded"


class PlanAction(StrEnum):
    SUBMIT = "submit"
    APPROVE = "approve"
    RETURN = "return"
    REVISE = "revise"


# (from, action) -> the status of the version the action leaves behind (for revise: of the new version)
TRANSITIONS: dict[tuple[PlanStatus, PlanAction], PlanStatus] = {
    (PlanStatus.DRAFT, PlanAction.SUBMIT): PlanStatus.IN_REVIEW,
    (PlanStatus.IN_REVIEW, PlanAction.APPROVE): PlanStatus.APPROVED,
    (PlanStatus.IN_REVIEW, PlanAction.RETURN): PlanStatus.DRAFT,
    (PlanStatus.APPROVED, PlanAction.REVISE): PlanStatus.DRAFT,
}


def next_status(status: str, action: PlanAction) -> PlanStatus | None:
    """The status after ``action``, or None when the action is not allowed from ``status``."""
    try:
        return TRANSITIONS.get((PlanStatus(status), action))
    except ValueError:
        return None


def is_editable(status: str) -> bool:
    """Only a draft's answers change; in review and approved versions are fixed."""
    return status == PlanStatus.DRAFT


def after_approval(status: str) -> str:
    """What an earlier version becomes when another one is approved."""
    return PlanStatus.SUPERSEDED if status == PlanStatus.APPROVED else status
