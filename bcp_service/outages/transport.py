"""Transport: proposals for the desk, a bed held at the patient's designated facility (or the
nearest that can receive), the transport team's task and status, and where a family can charge
instead. The use cases check the actor's role and region scope (``access``); a facility is named
explicitly only in the actor's region.

Beds are held through ``outages.beds`` from the proposal on, counted across all active outages. One
live transport per patient and outage: the patient's ``outage_patients`` row is locked before a
transport is made (a family's answer, the desk and the clock's proposer queue on it), and a partial
unique index (``uq_transports_live``) refuses a second one whatever path tries.
"""
from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import exists, func, insert, select, update
from sqlalchemy.orm import Session

from bcp_service.auth.roles import Actor
from bcp_service.errors import Conflict, Invalid, NotFound
from bcp_service.geo.area import Point, area_from
from bcp_service.geo.nearest import geodesic_km
from bcp_service.orgs.models import Organization
from bcp_service.outages import access, beds, states, triage
from bcp_service.outages.matching import FacilityInfo, Matcher, Person
from bcp_service.outages.models import FacilityReservation, FieldTask, Outage, OutagePatient, Transport
from bcp_service.outages.ports import Notifier
from bcp_service.outages.states import OutageStatus, TaskStatus, TransportStatus
from bcp_service.outages.teams import ack_deadline, task_details, transport_team
from bcp_service.outages.timeline import event
from bcp_service.registry.models import Patient

PROPOSED, CANCELLED = TransportStatus.PROPOSED.value, TransportStatus.CANCELLED.value
NO_FACILITY = "受入可能な施設が見つかりません（電源・人工呼吸器受入・空床）"


def _facility_infos(session: Session, ids: list[int] | None = None) -> list[FacilityInfo]:
    """Facilities with the beds held across all active outages, and whether an active real outage
    darkens them."""
    stmt = select(
        Organization.id, Organization.name, Organization.lat, Organization.lon, Organization.has_generator,
        Organization.power_supply_point, Organization.accepts_ventilator, Organization.ventilator_beds,
        Organization.municipality_code, func.coalesce(FacilityReservation.reserved, 0),
    ).outerjoin(FacilityReservation, FacilityReservation.facility_id == Organization.id)
    stmt = stmt.where(Organization.id.in_(ids)) if ids is not None else stmt.where(Organization.lat.is_not(None))
    orgs = session.execute(stmt).all()
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
    return infos


def _live_transport(session: Session, outage_id: int, patient_id: int) -> Transport | None:
    return session.scalars(select(Transport).where(
        Transport.outage_id == outage_id, Transport.patient_id == patient_id,
        Transport.status != CANCELLED).order_by(Transport.id.desc())).first()


def _locked_row(session: Session, outage_id: int, patient_id: int) -> OutagePatient:
    row = session.scalars(select(OutagePatient).where(OutagePatient.outage_id == outage_id,
                                                      OutagePatient.patient_id == patient_id)
                          .with_for_update()).first()
    if row is None:
        raise NotFound("この停電の対象者ではありません。")
    return row


def request_transport(session: Session, actor: Actor, *, outage_id: int, patient_id: int, reason: str,
                      now: datetime, notifier: Notifier, facility_id: int | None = None) -> Transport:
    """The desk asks for transport now (at a named facility of its region, or per the plan / nearest)."""
    outage = access.outage_for(session, actor, outage_id)
    return arrange(session, actor, outage, patient_id, reason=reason, now=now, notifier=notifier,
                   facility_id=facility_id, actor_user_id=actor.user_id)


def arrange(session: Session, actor: Actor, outage: Outage, patient_id: int, *, reason: str, now: datetime,
            notifier: Notifier, facility_id: int | None = None, actor_user_id: int | None = None) -> Transport:
    """Transport now (answer 3, field report, desk) in an outage the caller has checked: the
    designated facility or the nearest with power and a free bed, bed held, task to the transport
    team. A live proposal is confirmed (keeping its bed); idempotent per patient and outage."""
    if outage.status != OutageStatus.ACTIVE:
        raise Conflict("復旧済みの停電では搬送を手配できません。")
    row = _locked_row(session, outage.id, patient_id)
    existing = _live_transport(session, outage.id, patient_id)
    if existing is not None and existing.status != PROPOSED:
        return existing
    patient = session.get(Patient, patient_id)
    transport = existing or Transport(outage_id=outage.id, patient_id=patient_id, status=PROPOSED,
                                      reason=reason, created_at=now, updated_at=now, bed_reserved=False,
                                      transport_needs=patient.transport_needs if patient else None)
    if existing is None:
        session.add(transport)
        session.flush()
    transport.reason = reason      # a confirmed proposal takes the reason it was confirmed for
    _assign(session, actor, outage, transport, patient, now=now, notifier=notifier, facility_id=facility_id)
    row.transport_id = transport.id
    event(session, outage.id, "transport", at=now, patient_id=patient_id, transport_id=transport.id,
          status=transport.status, facility_id=transport.facility_id, reason=reason,
          designated=bool(patient and transport.facility_id and transport.facility_id == patient.designated_facility_id),
          actor_user_id=actor_user_id)
    return transport


def _named_facility(session: Session, actor: Actor, transport: Transport, patient: Patient | None,
                    facility_id: int) -> tuple[int, str, float | None]:
    """The desk names a facility: it must be in its region, have power and a free bed (409 otherwise)."""
    info = next(iter(_facility_infos(session, [facility_id])), None)
    target = session.get(Organization, facility_id)
    if info is None or target is None:
        raise NotFound(f"facility {facility_id} not found", fields={"facility_id": ["存在しません"]})
    access.check_facility(actor, target.region_code)
    km = None
    if patient is not None and None not in (patient.lat, patient.lon, target.lat, target.lon):
        km = round(float(geodesic_km(patient.lat, patient.lon, target.lat, target.lon)), 2)
    if transport.bed_reserved and transport.facility_id == facility_id:
        return target.id, target.name, km
    if not info.has_power:
        raise Conflict(f"{target.name} は停電中で電源（発電機）がありません。", code="no_power")
    if not info.accepts_ventilator or not beds.hold(session, target.id):
        raise Conflict(f"{target.name} に空きベッドがありません。", code="no_free_bed")
    beds.release_transport(session, transport)
    return target.id, target.name, km


def _assign(session: Session, actor: Actor, outage: Outage, transport: Transport, patient: Patient | None, *,
            now: datetime, notifier: Notifier, facility_id: int | None = None) -> None:
    """Hold a bed (the named facility; else the bed the proposal already holds; else the plan's
    facility or the nearest that can receive) and send the task; stays proposed when none can."""
    if facility_id is not None:
        chosen = _named_facility(session, actor, transport, patient, facility_id)
    elif transport.bed_reserved and transport.facility_id is not None:
        org = session.get(Organization, transport.facility_id)
        chosen = (org.id, org.name, transport.distance_km)
    else:
        tried: list[int] = []
        while True:
            match = Matcher(_facility_infos(session)).transport_target(
                patient.lat if patient else None, patient.lon if patient else None,
                designated_id=patient.designated_facility_id if patient else None, exclude=tried)
            if match is None:
                transport.status, transport.facility_id, transport.updated_at = PROPOSED, None, now
                transport.note = NO_FACILITY
                return
            if beds.hold(session, match.facility_id):
                chosen = (match.facility_id, match.facility_name, match.km)
                break
            tried.append(match.facility_id)     # taken meanwhile: try the next
    transport.facility_id, transport.distance_km = chosen[0], chosen[2]
    transport.status, transport.bed_reserved, transport.updated_at, transport.note = (
        TransportStatus.ASSIGNED.value, True, now, None)
    session.flush()
    _transport_task(session, outage, transport, patient, facility_name=chosen[1], now=now, notifier=notifier)


def _transport_task(session: Session, outage: Outage, transport: Transport, patient: Patient | None, *,
                    facility_name: str, now: datetime, notifier: Notifier) -> None:
    team = transport_team(session, outage, patient)
    row = session.scalars(select(OutagePatient).where(OutagePatient.outage_id == outage.id,
                                                      OutagePatient.patient_id == transport.patient_id)).first()
    details = task_details(outage, row, patient, now=now) if row else {"patient_id": transport.patient_id}
    details.update(facility_id=transport.facility_id, facility_name=facility_name,
                   distance_km=transport.distance_km, transport_needs=transport.transport_needs)
    task = FieldTask(outage_id=outage.id, patient_id=transport.patient_id, transport_id=transport.id,
                     organization_id=team.id if team else None, kind="transport", status=TaskStatus.OPEN.value,
                     details=details, created_at=now, ack_deadline_at=ack_deadline(
                         "transport", row.runs_out_at if row else None, now=now,
                         safety_margin_minutes=outage.safety_margin_minutes))
    session.add(task)
    session.flush()
    unsent = notifier.transport_task(session, outage, task, to=team.phone if team else None,
                                     facility_name=facility_name, now=now)
    if unsent:
        event(session, outage.id, "task_unsent", at=now, patient_id=transport.patient_id, task_id=task.id,
              organization_id=team.id if team else None, reason=unsent)


def propose_transport(session: Session, outage: Outage, row: OutagePatient, *, now: datetime) -> Transport | None:
    """A suggestion for the desk, holding a bed (the caller holds the patient's row lock)."""
    if _live_transport(session, outage.id, row.patient_id) is not None:
        return None
    patient = session.get(Patient, row.patient_id)
    match, tried = None, []
    while patient is not None:
        match = Matcher(_facility_infos(session)).transport_target(
            patient.lat, patient.lon, designated_id=patient.designated_facility_id, exclude=tried)
        if match is None or outage.drill or beds.hold(session, match.facility_id):
            break
        tried.append(match.facility_id)
    t = Transport(outage_id=outage.id, patient_id=row.patient_id, status=PROPOSED,
                  reason="runs_out_before_restoration", facility_id=match.facility_id if match else None,
                  distance_km=match.km if match else None, bed_reserved=match is not None and not outage.drill,
                  created_at=now,
                  updated_at=now, note=None if match else NO_FACILITY,
                  transport_needs=patient.transport_needs if patient else None)
    session.add(t)
    session.flush()
    row.transport_id = t.id
    event(session, outage.id, "transport_proposed", at=now, patient_id=row.patient_id, transport_id=t.id,
          facility_id=t.facility_id)
    return t


def propose_transports(session: Session, actor: Actor, outage_id: int, *, now: datetime,
                       include_ok: bool = True) -> int:
    """For everyone in the outage who will run out before restoration (whatever they answered: the
    desk decides; ``include_ok=False`` leaves families who answered 「1」 to their own re-checks) and has
    no live transport, and for proposals still without a facility: one matching run in triage order, so
    proposals spread over free beds. Rows another transaction is working on (a family answering right
    now) are skipped and taken at the next run."""
    outage = access.outage_for(session, actor, outage_id)
    if outage.status != OutageStatus.ACTIVE:
        return 0
    live = exists().where(Transport.outage_id == OutagePatient.outage_id,
                          Transport.patient_id == OutagePatient.patient_id, Transport.status != CANCELLED)
    waiting = exists().where(Transport.outage_id == OutagePatient.outage_id,
                             Transport.patient_id == OutagePatient.patient_id, Transport.status == PROPOSED,
                             Transport.facility_id.is_(None))
    rows = session.execute(
        select(OutagePatient.patient_id, OutagePatient.runs_out_at, Patient.lat, Patient.lon,
               Patient.designated_facility_id, Patient.transport_needs, waiting)
        .join(Patient, Patient.id == OutagePatient.patient_id)
        .where(OutagePatient.outage_id == outage.id, OutagePatient.in_area.is_(True), ~live | waiting,
               OutagePatient.restored_at.is_(None), *(() if include_ok else (OutagePatient.checkin != "ok",)),
               OutagePatient.runs_out_at <= (outage.expected_restoration_at
                                             or now + timedelta(hours=triage.RED_HOURS)))
        .order_by(OutagePatient.runs_out_at, OutagePatient.patient_id)
        .with_for_update(of=OutagePatient, skip_locked=True)).all()
    due = [r for r in rows
           if triage.needs_transport_before_restoration(r[1], outage.expected_restoration_at, now=now)]
    if not due:
        return 0
    matches = Matcher(_facility_infos(session)).assign_many([Person(r[2], r[3], r[4]) for r in due])
    held = not outage.drill        # a drill's proposals never hold a real bed
    if held:
        granted = beds.hold_many(session, [m.facility_id for m in matches if m is not None])
        matches = [m if m is not None and m.facility_id in granted else None for m in matches]
    fresh = [(r, m) for r, m in zip(due, matches) if not r[6]]
    if fresh:
        session.execute(insert(Transport), [
            {"outage_id": outage.id, "patient_id": r[0], "status": PROPOSED,
             "reason": "runs_out_before_restoration", "facility_id": m.facility_id if m else None,
             "distance_km": m.km if m else None, "bed_reserved": held and m is not None, "created_at": now,
             "updated_at": now, "note": None if m else NO_FACILITY, "transport_needs": r[5]} for r, m in fresh])
    placed = 0
    for r, m in zip(due, matches):
        if r[6] and m is not None:     # a proposal that had no facility finally gets one
            placed += session.execute(update(Transport).where(
                Transport.outage_id == outage.id, Transport.patient_id == r[0], Transport.status == PROPOSED,
                Transport.facility_id.is_(None)).values(facility_id=m.facility_id, distance_km=m.km,
                                                        bed_reserved=held, note=None, updated_at=now)
                .execution_options(synchronize_session=False)).rowcount
    session.execute(update(OutagePatient).where(OutagePatient.outage_id == outage.id, OutagePatient.transport_id.is_(None),
                                                live)
                    .values(transport_id=select(Transport.id).where(
                        Transport.outage_id == OutagePatient.outage_id, Transport.patient_id == OutagePatient.patient_id,
                        Transport.status != CANCELLED).scalar_subquery())
                    .execution_options(synchronize_session=False))
    if fresh or placed:
        event(session, outage.id, "transports_proposed", at=now, count=len(fresh), placed=placed,
              without_facility=sum(1 for _, m in fresh if m is None),
              designated=sum(1 for m in matches if m is not None and m.designated))
    return len(fresh) + placed


def release_on_resolve(session: Session, outage: Outage, *, now: datetime) -> int:
    """The outage is over: proposals nobody confirmed are cancelled, and every bed this outage held
    is given back (beds are counted across active outages only). Returns proposals cancelled."""
    cancelled = 0
    for t in session.scalars(select(Transport).where(Transport.outage_id == outage.id,
                                                     Transport.status != CANCELLED)).all():
        beds.release_transport(session, t)
        if t.status == PROPOSED:
            t.status, t.updated_at = CANCELLED, now
            cancelled += 1
    return cancelled


def transport_for(session: Session, actor: Actor, transport_id: int, *, outage_id: int | None = None,
                  for_update: bool = False) -> Transport:
    """The transport if the actor may act in its outage's region; when ``outage_id`` is given (a page
    under one outage), a transport of any other outage is not found."""
    stmt = select(Transport).where(Transport.id == transport_id)
    t = session.scalars(stmt.with_for_update() if for_update else stmt).first()
    if t is None or (outage_id is not None and t.outage_id != outage_id):
        raise NotFound(f"transport {transport_id} not found")
    access.outage_for(session, actor, t.outage_id, roles=access.TEAM)
    access.check_transport_team(session, actor, t.id)
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
    active = outage.status == OutageStatus.ACTIVE
    moves = facility_id is not None and facility_id != t.facility_id
    wants_bed = status is not None and states.transport_holds_bed(status)
    if moves or (wants_bed and t.status == PROPOSED) or (wants_bed and not t.bed_reserved and active):
        if not active:
            raise Conflict("復旧済みの停電では新たに搬送を手配できません。")
        # A named facility is strict (409 without power or a bed); otherwise the bed the proposal
        # holds, the plan's facility or the nearest.
        _assign(session, actor, outage, t, patient, now=now, notifier=notifier, facility_id=facility_id)
        if t.status == PROPOSED:
            raise Conflict("受入可能な施設がありません。", code="no_free_bed")
    if status == CANCELLED:
        beds.release_transport(session, t)     # a declined proposal gives its bed back too
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
    matcher = Matcher(_facility_infos(session))
    return {str(r["patient_id"]): [{"name": m.facility_name, "distance_km": m.km}
                                   for m in matcher.charging_points(r["lat"], r["lon"], k=2)]
            for r in wanted}
