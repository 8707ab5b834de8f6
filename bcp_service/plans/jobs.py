"""Clock job: annual review reminders for approved plans.

Due work lives in `plans.next_reminder_at` (set on approval, advanced after each reminder); this
job only claims the rows that are due, so running it often is cheap and a missed beat is caught up.
Scheduled every ``EVERY_MINUTES`` by ``bcp_service/wiring.py``.
"""
from __future__ import annotations

import logging

from bcp_service.appclock import get_clock
from bcp_service.db import run_in_transaction
from bcp_service.plans.review import send_due_reminders

log = logging.getLogger(__name__)
EVERY_MINUTES = 15


def run_review_reminders(app) -> None:
    base_url = app.config.get("PUBLIC_BASE_URL") or ""
    result = run_in_transaction(app, "plans.review_reminders",
                                lambda s: send_due_reminders(s, now=get_clock().now(), base_url=base_url))
    if result.reminders:
        log.info("plans: %d review reminders for %d plans", result.reminders, result.plans)


def run_fee_reminders(app) -> None:
    """Daily: reminders to 在宅療養支援診療所・病院 without an approved 機関型 (plans/fee_rule.json)."""
    from bcp_service.plans.bcp_status import send_fee_reminders

    result = run_in_transaction(app, "plans.fee_reminders", lambda s: send_fee_reminders(s, now=get_clock().now()))
    if result.messages:
        log.info("plans: %d fee-rule reminders to %d organisations", result.messages, result.organizations)


FEE_REMINDER_HOUR = 9   # 09:00 Tokyo (the scheduler runs on Tokyo time)
