"""Ventilator beds held at facilities, counted across all active outages.

A transport holds a bed from the moment it is proposed with a facility until it is cancelled (the
desk declines it) or its outage is resolved. ``facility_reservations.reserved`` is the count; it
changes only through conditional UPDATEs (``reserved + n <= ventilator_beds``), so two transactions
can never put an 11th patient into a facility with 10 beds, on either database.
"""
from __future__ import annotations

from collections import Counter
from typing import Iterable

from sqlalchemy import case, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from bcp_service.orgs.models import Organization
from bcp_service.outages.models import FacilityReservation, Transport


def _ensure_rows(session: Session, facility_ids: Iterable[int]) -> None:
    ids = sorted(set(facility_ids))
    if not ids:
        return
    ins = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    session.execute(ins(FacilityReservation).values([{"facility_id": i, "reserved": 0} for i in ids])
                    .on_conflict_do_nothing(index_elements=["facility_id"]))


def hold(session: Session, facility_id: int, n: int = 1) -> bool:
    """Take ``n`` beds at once if that many are free (all or none)."""
    _ensure_rows(session, [facility_id])
    beds = select(Organization.ventilator_beds).where(Organization.id == facility_id).scalar_subquery()
    result = session.execute(update(FacilityReservation)
                             .where(FacilityReservation.facility_id == facility_id,
                                    FacilityReservation.reserved + n <= beds)
                             .values(reserved=FacilityReservation.reserved + n)
                             .execution_options(synchronize_session=False))
    return result.rowcount == 1


def hold_many(session: Session, facility_ids: Iterable[int]) -> set[int]:
    """One bed per entry (a facility may appear several times), in one statement; returns the
    facilities where every bed asked for was taken. A facility that filled up meanwhile is left
    untouched (the conditional UPDATE skips it)."""
    wanted = Counter(facility_ids)
    if not wanted:
        return set()
    _ensure_rows(session, wanted)
    n = case(dict(wanted), value=FacilityReservation.facility_id, else_=0)
    beds = select(Organization.ventilator_beds).where(
        Organization.id == FacilityReservation.facility_id).scalar_subquery()
    result = session.execute(update(FacilityReservation)
                             .where(FacilityReservation.facility_id.in_(sorted(wanted)),
                                    FacilityReservation.reserved + n <= beds)
                             .values(reserved=FacilityReservation.reserved + n)
                             .returning(FacilityReservation.facility_id)
                             .execution_options(synchronize_session=False))
    return set(result.scalars())


def release(session: Session, facility_id: int, n: int = 1) -> None:
    session.execute(update(FacilityReservation)
                    .where(FacilityReservation.facility_id == facility_id, FacilityReservation.reserved >= n)
                    .values(reserved=FacilityReservation.reserved - n)
                    .execution_options(synchronize_session=False))


def release_transport(session: Session, t: Transport) -> None:
    """The transport gives its bed back (cancelled, declined, or its outage resolved)."""
    if t.bed_reserved and t.facility_id is not None:
        release(session, t.facility_id)
    t.bed_reserved = False


def held(session: Session) -> dict[int, int]:
    return dict(session.execute(select(FacilityReservation.facility_id, FacilityReservation.reserved)).all())
