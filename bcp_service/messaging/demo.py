"""Demo seed: a drill staff roll-call (【訓練】職員安否確認) for the hub, so the phone simulator has
messages to answer as soon as the demo's dispatcher runs. Synthetic staff, 090-0000-xxxx numbers."""
from __future__ import annotations

from flask import current_app

from bcp_service.appclock import get_clock
from bcp_service.messaging import rollcall

STAFF = (("試験 一郎", "+819000009001"), ("試験 二郎", "+819000009002"), ("試験 三子", "+819000009003"),
         ("試験 四郎", "+819000009004"))


def seed(session, ctx) -> None:
    hub = next((o for o in ctx.orgs_of_kind("community_support_center")), None)
    user = ctx.users.get("hub_staff")
    now = get_clock().now()
    rc = rollcall.start_rollcall(
        session, title="区中央部 震度6強想定", organization_id=hub.id if hub else None,
        members=[rollcall.MemberIn(name=n, phone=p) for n, p in STAFF], drill=True,
        created_by=user.id if user else None, now=now, secret=current_app.config["SECRET_KEY"],
        base_url=current_app.config["PUBLIC_BASE_URL"], hub_name=current_app.config.get("HUB_NAME") or "")
    # One answer already in, so the tally is not all zeros.
    rollcall.record_answer(session, member_id=rc.members[0].id, rollcall_id=rc.id, answer="safe_available",
                           eta_minutes=30, channel="tap", now=now)
