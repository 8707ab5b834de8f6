import pytest

from bcp_service.orgs.capabilities import NEEDS, meets_needs, parse_needs
from bcp_service.orgs.models import ORGANIZATION_KIND_LABELS, ORGANIZATION_KINDS
from bcp_service.outages.matching import FacilityInfo, Matcher


def test_new_kinds_from_the_seeds_are_known_and_labelled():
    for kind, label in (("medical_association", "医師会"), ("disability_welfare", "障害福祉サービス事業所"),
                        ("consultation_support", "相談支援事業所")):
        assert kind in ORGANIZATION_KINDS and ORGANIZATION_KIND_LABELS[kind] == label


def test_meets_needs_requires_every_capability():
    f = FacilityInfo(1, "試験小児病院", 35.0, 139.0, pediatric_ventilation=True)
    assert meets_needs(f, ()) and meets_needs(f, ("pediatric_ventilation",))
    assert not meets_needs(f, ("pediatric_ventilation", "medical_care_children"))


def test_parse_needs_accepts_a_comma_list_and_rejects_unknown_names():
    assert parse_needs("pediatric_ventilation, medical_care_children") == NEEDS
    assert parse_needs(None) == () and parse_needs("") == ()
    with pytest.raises(ValueError, match="未知の受入能力"):
        parse_needs("adult_only")


def test_transport_matching_skips_a_nearer_facility_without_the_needed_capability():
    near = FacilityInfo(1, "試験近い病院", 35.001, 139.001, has_generator=True, accepts_ventilator=True, ventilator_beds=2)
    far = FacilityInfo(2, "試験小児病院", 35.05, 139.05, has_generator=True, accepts_ventilator=True, ventilator_beds=2,
                       pediatric_ventilation=True, medical_care_children=True)
    m = Matcher([near, far])
    assert m.transport_target(35.0, 139.0).facility_id == 1
    assert m.transport_target(35.0, 139.0, needs=("pediatric_ventilation",)).facility_id == 2
