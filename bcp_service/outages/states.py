"""The outage desk's state machines: outage, transport and field task. Pure.

The string values are the API contract (API.md) and what the database stores; a ``StrEnum`` member
compares equal to its string, so rows and JSON keep the plain strings. Each machine has its
transitions as a pure function the services call before they change a row.
"""
from __future__ import annotations

from enum import StrEnum


class OutageStatus(StrEnum):
    ACTIVE = "active"
    RESOLVED = "resolved"


def may_change(status: str) -> bool:
    """An outage's area and expected restoration change only while it is active."""
    return status == OutageStatus.ACTIVE


def may_resolve(status: str) -> bool:
    return status == OutageStatus.ACTIVE


class TransportStatus(StrEnum):
    PROPOSED = "proposed"          # a suggestion for the desk, no bed reserved
    ASSIGNED = "assigned"          # bed reserved, task to the transport team
    EN_ROUTE = "en_route"
    ARRIVED = "arrived"
    CANCELLED = "cancelled"


TERMINAL_TRANSPORT = frozenset({TransportStatus.ARRIVED, TransportStatus.CANCELLED})
# States in which the transport holds a bed at its facility.
BED_STATUSES = frozenset({TransportStatus.ASSIGNED, TransportStatus.EN_ROUTE, TransportStatus.ARRIVED})
# What a status change may ask for (``proposed`` is only ever made by the service itself).
REQUESTABLE_TRANSPORT = (TransportStatus.ASSIGNED, TransportStatus.EN_ROUTE, TransportStatus.ARRIVED,
                         TransportStatus.CANCELLED)
TRANSPORT_NEXT = {
    TransportStatus.PROPOSED: frozenset({TransportStatus.ASSIGNED, TransportStatus.CANCELLED}),
    TransportStatus.ASSIGNED: frozenset({TransportStatus.EN_ROUTE, TransportStatus.ARRIVED,
                                         TransportStatus.CANCELLED}),
    TransportStatus.EN_ROUTE: frozenset({TransportStatus.ARRIVED, TransportStatus.CANCELLED,
                                         TransportStatus.ASSIGNED}),
}


def transport_is_final(status: str) -> bool:
    return status in TERMINAL_TRANSPORT


def may_move_transport(current: str, wanted: str) -> bool:
    """One-tap step or the desk's override: staying put is always allowed; nothing leaves a final state."""
    if current in TERMINAL_TRANSPORT:
        return wanted == current
    return wanted == current or wanted in TRANSPORT_NEXT[TransportStatus(current)]


def transport_holds_bed(status: str) -> bool:
    return status in BED_STATUSES


class TaskStatus(StrEnum):
    OPEN = "open"
    ACKNOWLEDGED = "acknowledged"
    DONE = "done"
    CANCELLED = "cancelled"
    REASSIGNED = "reassigned"      # declined, or not acknowledged in time: moved to the next team


def task_is_closed(status: str) -> bool:
    return status in (TaskStatus.DONE, TaskStatus.CANCELLED, TaskStatus.REASSIGNED)


def may_hand_off(status: str) -> bool:
    """A team may decline a task it has not finished; the deadline moves only unacknowledged ones."""
    return status in (TaskStatus.OPEN, TaskStatus.ACKNOWLEDGED)


def acknowledged(status: str) -> TaskStatus:
    """Accepting a task: an open task becomes acknowledged; any other state stays as it is."""
    return TaskStatus.ACKNOWLEDGED if status == TaskStatus.OPEN else TaskStatus(status)


def task_after_transport(task_status: str, transport_status: str) -> TaskStatus:
    """A transport task follows its transport: done on arrival, cancelled with it (unless done); a
    task already moved to another team stays as it was."""
    if task_status == TaskStatus.REASSIGNED:
        return TaskStatus.REASSIGNED
    if transport_status == TransportStatus.ARRIVED:
        return TaskStatus.DONE
    if transport_status == TransportStatus.CANCELLED and task_status != TaskStatus.DONE:
        return TaskStatus.CANCELLED
    return TaskStatus(task_status)
