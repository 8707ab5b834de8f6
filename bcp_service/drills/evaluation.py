"""Evaluation vocabulary (HSEEP used as the model, DOMAIN.md) and its validation rules. Pure."""
from __future__ import annotations

from bcp_service.drills.states import ActionStatus, DrillStatus, action_may_move

RATINGS: dict[str, str] = {
    "P": "課題なく実施できた",
    "S": "一部に課題があった",
    "M": "大きな課題があった",
    "U": "実施できなかった",
}
RATING_LONG_JA: dict[str, str] = {
    "P": "P（課題なく実施）",
    "S": "S（一部課題あり）",
    "M": "M（大きな課題あり）",
    "U": "U（実施できず）",
}
# Improvement-plan element of a corrective action (DOMAIN.md spelling).
ELEMENTS: dict[str, str] = {
    "planning": "計画",
    "organisation": "組織・体制",
    "equipment": "資機材",
    "training": "教育・研修",
    "exercise": "訓練",
}
ELEMENT_ALIASES = {"organization": "organisation"}
ACTION_STATUSES: dict[str, str] = {
    ActionStatus.OPEN: "未着手",
    ActionStatus.IN_PROGRESS: "対応中",
    ActionStatus.DONE: "完了",
    ActionStatus.CANCELLED: "取りやめ",
}
DRILL_STATUSES = tuple(DrillStatus)
# HSEEP names: a tabletop exercise (TTX) and a *drill* (one function tested for real: the SMS/voice call-down
# through the real outage pipeline). "functional" was this mode's old name; the API still accepts it.
MODES = ("tabletop", "drill")
MODE_ALIASES = {"functional": "drill"}
LIVE_MODE = "drill"     # the mode that runs the real outage pipeline in 訓練 mode


def normalise_mode(value: str) -> str:
    return MODE_ALIASES.get(value, value)


def normalise_element(value: str) -> str:
    return ELEMENT_ALIASES.get(value, value)


def can_move(status_from: str, status_to: str) -> bool:
    return action_may_move(status_from, status_to)


def rating_counts(ratings: list[str]) -> dict[str, int]:
    counts = {k: 0 for k in RATINGS}
    for r in ratings:
        counts[r] += 1
    return counts
