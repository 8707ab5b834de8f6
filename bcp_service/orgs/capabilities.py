"""What a facility can take (pure): the predicate transport matching and the resource map share.

``NEEDS`` are the capabilities a patient may need from a receiving facility beyond a ventilator bed:
paediatric ventilation and 医療的ケア児 (children with medical care needs). ``meets_needs`` works on any
object with those attributes (an Organization row or outages.matching.FacilityInfo).
"""
from __future__ import annotations

from typing import Iterable

NEEDS = ("pediatric_ventilation", "medical_care_children")
NEED_LABELS = {"pediatric_ventilation": "小児の人工呼吸器", "medical_care_children": "医療的ケア児"}


def meets_needs(facility, needs: Iterable[str]) -> bool:
    """True when the facility has every capability in ``needs`` (no needs: always true)."""
    return all(bool(getattr(facility, n, False)) for n in needs)


def parse_needs(value: str | Iterable[str] | None) -> tuple[str, ...]:
    """``"pediatric_ventilation,medical_care_children"`` → a tuple; an unknown name → ValueError (Japanese)."""
    if value is None or value == "":
        return ()
    items = [v.strip() for v in (value.split(",") if isinstance(value, str) else value) if v and v.strip()]
    unknown = [v for v in items if v not in NEEDS]
    if unknown:
        raise ValueError(f"未知の受入能力です: {', '.join(unknown)}（{', '.join(NEEDS)} のいずれか）")
    return tuple(dict.fromkeys(items))
