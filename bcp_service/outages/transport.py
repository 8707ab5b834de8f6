"""Transport: proposals for the desk, a bed reserved at the nearest facility that can receive, the
transport team's task and status, and where a family can charge instead. The use cases check the
actor's role and region scope (``access``); a bed is reserved by name only in the actor's region.
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bcp_service.auth.roles import Actor
from bcp_service.errors import Conflict, Invalid, NotFound
from bcp_service.geo.area import Point, area_from
from bcp_service.orgs.models import Organization
from bcp_service.outages import access, states, triage
from bcp_service.outages.matching import FacilityInfo, Matcher
from bcp_service.outages.models import FacilityReservation, FieldTask, Outage, OutagePatient, Transport
from bcp_service.outages.ports import Notifier
from bcp_service.outages.states import OutageStatus, TaskStatus, TransportStatus
from bcp_service.outages.teams import task_details, transport_team
from bcp_service.outages.timeline import event
from bcp_service.registry.models import Patient

PROPOSED, CANCELLED = TransportStatus.PROPOSED.value, TransportStatus.CANCELLED.value


def _facility_infos(session: Session, *, count_proposed: bool = True) -> list[FacilityInfo]:
    """Facilities with their reservations applied and whether an active real outage darkens them."""
    orgs = session.execute(select(
        Organization.id, Organization.name, Organization.lat, Organization.lon, Organization.has_generator,
        Organization.power_supply_point, Organization.accepts_ventilator, Organization.ventilator_beds,
        Organization.municipality_code, func.coalesce(FacilityReservation.reserved, 0),
    ).outerjoin(FacilityReservation, FacilityReservation.facility_id == Organization.id)
        .where(Organization.lat.is_not(None))).all()
    active = session.scalars(select(Outage).where(Outage.status == OutageStatus.ACTIVE.value, Outage.drill.is_(False))).all()
    areas = [area_from(o.area) for o in active]
    infos = [FacilityInfo(id=o[0], name=o[1], lat=o[2], lon=o[3], has_generator=o[4],
                          power_supply_point=o[5], accepts_ventilator=o[6], ventilator_beds=o[7] or 0,
                          reserved=o[9]) for o in orgs]
    if areas:
        points = [Point(f.id, f.lat, f.lon, m) for f, m in zip(infos, (o[8] for o in orgs))]
        dark: set[int] = set()
        for a in areas:
            dark.update(a.select(points))
        for f in infos:
            f.in_outage = f.id in dark
    if not count_proposed:
        return infos
    # Count beds already promised to unconfirmed proposals so one run does not over-propose.
    pending = dict(session.execute(select(Transport.facility_id, func.count()).where(
        Transport.status == PROPOSED, Transport.facility_id.is_not(None)).group_by(Transport.facility_id)).all())
    for f in infos:
        f.reserved += pending.get(f.id, 0)
    return infos


def _reserve_bed(session: Session, facility_id: int) -> bool:
    """Atomically take one ventilator bed if one is free (a conditional UPDATE: no lost updates)."""
    if session.get(FacilityReservation, facility_id) is None:
        try:
            with session.begin_nested():
                session.add(FacilityReservation(facility_id=facility_id, reserved=0))
        except IntegrityError:
            pass  # another transaction created it first
    beds = select(Organization.ventilator_beds).where(Organization.id == facility_id).scalar_subquery()
    result = session.execute(update(FacilityReservation)
                             .where(FacilityReservation.facility_id == facility_id,
                                    FacilityReservation.reserved < beds)
                             .values(reserved=FacilityReservation.reserved + 1)
                             .execution_options(synchronize_session=False))
    return result.rowcount == 1


def _release_bed(session: Session, facility_id: int) -> None:
    session.execute(update(FacilityReservation)
                    .where(FacilityReservation.facility_id == facility_id, FacilityReservation.reserved > 0)
                    .values(reserved=FacilityReservation.reserved - 1)
                    .execution_options(synchronize_session=False))


def _open_transport(session: Session, outage_id: int, patient_id: int) -> Transport | None:
    return session.scalars(select(Transport).where(
        Transport.outage_id == outage_id, Transport.patient_id == patient_id,
        Transport.status.not_in((CANCELLED,))).order_by(Transport.id.desc())).first()


def request_transport(session: Session, actor: Actor, *, outage_id: int, patient_id: int, reason: str,
                      now: datetime, notifier: Notifier, facility_id: int | None = None) -> Transport:
    """The desk asks for transport now (at a named facility of its region, or the nearest)."""
    outage = access.outage_for(session, actor, outage_id)
    return arrange(session, actor, outage, patient_id, reason=reason, now=now, notifier=notifier,
                   facility_id=facility_id, actor_user_id=actor.user_id)


def arrange(session: Session, actor: Actor, outage: Outage, patient_id: int, *, reason: str, now: datetime,
            notifier: Notifier, facility_id: int | None = None, actor_user_id: int | None = None) -> Transport:
    """Transport now (answer 3, field report, desk) in an outage the caller has checked: nearest
    facility with power and a free bed, bed reserved, task to the transport team. Idempotent per
    patient and outage."""
    outage_id = outage.id
    if outage.status != OutageStatus.ACTIVE:
        raise Conflict("復旧済みの停電では搬送を手配できません。")
    row = session.scalars(select(OutagePatient).where(OutagePatient.outage_id == outage_id,
                                                      OutagePatient.patient_id == patient_id)).first()
    if row is None:
        raise NotFound("この停電の対象者ではありません。")
    existing = _open_transport(session, outage_id, patient_id)
    if existing is not None and existing.status != PROPOSED:
        return existing
    patient = session.get(Patient, patient_id)
    transport = existing or Transport(outage_id=outage_id, patient_id=patient_id, status=PROPOSED,
                                      reason=reason, created_at=now, updated_at=now, bed_reserved=False)
    if existing is None:
        session.add(transport)
    transport.reason = reason      # a confirmed proposal takes the reason it was confirmed for
    _assign(session, actor, outage, transport, patient, now=now, notifier=notifier, facility_id=facility_id)
    session.flush()
    row.transport_id = transport.id
    event(session, outage_id, "transport", at=now, patient_id=patient_id, transport_id=transport.id,
          status=transport.status, facility_id=transport.facility_id, reason=reason,
          actor_user_id=actor_user_id)
    return transport


def _assign(session: Session, actor: Actor, outage: Outage, transport: Transport, patient: Patient | None, *,
            now: datetime, notifier: Notifier, facility_id: int | None = None) -> None:
    """Reserve a bed at the given facility, or at the nearest one that can receive; assigned on success."""
    tried: list[int] = []
    while True:
        if facility_id is not None:
            target, km = session.get(Organization, facility_id), None
            if target is None:
                raise NotFound(f"facility {facility_id} not found", fields={"facility_id": ["存在しません"]})
            access.check_facility(actor, target.region_code)
            if patient is not None and target.lat is not None and patient.lat is not None:
                from geopy.distance import geodesic
                km = round(geodesic((patient.lat, patient.lon), (target.lat, target.lon)).km, 2)
            if not _reserve_bed(session, target.id):
                raise Conflict(f"{target.name} に空きベッドがありません。", code="no_free_bed")
            chosen = (target.id, target.name, km)
        else:
            # A real request outranks unconfirmed proposals: only reserved beds count as taken.
            infos = [f for f in _facility_infos(session, count_proposed=False) if f.id not in tried]
            match = Matcher(infos).transport_target(patient.lat if patient else None,
                                                    patient.lon if patient else None)
            if match is None:
                transport.status, transport.facility_id, transport.updated_at = PROPOSED, None, now
                transport.note = "受入可能な施設が見つかりません（電源・人工呼吸器受入・空床）"
                return
            if not _reserve_bed(session, match.facility_id):
                tried.append(match.facility_id)     # taken meanwhile: try the next nearest
                continue
            chosen = (match.facility_id, match.facility_name, match.km)
        transport.facility_id, transport.distance_km = chosen[0], chosen[2]
        transport.status, transport.bed_reserved, transport.updated_at, transport.note = (
            TransportStatus.ASSIGNED.value, True, now, None)
        session.flush()
        _transport_task(session, outage, transport, patient, facility_name=chosen[1], now=now, notifier=notifier)
        return


def _transport_task(session: Session, outage: Outage, transport: Transport, patient: Patient | None, *,
                    facility_name: str, now: datetime, notifier: Notifier) -> None:
    team = transport_team(session, outage, patient)
    row = session.scalars(select(OutagePatient).where(OutagePatient.outage_id == outage.id,
                                                      OutagePatient.patient_id == transport.patient_id)).first()
    details = task_details(outage, row, patient, now=now) if row else {"patient_id": transport.patient_id}
    details.update(facility_id=transport.facility_id, facility_name=facility_name,
                   distance_km=transport.distance_km)
    task = FieldTask(outage_id=outage.id, patient_id=transport.patient_id, transport_id=transport.id,
                     organization_id=team.id if team else None, kind="transport", status=TaskStatus.OPEN.value,
                     details=details, created_at=now)
    session.add(task)
    session.flush()
    unsent = notifier.transport_task(session, outage, task, to=team.phone if team else None,
                                     facility_name=facility_name, now=now)
    if unsent:
        event(session, outage.id, "task_unsent", at=now, patient_id=transport.patient_id, task_id=task.id,
              organization_id=team.id if team else None, reason=unsent)


def propose_transport(session: Session, outage: Outage, row: OutagePatient, *, now: datetime) -> Transport | None:
    """A suggestion for the desk (no bed reserved until it is confirmed as ``assigned``)."""
    if _open_transport(session, outage.id, row.patient_id) is not None:
        return None
    patient = session.get(Patient, row.patient_id)
    match = Matcher(_facility_infos(session)).transport_target(patient.lat, patient.lon) if patient else None
    t = Transport(outage_id=outage.id, patient_id=row.patient_id, status=PROPOSED,
                  reason="runs_out_before_restoration", facility_id=match.facility_id if match else None,
                  distance_km=match.km if match else None, bed_reserved=False, created_at=now, updated_at=now,
                  note=None if match else "受入可能な施設が見つかりません")
    session.add(t)
    session.flush()
    row.transport_id = t.id
    event(session, outage.id, "transport_proposed", at=now, patient_id=row.patient_id, transport_id=t.id,
          facility_id=t.facility_id)
    return t


def propose_transports(session: Session, actor: Actor, outage_id: int, *, now: datetime,
                       include_ok: bool = False) -> int:
    """For everyone in the outage who will run out before restoration and has no transport yet:
    one matching run (facilities indexed once) so proposals spread over free beds. Families who
    answered 「1」 are left to their own re-checks unless ``include_ok`` (a changed restoration)."""
    outage = access.outage_for(session, actor, outage_id)
    if outage.status != OutageStatus.ACTIVE:
        return 0
    rows = session.execute(
        select(OutagePatient, Patient.lat, Patient.lon)
        .join(Patient, Patient.id == OutagePatient.patient_id)
        .where(OutagePatient.outage_id == outage.id, OutagePatient.in_area.is_(True),
               OutagePatient.restored_at.is_(None), OutagePatient.transport_id.is_(None),
               *(() if include_ok else (OutagePatient.checkin != "ok",)))
        .order_by(OutagePatient.runs_out_at)).all()
    due = [(r, lat, lon) for r, lat, lon in rows
           if triage.needs_transport_before_restoration(r.runs_out_at, outage.expected_restoration_at, now=now)]
    if not due:
        return 0
    matcher = Matcher(_facility_infos(session))
    made = []
    for r, lat, lon in due:
        m = matcher.assign(lat, lon)
        made.append({"outage_id": outage.id, "patient_id": r.patient_id, "status": PROPOSED,
                     "reason": "runs_out_before_restoration", "facility_id": m.facility_id if m else None,
                     "distance_km": m.km if m else None, "bed_reserved": False, "created_at": now,
                     "updated_at": now, "note": None if m else "受入可能な施設が見つかりません"})
    session.execute(insert(Transport), made)
    ids = dict(session.execute(select(Transport.patient_id, Transport.id).where(
        Transport.outage_id == outage.id, Transport.status == PROPOSED)).all())
    for r, _, _ in due:
        r.transport_id = ids.get(r.patient_id)
    event(session, outage.id, "transports_proposed", at=now, count=len(made),
          without_facility=sum(1 for m in made if m["facility_id"] is None))
    return len(made)


def transport_for(session: Session, actor: Actor, transport_id: int, *, outage_id: int | None = None,
                  for_update: bool = False) -> Transport:
    """The transport if the actor may act in its outage's region; when ``outage_id`` is given (a page
    under one outage), a transport of any other outage is not found."""
    stmt = select(Transport).where(Transport.id == transport_id)
    t = session.scalars(stmt.with_for_update() if for_update else stmt).first()
    if t is None or (outage_id is not None and t.outage_id != outage_id):
        raise NotFound(f"transport {transport_id} not found")
    access.outage_for(session, actor, t.outage_id, roles=access.TEAM)
    return t


def update_transport(session: Session, actor: Actor, transport_id: int, *, status: str | None,
                     facility_id: int | None, now: datetime, notifier: Notifier, via: str = "desk",
                     outage_id: int | None = None) -> Transport:
    """One-tap status from the team (assigned → en_route → arrived / cancelled) or the desk's override
    (any step back or forward from a non-final state, or another facility)."""
    t = transport_for(session, actor, transport_id, outage_id=outage_id, for_update=True)
    if status is not None and status not in states.REQUESTABLE_TRANSPORT:
        raise Invalid("status が不正です。", fields={"status": ["assigned|en_route|arrived|cancelled"]})
    if status is None and facility_id is None:
        raise Invalid("status か facility_id を指定してください。", fields={"status": ["必須です"]})
    if states.transport_is_final(t.status):
        if status == t.status and facility_id in (None, t.facility_id):
            return t   # the same tap twice
        raise Conflict(f"搬送はすでに「{t.status}」です。", code="wrong_state")
    if status is not None and not states.may_move_transport(t.status, status):
        raise Conflict(f"{t.status} から {status} には変更できません。", code="wrong_state")
    outage = access.get_outage(session, t.outage_id)
    patient = session.get(Patient, t.patient_id)
    before = (t.status, t.facility_id)
    if facility_id is not None and facility_id != t.facility_id or (
            status is not None and states.transport_holds_bed(status) and not t.bed_reserved):
        if outage.status != OutageStatus.ACTIVE and not t.bed_reserved:
            raise Conflict("復旧済みの停電では新たに搬送を手配できません。")
        if t.bed_reserved and t.facility_id is not None:
            _release_bed(session, t.facility_id)
            t.bed_reserved = False
        # An explicit facility is strict (409 when full); otherwise the nearest with a free bed.
        _assign(session, actor, outage, t, patient, now=now, notifier=notifier, facility_id=facility_id)
        if t.status == PROPOSED:
            raise Conflict("受入可能な施設がありません。", code="no_free_bed")
    if status == CANCELLED and t.bed_reserved and t.facility_id is not None:
        _release_bed(session, t.facility_id)
        t.bed_reserved = False
    if status is not None:
        t.status = TransportStatus(status).value
    t.updated_at = now
    if t.status == CANCELLED:
        session.execute(update(OutagePatient).where(OutagePatient.outage_id == t.outage_id,
                                                    OutagePatient.patient_id == t.patient_id,
                                                    OutagePatient.transport_id == t.id)
                        .values(transport_id=None))
    for task in session.scalars(select(FieldTask).where(FieldTask.transport_id == t.id)):
        task.status = states.task_after_transport(task.status, t.status).value
    event(session, t.outage_id, "transport_status", at=now, patient_id=t.patient_id, transport_id=t.id,
          before=before[0], status=t.status, facility_id=t.facility_id, via=via, actor_user_id=actor.user_id)
    return t


def charging_points(session: Session, actor: Actor, outage_id: int, patient_id: int, *, k: int = 3) -> list[dict]:
    """Where a family of this outage can charge batteries when transport is not needed."""
    outage = access.outage_for(session, actor, outage_id)
    patient = session.scalars(select(Patient).join(OutagePatient, OutagePatient.patient_id == Patient.id).where(
        OutagePatient.outage_id == outage.id, Patient.id == patient_id)).first()
    if patient is None:
        raise NotFound("patient not found")
    matcher = Matcher(_facility_infos(session))
    return [{"facility_id": m.facility_id, "name": m.facility_name, "distance_km": m.km}
            for m in matcher.charging_points(patient.lat, patient.lon, k=k)]


def charging_suggestions(session: Session, rows: list[dict]) -> dict:
    """For the dashboard's triage rows (already scoped): where a family with a low battery but no
    need for transport can charge (nearest 2 with power), and the alternative beside an unconfirmed
    proposal (the desk decides: transport, or a charging plan)."""
    wanted = [r for r in rows if (r["checkin"] == "low_battery" and r["transport_id"] is None)
              or r.get("transport_status") == PROPOSED][:50]
    if not wanted:
        return {}
    matcher = Matcher(_facility_infos(session, count_proposed=False))
    return {str(r["patient_id"]): [{"name": m.facility_name, "distance_km": m.km}
                                   for m in matcher.charging_points(r["lat"], r["lon"], k=2)]
            for r in wanted}
