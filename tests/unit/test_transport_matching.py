"""Facility matching: power, ventilator acceptance, free beds, nearest by geodesic."""
from bcp_service.outages.matching import FacilityInfo, Matcher

HOME = (35.680, 139.760)


def fac(id, lat, lon, **kw):
    kw.setdefault("accepts_ventilator", True)
    kw.setdefault("ventilator_beds", 2)
    kw.setdefault("has_generator", True)
    return FacilityInfo(id=id, name=f"試験病院{id}", lat=lat, lon=lon, **kw)


def test_nearest_facility_with_power_and_a_bed_wins():
    m = Matcher([
        fac(1, 35.681, 139.761, has_generator=False, in_outage=True),   # nearest, but dark
        fac(2, 35.690, 139.770, accepts_ventilator=False),               # no ventilated patients
        fac(3, 35.700, 139.780, ventilator_beds=1, reserved=1),          # full
        fac(4, 35.750, 139.800),
        fac(5, 35.800, 139.900),
    ])
    assert m.transport_target(*HOME).facility_id == 4


def test_a_facility_outside_the_outage_has_power_without_a_generator():
    m = Matcher([fac(1, 35.681, 139.761, has_generator=False, in_outage=False)])
    assert m.transport_target(*HOME).facility_id == 1


def test_assign_reserves_beds_within_a_run():
    m = Matcher([fac(1, 35.681, 139.761, ventilator_beds=1), fac(2, 35.9, 139.9, ventilator_beds=1)])
    assert m.assign(*HOME).facility_id == 1
    assert m.assign(*HOME).facility_id == 2
    assert m.assign(*HOME) is None


def test_charging_points_need_power_only():
    m = Matcher([
        fac(1, 35.681, 139.761, accepts_ventilator=False, has_generator=False, power_supply_point=True,
            in_outage=True),
        fac(2, 35.682, 139.762, has_generator=False, in_outage=True),
        fac(3, 35.690, 139.770, accepts_ventilator=False, ventilator_beds=0),
    ])
    assert [c.facility_id for c in m.charging_points(*HOME)] == [1, 3]


def test_patient_without_coordinates_gets_no_match():
    m = Matcher([fac(1, 35.681, 139.761)])
    assert m.transport_target(None, None) is None
    assert m.charging_points(None, 139.7) == []


def test_full_facilities_leave_the_search_and_distance_is_capped():
    m = Matcher([fac(1, 35.681, 139.761, ventilator_beds=1), fac(2, 36.9, 139.9, ventilator_beds=5)])
    assert m.assign(*HOME).facility_id == 1
    assert m.receiving.count == 1                       # the full one was dropped from the search
    assert m.assign(*HOME) is None                      # 2 is ~135 km away: beyond the 100 km cap
    assert m.assign(*HOME, max_km=200).facility_id == 2
