"""The registry: home patients on electricity-dependent devices, their devices, backup power and
contacts. Facilities are ``orgs.models.Organization`` rows (with capabilities), never duplicated."""
from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import JSON, Boolean, Date, Float, ForeignKey, Index, Integer, String, Text, and_, exists, false, or_, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from bcp_service.db import Base, UTCDateTime
from bcp_service.orgs.models import Organization
from bcp_service.registry import runway as rw

PATIENT_STATUSES = ("active", "hospitalised", "moved", "deceased")
PATIENT_STATUS_LABELS = {"active": "在宅", "hospitalised": "入院中", "moved": "転居", "deceased": "死亡"}
TRANSPORT_NEEDS = ("stretcher", "wheelchair", "ambulatory")
TRANSPORT_LABELS = {"stretcher": "ストレッチャー", "wheelchair": "車いす", "ambulatory": "独歩"}
EVACUATION_PLAN_STATUSES = ("none", "in_progress", "done", "needs_update")
EVACUATION_PLAN_LABELS = {"none": "未作成", "in_progress": "作成中", "done": "作成済", "needs_update": "要更新"}
CONSENT_SCOPES = ("medical", "nursing", "care_manager", "municipality", "fire_department",
                  "power_utility", "device_vendor")
CONSENT_SCOPE_LABELS = {
    "medical": "医療機関", "nursing": "訪問看護", "care_manager": "ケアマネジャー", "municipality": "市町村",
    "fire_department": "消防", "power_utility": "電力会社", "device_vendor": "医療機器事業者",
}
SEXES = ("female", "male", "other")
SEX_LABELS = {"female": "女", "male": "男", "other": "その他"}
TIER_LABELS = {"red": "赤（6時間以内）", "yellow": "黄（24時間以内）", "green": "緑"}


class Patient(Base):
    __tablename__ = "patients"
    __table_args__ = (
        # Lists filter by region (and tier) and sort by runway over live (not deleted) patients:
        # partial indexes so that page, count and deep offsets are index-only scans.
        Index("ix_patients_live_runway", "region_code", "runway_hours", "id",
              sqlite_where=text("deleted_at IS NULL"), postgresql_where=text("deleted_at IS NULL")),
        Index("ix_patients_live_tier", "region_code", "runway_tier", "runway_hours", "id",
              sqlite_where=text("deleted_at IS NULL"), postgresql_where=text("deleted_at IS NULL")),
        Index("ix_patients_live_order", "runway_hours", "id",
              sqlite_where=text("deleted_at IS NULL"), postgresql_where=text("deleted_at IS NULL")),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    name_kana: Mapped[str | None] = mapped_column(String(100))
    birth_date: Mapped[date | None] = mapped_column(Date)
    sex: Mapped[str | None] = mapped_column(String(8))
    phone_e164: Mapped[str] = mapped_column(String(20))
    phone_kind: Mapped[str] = mapped_column(String(10))
    address: Mapped[str | None] = mapped_column(Text)
    postal_code: Mapped[str | None] = mapped_column(String(7))
    municipality_code: Mapped[str | None] = mapped_column(String(6), index=True)
    lat: Mapped[float | None] = mapped_column(Float)
    lon: Mapped[float | None] = mapped_column(Float)
    region_code: Mapped[str] = mapped_column(ForeignKey("regions.code"), index=True)
    primary_org_id: Mapped[int | None] = mapped_column(ForeignKey("organizations.id"), index=True)
    nursing_org_id: Mapped[int | None] = mapped_column(ForeignKey("organizations.id"), index=True)
    care_manager_org_id: Mapped[int | None] = mapped_column(ForeignKey("organizations.id"))
    care_manager_name: Mapped[str | None] = mapped_column(String(100))
    consent_to_share: Mapped[bool] = mapped_column(Boolean, default=False)
    consent_date: Mapped[date | None] = mapped_column(Date)
    consent_scope: Mapped[list[str]] = mapped_column(JSON, default=list)
    drill_opt_in: Mapped[bool] = mapped_column(Boolean, default=False)
    designated_facility_id: Mapped[int | None] = mapped_column(ForeignKey("organizations.id"))
    transport_needs: Mapped[str | None] = mapped_column(String(16))
    transport_equipment: Mapped[str | None] = mapped_column(Text)
    power_company_registered: Mapped[bool] = mapped_column(Boolean, default=False)
    evacuation_plan_status: Mapped[str] = mapped_column(String(16), default="none")
    evacuation_plan_updated_on: Mapped[date | None] = mapped_column(Date)
    # Power data (devices and backups) last confirmed on a visit (registry.verification).
    power_checked_on: Mapped[date | None] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(16), default="active", index=True)
    notes: Mapped[str | None] = mapped_column(Text)
    # Computed from devices and backups on every write (registry.services), so lists and triage
    # can filter and sort without recomputing.
    runway_hours: Mapped[float] = mapped_column(Float, default=0.0)
    runway_tier: Mapped[str] = mapped_column(String(8), default="red")
    runway_explain: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # Soft delete: outage and drill history keep their references; deleted patients are
    # invisible to every query of the registry and are never contacted.
    deleted_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)

    devices: Mapped[list[PatientDevice]] = relationship(
        back_populates="patient", cascade="all, delete-orphan", order_by="PatientDevice.position",
        lazy="selectin")
    backups: Mapped[list[PatientBackup]] = relationship(
        back_populates="patient", cascade="all, delete-orphan", order_by="PatientBackup.position",
        lazy="selectin")
    contacts: Mapped[list[PatientContact]] = relationship(
        back_populates="patient", cascade="all, delete-orphan", order_by="PatientContact.position",
        lazy="selectin")
    primary_org: Mapped[Organization | None] = relationship(foreign_keys=[primary_org_id])
    nursing_org: Mapped[Organization | None] = relationship(foreign_keys=[nursing_org_id])
    care_manager_org: Mapped[Organization | None] = relationship(foreign_keys=[care_manager_org_id])
    designated_facility: Mapped[Organization | None] = relationship(foreign_keys=[designated_facility_id])

    @property
    def is_contactable(self) -> bool:
        """Inactive (hospitalised, moved, deceased) or deleted patients are never contacted."""
        return self.status == "active" and self.deleted_at is None

    @property
    def power(self) -> dict:
        return {"runway_hours": self.runway_hours, "tier": self.runway_tier, "explain": self.runway_explain}

    def runway_inputs(self) -> tuple[list[rw.Device], list[rw.Backup]]:
        return ([d.to_core() for d in self.devices], [b.to_core() for b in self.backups])


def dependent_24h_clause():
    """SQL form of ``runway.is_dependent_24h`` (the one owner of the rule), built from its
    constants: a primary life-sustaining device used around the clock."""
    return exists().where(
        PatientDevice.patient_id == Patient.id,
        PatientDevice.hours_per_day >= rw.ALL_DAY_HOURS,
        PatientDevice.role != "spare",
        or_(PatientDevice.life_sustaining.is_(True),
            and_(PatientDevice.life_sustaining.is_(None),
                 PatientDevice.kind.in_(sorted(rw.LIFE_SUSTAINING_BY_DEFAULT)))),
    )


class PatientDevice(Base):
    __tablename__ = "patient_devices"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(Integer, default=0)
    kind: Mapped[str] = mapped_column(String(32))
    mode: Mapped[str | None] = mapped_column(String(8))
    model: Mapped[str | None] = mapped_column(String(100))
    watts: Mapped[float | None] = mapped_column(Float)
    hours_per_day: Mapped[float] = mapped_column(Float, default=24.0)
    internal_battery_hours: Mapped[float] = mapped_column(Float, default=0.0)
    life_sustaining: Mapped[bool | None] = mapped_column(Boolean)
    settings: Mapped[str | None] = mapped_column(Text)
    role: Mapped[str] = mapped_column(String(8), default="primary", server_default="primary")
    flow_lpm: Mapped[float | None] = mapped_column(Float)
    # {"start": "HH:MM", "end": "HH:MM"} (Asia/Tokyo) or NULL: used all day / hours_per_day only.
    daily_schedule: Mapped[dict | None] = mapped_column(JSON(none_as_null=True))

    patient: Mapped[Patient] = relationship(back_populates="devices")

    def to_core(self) -> rw.Device:
        return rw.device_from(self)

    @property
    def label(self) -> str:
        return rw.DEVICE_LABELS.get(self.kind, self.kind)

    @property
    def is_life_sustaining(self) -> bool:
        return self.to_core().is_life_sustaining


class PatientBackup(Base):
    __tablename__ = "patient_backups"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(Integer, default=0)
    kind: Mapped[str] = mapped_column(String(32))
    hours: Mapped[float | None] = mapped_column(Float)
    count: Mapped[int] = mapped_column(Integer, default=1)
    watt_hours: Mapped[float | None] = mapped_column(Float)
    note: Mapped[str | None] = mapped_column(Text)
    device_kind: Mapped[str | None] = mapped_column(String(32))
    liters: Mapped[float | None] = mapped_column(Float)
    conserver_ratio: Mapped[float | None] = mapped_column(Float)
    dc_output: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    fuel_cans: Mapped[int | None] = mapped_column(Integer)
    fuel_liters: Mapped[float | None] = mapped_column(Float)
    checked_on: Mapped[date | None] = mapped_column(Date)
    purchased_on: Mapped[date | None] = mapped_column(Date)

    patient: Mapped[Patient] = relationship(back_populates="backups")

    def to_core(self) -> rw.Backup:
        return rw.backup_from(self)

    @property
    def label(self) -> str:
        return rw.BACKUP_LABELS.get(self.kind, self.kind)


class PatientContact(Base):
    __tablename__ = "patient_contacts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(Integer, default=0)
    name: Mapped[str] = mapped_column(String(100))
    relation: Mapped[str | None] = mapped_column(String(50))
    phone_e164: Mapped[str | None] = mapped_column(String(20))
    phone_kind: Mapped[str | None] = mapped_column(String(10))

    patient: Mapped[Patient] = relationship(back_populates="contacts")
