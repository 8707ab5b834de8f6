"""What the desk's API and pages share: the declaration command and tier thresholds from the config.
(Transport proposals after a declaration or a change are the clock's: ``outages.jobs.proposals``.)"""
from __future__ import annotations

from flask import current_app

from bcp_service.appclock import get_clock
from bcp_service.outages.declare import DeclareOutage


def now():
    return get_clock().now()


def tiers() -> dict:
    return {"red_hours": float(current_app.config.get("RUNWAY_RED_HOURS", 6)),
            "yellow_hours": float(current_app.config.get("RUNWAY_YELLOW_HOURS", 24))}


def declare_command(data: dict) -> DeclareOutage:
    """The loaded ``DeclareOutageSchema`` as a command (the service decides the region and scope)."""
    silence = data.get("silence_minutes") or float(current_app.config.get("CHECKIN_SILENCE_MINUTES", 15))
    return DeclareOutage(
        area=data["area"], started_at=data.get("started_at") or now(),
        expected_restoration_at=data.get("expected_restoration_at"), cause=data.get("cause"),
        drill=data.get("drill", False), region_code=data.get("region_code"), silence_minutes=silence,
        safety_margin_minutes=data.get("safety_margin_minutes", 60.0),
        patient_filter=data.get("patient_filter"))
