"""BCP status for the fee rule (pure): 在宅療養支援診療所・病院 must have a BCP by a deadline.

The deadline and the reminder days are data (`plans/fee_rule.json`), not code. ``status_rows`` says,
per organisation, whether it has an approved 機関型 plan and how many days are left; ``reminder_due``
says whether today is a reminder day for one without.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Iterable

from .templates import DEFAULT_DIR

RULE_FILE = "fee_rule.json"


@dataclass(frozen=True)
class FeeRule:
    deadline: date
    remind_days_before: tuple[int, ...]


@dataclass(frozen=True)
class OrgStatus:
    organization_id: int
    name: str
    has_approved_kikan: bool
    deadline: date
    days_left: int

    def as_dict(self) -> dict:
        return {"organization_id": self.organization_id, "name": self.name,
                "has_approved_kikan": self.has_approved_kikan, "deadline": self.deadline.isoformat(),
                "days_left": self.days_left}


def parse_rule(data: dict) -> FeeRule:
    try:
        deadline = date.fromisoformat(data["deadline"])
        days = tuple(sorted({int(d) for d in data.get("remind_days_before", ())}, reverse=True))
    except (KeyError, TypeError, ValueError) as exc:
        raise ValueError(f"{RULE_FILE}: deadline (YYYY-MM-DD) と remind_days_before（日数の一覧）が必要です: {exc}") from exc
    if any(d < 0 for d in days):
        raise ValueError(f"{RULE_FILE}: remind_days_before は0以上です")
    return FeeRule(deadline, days)


def load_rule(directory: Path | str | None = None) -> FeeRule:
    path = Path(directory or DEFAULT_DIR) / RULE_FILE
    if not path.exists():
        path = DEFAULT_DIR / RULE_FILE
    return parse_rule(json.loads(path.read_text(encoding="utf-8")))


def status_rows(orgs: Iterable[tuple[int, str]], approved_org_ids: set[int], rule: FeeRule, *,
                today: date) -> list[OrgStatus]:
    """One row per organisation: those without an approved 機関型 first, then by name."""
    days_left = (rule.deadline - today).days
    rows = [OrgStatus(oid, name, oid in approved_org_ids, rule.deadline, days_left) for oid, name in orgs]
    return sorted(rows, key=lambda r: (r.has_approved_kikan, r.name, r.organization_id))


def reminder_due(rule: FeeRule, *, today: date) -> int | None:
    """The reminder slot of today (days before the deadline), or None. After the deadline: weekly."""
    left = (rule.deadline - today).days
    if left in rule.remind_days_before:
        return left
    if left < 0 and (-left) % 7 == 0:
        return left
    return None


def reminder_text(org_name: str, rule: FeeRule, *, today: date) -> str:
    d = rule.deadline
    when = f"{d.year}年{d.month}月{d.day}日"
    left = (d - today).days
    if left >= 0:
        return (f"【BCP策定のお願い】{org_name}様: 在宅療養支援診療所・病院はBCPの策定が必要です。"
                f"期限は{when}（あと{left}日）です。機関型BCPを作成し、拠点の承認を受けてください。")
    return f"【BCP策定・期限超過】{org_name}様: BCP策定の期限（{when}）を{-left}日過ぎています。拠点にご相談ください。"
