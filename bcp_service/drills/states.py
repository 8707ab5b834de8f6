"""State machines of a drill and of a corrective action. Pure: no Flask, no session, no clock.

Drill: scheduled → (start) → running → (finish) → completed; scheduled → (cancel) → cancelled.
Corrective action: open ⇄ in_progress → done | cancelled; closing is final so the history of the
PDCA cycle stays honest.
"""
from __future__ import annotations

from enum import StrEnum


class DrillStatus(StrEnum):
    SCHEDULED = "scheduled"
    RUNNING = "running"
    COMPLETED = "completed"
    CANCELLED = "cancelled"


class DrillEvent(StrEnum):
    START = "start"
    FINISH = "finish"
    CANCEL = "cancel"


DRILL_TRANSITIONS: dict[tuple[DrillStatus, DrillEvent], DrillStatus] = {
    (DrillStatus.SCHEDULED, DrillEvent.START): DrillStatus.RUNNING,
    (DrillStatus.RUNNING, DrillEvent.FINISH): DrillStatus.COMPLETED,
    (DrillStatus.SCHEDULED, DrillEvent.CANCEL): DrillStatus.CANCELLED,
}


def drill_after(status: str, event: DrillEvent) -> DrillStatus | None:
    """The drill's status after ``event``, or None when the event is not allowed in ``status``."""
    try:
        return DRILL_TRANSITIONS.get((DrillStatus(status), event))
    except ValueError:
        return None


def may_change_plan(status: str) -> bool:
    """Time, place and participants change only before the drill is run."""
    return status == DrillStatus.SCHEDULED


def may_log(status: str) -> bool:
    return status == DrillStatus.RUNNING


def may_evaluate(status: str) -> bool:
    return status in (DrillStatus.RUNNING, DrillStatus.COMPLETED)


class ActionStatus(StrEnum):
    OPEN = "open"
    IN_PROGRESS = "in_progress"
    DONE = "done"
    CANCELLED = "cancelled"


OPEN_ACTION_STATUSES = frozenset({ActionStatus.OPEN, ActionStatus.IN_PROGRESS})
CLOSED_ACTION_STATUSES = frozenset({ActionStatus.DONE, ActionStatus.CANCELLED})
ACTION_TRANSITIONS: dict[ActionStatus, frozenset[ActionStatus]] = {
    ActionStatus.OPEN: frozenset({ActionStatus.IN_PROGRESS, ActionStatus.DONE, ActionStatus.CANCELLED}),
    ActionStatus.IN_PROGRESS: frozenset({ActionStatus.OPEN, ActionStatus.DONE, ActionStatus.CANCELLED}),
    ActionStatus.DONE: frozenset(),
    ActionStatus.CANCELLED: frozenset(),
}


def action_may_move(status_from: str, status_to: str) -> bool:
    try:
        return ActionStatus(status_to) in ACTION_TRANSITIONS.get(ActionStatus(status_from), frozenset())
    except ValueError:
        return False


def action_is_open(status: str) -> bool:
    return status in OPEN_ACTION_STATUSES
