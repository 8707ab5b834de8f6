"""Demo seed: a few hundred synthetic patients with realistic device mixes, spread over the demo
region's municipalities and linked to its clinics, nursing stations and receiving facilities."""
from __future__ import annotations

from bcp_service.auth.roles import Actor, Role
from bcp_service.appclock import get_clock
from bcp_service.registry import bulk_import
from bcp_service.registry.services import RunwayPolicy
from bcp_service.registry.schemas import PatientIn
from bcp_service.registry.synthetic import synthetic_rows
from bcp_service.registry.tabular import Row, parse_rows


def seed(session, ctx) -> int:
    clinics = [o.id for o in ctx.orgs_of_kind("clinic")]
    nursing = [o.id for o in ctx.orgs_of_kind("home_nursing")]
    facilities = [o.id for o in ctx.organizations.values() if o.accepts_ventilator or o.power_supply_point]
    cells = synthetic_rows(ctx.rng, ctx.patients, ctx.municipalities, region_code=ctx.region.code,
                           primary_org_ids=clinics, nursing_org_ids=nursing, facility_ids=facilities)
    good, bad = parse_rows([Row(i + 2, c) for i, c in enumerate(cells)], PatientIn())
    if bad:  # the generator and the schema disagree: a bug, not something to hide
        raise RuntimeError(f"synthetic rows failed validation: {bad[:3]}")
    system = Actor(user_id=None, role=Role.ADMIN, scope=None)
    return bulk_import.import_patients(session, system, good, now=get_clock().now(), policy=RunwayPolicy())
