"""The outage desk's pages: the list and declaration form, the dashboard (polling ``live.json``),
the run sheet for paper, and the desk's buttons (change, resolve, transport status). Views parse,
call a service, render; the services check role and region scope (``outages.access``)."""
from __future__ import annotations

from flask import Blueprint, Response, current_app, redirect, render_template, request, url_for

from bcp_service.auth import current_actor, require
from bcp_service.auth.audit import record as audit
from bcp_service.clock import iso_local
from bcp_service.db import db
from bcp_service.errors import Invalid
from bcp_service.outages import access, contacts, declare, queries, report, restorations, transport
from bcp_service.outages.access import DESK
from bcp_service.outages.models import CHECKIN_LABELS, TRANSPORT_LABELS
from bcp_service.outages.notify import notifier_for
from bcp_service.outages.schemas import ChangeOutageSchema, DeclareOutageSchema
from bcp_service.outages.views.request_parts import declare_command, now, tiers
from bcp_service.registry import queries as registry_queries

bp = Blueprint("outages", __name__)


@bp.get("/outages")
@require(*DESK)
def desk():
    outages = queries.visible_outages(db.session, current_actor())
    return render_template("outages/index.html", outages=outages)


@bp.post("/outages")
@require(*DESK)
def desk_declare():
    form = request.form
    area = _area_from_form(form)
    data = {"area": area, "cause": form.get("cause") or None, "drill": form.get("drill") == "1"}
    for key in ("started_at", "expected_restoration_at"):
        if form.get(key):
            data[key] = _local_form_time(form[key])
    cmd = declare_command(DeclareOutageSchema().load(data))
    actor = current_actor()
    result = declare.declare_outage(db.session, actor, cmd, now=now(), notifier=notifier_for(current_app))
    audit(db.session, actor, "create", "outage", result.outage.id, {"affected": result.affected})
    db.session.commit()
    return redirect(url_for("outages.dashboard", outage_id=result.outage.id))


def _area_from_form(form) -> dict:
    try:
        if form.get("area_kind") == "municipality_codes":
            return {"municipality_codes": [c.strip() for c in form.get("municipality_codes", "").replace("、", ",")
                                           .split(",") if c.strip()]}
        if form.get("area_kind") == "geometry":
            return {"geometry": current_app.json.loads(form.get("geometry") or "null")}
    except ValueError:
        raise Invalid("GeoJSON が読めません。", fields={"geometry": ["JSON として読めません"]}) from None
    return {"center": {"lat": form.get("lat"), "lon": form.get("lon")}, "radius_km": form.get("radius_km")}


@bp.post("/outages/<int:outage_id>/change")
@require(*DESK)
def desk_change(outage_id: int):
    """Widen / narrow the area, or move the expected restoration, from the dashboard."""
    actor = current_actor()
    access.outage_for(db.session, actor, outage_id, for_update=True)
    if request.form.get("expected_restoration_at"):
        data = ChangeOutageSchema().load({"expected_restoration_at": _local_form_time(request.form["expected_restoration_at"])})
        restorations.change_restoration(db.session, actor, outage_id, data["expected_restoration_at"], now=now())
    if request.form.get("area_kind"):
        declare.change_area(db.session, actor, outage_id, _area_from_form(request.form), now=now(),
                            notifier=notifier_for(current_app))
    audit(db.session, actor, "update", "outage", outage_id, {"via": "desk"})
    db.session.commit()
    return redirect(url_for("outages.dashboard", outage_id=outage_id))


@bp.post("/outages/<int:outage_id>/restorations")
@require(*DESK)
def desk_restore(outage_id: int):
    """Part of the area has power again (municipality codes or a circle), from the dashboard."""
    actor = current_actor()
    result = restorations.restore_area(db.session, actor, outage_id, _area_from_form(request.form), now=now(),
                                       notifier=notifier_for(current_app))
    audit(db.session, actor, "update", "outage", outage_id, {"via": "desk", "restored": result["restored"]})
    db.session.commit()
    return redirect(url_for("outages.dashboard", outage_id=outage_id))


def _local_form_time(value: str) -> str:
    """<input type=datetime-local> gives Tokyo wall time without an offset."""
    if value.endswith("Z") or "+" in value[10:]:
        return value
    return f"{value}:00+09:00" if len(value) == 16 else f"{value}+09:00"


@bp.get("/outages/<int:outage_id>")
@require(*DESK)
def dashboard(outage_id: int):
    outage = access.outage_for(db.session, current_actor(), outage_id)
    audit(db.session, current_actor(), "read", "outage_dashboard", outage.id)
    db.session.commit()
    return render_template("outages/dashboard.html", outage=outage, checkin_labels=CHECKIN_LABELS,
                           transport_labels=TRANSPORT_LABELS, event_labels=report.EVENT_LABELS)


@bp.get("/outages/<int:outage_id>/live.json")
@require(*DESK)
def live(outage_id: int):
    """Everything the dashboard shows; it polls this every few seconds."""
    outage = access.outage_for(db.session, current_actor(), outage_id)
    at = now()
    rows = queries.triage_rows(db.session, outage, now=at, with_people=True, **tiers())
    by_contact = contacts.answer_labels(db.session, outage)      # answers a family contact gave
    for row in rows:
        row["answered_by"] = by_contact.get(row["patient_id"])
    body = {
        "now": iso_local(at),
        "outage": queries.outage_dict(outage, queries.summary(db.session, outage, rows)),
        "patients": rows,
        "transports": queries.transports(db.session, outage.id, with_people=True),
        "events": queries.events(db.session, outage.id, limit=100),
        "tasks": queries.tasks(db.session, outage.id),
        "facilities": queries.facilities_for_map(db.session, outage.region_code),
        "charging": transport.charging_suggestions(db.session, rows),
    }
    # The dashboard's data names people (polled every few seconds): every read is audited (issue 18).
    audit(db.session, current_actor(), "read", "outage_live", outage.id,
          {"patients": len(rows), "transports": len(body["transports"]), "tasks": len(body["tasks"])}, now=at)
    db.session.commit()
    return Response(current_app.json.dumps(body), mimetype="application/json",
                    headers={"Cache-Control": "no-store"})


@bp.get("/outages/<int:outage_id>/runsheet")
@require(*DESK)
def runsheet(outage_id: int):
    """The current list on paper, for when the network fails."""
    outage = access.outage_for(db.session, current_actor(), outage_id)
    at = now()
    rows = queries.triage_rows(db.session, outage, now=at, with_people=True, **tiers())
    audit(db.session, current_actor(), "export", "outage_runsheet", outage.id, {"count": len(rows)})
    db.session.commit()
    return render_template("outages/runsheet.html", outage=outage, rows=rows, now=at,
                           summary=queries.counts(rows, outage), checkin_labels=CHECKIN_LABELS,
                           transports={t["id"]: t for t in queries.transports(db.session, outage.id)},
                           transport_labels=TRANSPORT_LABELS,
                           contacts=registry_queries.contacts_for(db.session, [r["patient_id"] for r in rows]))


@bp.post("/outages/<int:outage_id>/resolve")
@require(*DESK)
def desk_resolve(outage_id: int):
    declare.resolve_outage(db.session, current_actor(), outage_id, now=now(), notifier=notifier_for(current_app))
    db.session.commit()
    return redirect(url_for("outages.dashboard", outage_id=outage_id))


@bp.post("/outages/<int:outage_id>/transports/<int:transport_id>")
@require(*DESK)
def desk_transport_status(outage_id: int, transport_id: int):
    """A transport of this outage only: one of another outage (or region) is not found."""
    transport.update_transport(db.session, current_actor(), transport_id, outage_id=outage_id,
                               status=request.form.get("status") or None,
                               facility_id=request.form.get("facility_id", type=int), now=now(),
                               notifier=notifier_for(current_app))
    db.session.commit()
    return redirect(url_for("outages.dashboard", outage_id=outage_id) + "#transports")
