from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Boolean, Float, ForeignKey, Integer, String, Text, false
from sqlalchemy.orm import Mapped, mapped_column, relationship

from bcp_service.db import Base, UTCDateTime

REGION_KINDS = ("secondary_medical_area", "municipality", "health_center_area")
REGION_KIND_LABELS = {
    "secondary_medical_area": "二次医療圏",
    "municipality": "市町村",
    "health_center_area": "保健所圏域",
}
ORGANIZATION_KINDS = (
    "hospital", "clinic", "home_nursing", "pharmacy", "care_management",
    "community_support_center", "municipality", "health_center", "fire_department",
    "power_utility", "device_vendor", "shelter", "medical_association", "disability_welfare",
    "consultation_support", "other",
)
ORGANIZATION_KIND_LABELS = {
    "hospital": "病院", "clinic": "診療所", "home_nursing": "訪問看護ステーション",
    "pharmacy": "薬局", "care_management": "居宅介護支援事業所",
    "community_support_center": "地域包括支援センター", "municipality": "市町村",
    "health_center": "保健所", "fire_department": "消防", "power_utility": "電力会社",
    "device_vendor": "医療機器事業者", "shelter": "福祉避難所", "medical_association": "医師会",
    "disability_welfare": "障害福祉サービス事業所", "consultation_support": "相談支援事業所", "other": "その他",
}
CAPABILITIES = ("has_generator", "accepts_ventilator", "ventilator_beds", "power_supply_point", "on_call_24h",
                "pediatric_ventilation", "medical_care_children")


class Region(Base):
    """圏域: the unit a 拠点 works in. Codes are strings chosen by the prefecture."""

    __tablename__ = "regions"

    code: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    prefecture_code: Mapped[str] = mapped_column(String(2), index=True)
    kind: Mapped[str] = mapped_column(String(32))
    municipality_codes: Mapped[list[str]] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class Organization(Base):
    __tablename__ = "organizations"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(40), index=True)
    region_code: Mapped[str] = mapped_column(ForeignKey("regions.code"), index=True)
    address: Mapped[str | None] = mapped_column(Text)
    municipality_code: Mapped[str | None] = mapped_column(String(6))
    lat: Mapped[float | None] = mapped_column(Float)
    lon: Mapped[float | None] = mapped_column(Float)
    phone: Mapped[str | None] = mapped_column(String(32))
    has_generator: Mapped[bool] = mapped_column(Boolean, default=False)
    accepts_ventilator: Mapped[bool] = mapped_column(Boolean, default=False)
    ventilator_beds: Mapped[int] = mapped_column(Integer, default=0)
    power_supply_point: Mapped[bool] = mapped_column(Boolean, default=False)
    on_call_24h: Mapped[bool] = mapped_column(Boolean, default=False)
    pediatric_ventilation: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    medical_care_children: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())  # 医療的ケア児
    # 在宅療養支援診療所・病院: a BCP is a facility requirement (fee revision; deadline in plans/fee_rule.json)
    home_care_support: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)

    region: Mapped[Region] = relationship()

    @property
    def capabilities(self) -> dict:
        return {name: getattr(self, name) for name in CAPABILITIES}
