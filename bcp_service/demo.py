"""Synthetic demo world: one real 圏域 (東京都 区中央部: real municipality codes and coordinates),
invented organisations and people. The subpackages' seeds (``seed(session, ctx)``) extend it in the
order listed in ``bcp_service.wiring.DEMO_SEEDS``.
"""
from __future__ import annotations

import logging
import random
from dataclasses import dataclass, field
from typing import Callable, Sequence

from sqlalchemy import select

from bcp_service.auth import services as auth_services
from bcp_service.auth.models import User
from bcp_service.appclock import get_clock
from bcp_service.db import db
from bcp_service.orgs.models import Organization, Region

log = logging.getLogger(__name__)

DEMO_PASSWORD = "demo-password-2026"

REGION = {"code": "1301", "name": "区中央部", "prefecture_code": "13", "kind": "secondary_medical_area"}
# Municipality code (JIS X 0402 with check digit), name, ward-office coordinates.
MUNICIPALITIES = (
    ("131016", "千代田区", 35.6940, 139.7536),
    ("131024", "中央区", 35.6706, 139.7720),
    ("131032", "港区", 35.6581, 139.7516),
    ("131059", "文京区", 35.7080, 139.7524),
    ("131067", "台東区", 35.7126, 139.7800),
)

FIELD_TEAM_KINDS = ("home_nursing", "clinic", "community_support_center")
# (name, kind, municipality index, offset lat, offset lon, capabilities)
ORGANIZATIONS = (
    ("試験中央総合病院", "hospital", 1, 0.004, -0.003, dict(has_generator=True, accepts_ventilator=True, ventilator_beds=6, power_supply_point=True, on_call_24h=True)),
    ("試験文京大学病院", "hospital", 3, -0.002, 0.004, dict(has_generator=True, accepts_ventilator=True, ventilator_beds=10, on_call_24h=True)),
    ("試験台東記念病院", "hospital", 4, 0.003, 0.002, dict(has_generator=False, accepts_ventilator=True, ventilator_beds=2)),
    ("試験港南病院", "hospital", 2, -0.006, 0.003, dict(has_generator=True, accepts_ventilator=False, power_supply_point=True)),
    ("試験在宅クリニック千代田", "clinic", 0, 0.002, 0.002, dict(on_call_24h=True)),
    ("試験ひまわり在宅診療所", "clinic", 3, 0.005, -0.004, dict(on_call_24h=True)),
    ("試験あおば診療所", "clinic", 4, -0.003, -0.002, dict()),
    ("試験訪問看護ステーションさくら", "home_nursing", 1, -0.002, 0.005, dict(on_call_24h=True)),
    ("試験訪問看護ステーションかえで", "home_nursing", 2, 0.004, 0.001, dict(on_call_24h=True)),
    ("試験みどり薬局", "pharmacy", 0, -0.001, -0.003, dict()),
    ("試験居宅介護支援センター", "care_management", 3, 0.001, 0.001, dict()),
    ("試験区中央部在宅医療連携拠点", "community_support_center", 0, 0.0, 0.0, dict(on_call_24h=True)),
    ("試験千代田区役所 保健福祉部", "municipality", 0, 0.0005, 0.0005, dict()),
    ("試験中央区役所 福祉保健部", "municipality", 1, 0.0005, 0.0005, dict()),
    ("試験みなと保健所", "health_center", 2, 0.001, -0.001, dict()),
    ("試験福祉避難所 文京ふれあい館", "shelter", 3, -0.004, 0.002, dict(has_generator=True, power_supply_point=True)),
)


@dataclass
class DemoContext:
    region: Region
    municipalities: tuple = MUNICIPALITIES
    organizations: dict[str, Organization] = field(default_factory=dict)
    users: dict[str, User] = field(default_factory=dict)
    patients: int = 300
    rng: random.Random = field(default_factory=lambda: random.Random(20261123))

    def orgs_of_kind(self, kind: str) -> list[Organization]:
        return [org for org in self.organizations.values() if org.kind == kind]


@dataclass
class DemoSummary:
    logins: list[str]


DEMO_USERS = (
    # e-mail, role, scope, organisation name, label
    ("admin@demo.invalid", "admin", None, None, "管理者"),
    ("hub@demo.invalid", "hub_staff", "1301", "試験区中央部在宅医療連携拠点", "拠点職員"),
    ("clinic@demo.invalid", "institution_staff", "1301", "試験在宅クリニック千代田", "医療機関職員"),
    ("field@demo.invalid", "field_team", "1301", "試験訪問看護ステーションさくら", "現場チーム"),
    ("pref@demo.invalid", "prefecture_reviewer", "13", None, "都道府県担当"),
)


def seed(*, patients: int = 300, seeds: Sequence[Callable] | None = None) -> DemoSummary:
    """Seed once; a second run leaves the data as it is and only reprints the logins. ``seeds``: the
    subpackage seeds to run after the foundation's world (default: ``wiring.DEMO_SEEDS``)."""
    if seeds is None:
        from bcp_service.wiring import DEMO_SEEDS

        seeds = DEMO_SEEDS
    session = db.session
    logins = [f"{label}: {email} / {DEMO_PASSWORD}" for email, _r, _s, _o, label in DEMO_USERS]
    if session.get(Region, REGION["code"]) is not None:
        return DemoSummary(logins)

    now = get_clock().now()
    region = Region(**REGION, municipality_codes=[m[0] for m in MUNICIPALITIES], created_at=now)
    session.add(region)
    ctx = DemoContext(region=region, patients=patients)
    for i, (name, kind, muni, dlat, dlon, caps) in enumerate(ORGANIZATIONS):
        code, ward, lat, lon = MUNICIPALITIES[muni]
        # Teams that receive field tasks by SMS carry an (unallocated, fictional) mobile number.
        phone = f"090-0000-2{i:03d}" if kind in FIELD_TEAM_KINDS else "03-0000-0000"
        org = Organization(name=name, kind=kind, region_code=region.code, municipality_code=code,
                           address=f"東京都{ward}（架空の所在地）", lat=round(lat + dlat, 5),
                           lon=round(lon + dlon, 5), phone=phone, created_at=now,
                           **{"has_generator": False, "accepts_ventilator": False, "ventilator_beds": 0,
                              "power_supply_point": False, "on_call_24h": False, **caps})
        session.add(org)
        ctx.organizations[name] = org
    session.flush()
    for email, role, scope, org_name, label in DEMO_USERS:
        org = ctx.organizations.get(org_name) if org_name else None
        ctx.users[role] = auth_services.create_user(
            session, email=email, password=DEMO_PASSWORD, role=role, scope=scope,
            organization_id=org.id if org else None, display_name=f"デモ{label}", now=now)
    session.flush()

    for seed_one in seeds:
        seed_one(session, ctx)
        session.flush()
    session.commit()
    log.info("demo: seeded region %s with %d organisations", region.code, len(ctx.organizations))
    return DemoSummary(logins)


def demo_users(session) -> list[User]:
    return list(session.scalars(select(User).where(User.email.like("%@demo.invalid"))))
