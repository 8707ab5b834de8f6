import pytest

from bcp_service.plans.answers import check_section, is_filled, normalise
from bcp_service.plans.templates import TemplateLibrary

T = TemplateLibrary.load().current("kikan")


def field(section, key):
    return T.section(section).field(key)


def test_unknown_field_is_rejected_and_nothing_is_kept():
    checked = check_section(T.section("policy"), {"basic_policy": "命を守る", "colour": "red"})
    assert not checked.ok
    assert "colour" in checked.errors and checked.values == {}


@pytest.mark.parametrize("section,key,value", [
    ("training", "drills_per_year", "2"),          # a string is not a number
    ("training", "drills_per_year", True),         # nor is a boolean
    ("training", "drills_per_year", 0),            # below min
    ("training", "next_review_date", "2027-02-30"),
    ("training", "next_review_date", "2027/05/31"),
    ("risks", "hazard_map_checked", "maybe"),
    ("risks", "hazards", "earthquake"),            # checklist needs a list
    ("risks", "hazards", ["earthquake", "meteor"]),
    ("priority_work", "priority_tasks", [{"task": "訪問", "priority": "z"}]),
    ("priority_work", "priority_tasks", [{"task": "訪問", "owner": "院長"}]),
    ("patient_priority", "priority_patients", [{"runway_hours": "長い"}]),
    ("policy", "staff_contacts", [{"name": "試験 太郎", "fax": "03"}]),
    ("policy", "basic_policy", 12),
])
def test_wrong_types_are_rejected(section, key, value):
    checked = check_section(T.section(section), {key: value})
    assert list(checked.errors) == [key]


def test_values_are_normalised():
    assert normalise(field("risks", "hazards"), ["blackout", "earthquake", "blackout"]) == ["earthquake", "blackout"]
    assert normalise(field("policy", "leader"), "  院長 試験 太郎 ") == "院長 試験 太郎"
    assert normalise(field("policy", "leader"), "   ") is None
    rows = normalise(field("priority_work", "priority_tasks"), [{"task": "訪問", "priority": "a"}, {"task": ""}])
    assert rows == [{"task": "訪問", "priority": "a"}]


def test_null_clears_an_answer():
    assert check_section(T.section("policy"), {"leader": None}).values == {"leader": None}


def test_contact_needs_name_and_phone_to_count():
    spec = field("policy", "staff_contacts")
    assert not is_filled(spec, [{"name": "試験 太郎"}])
    assert is_filled(spec, [{"name": "試験 太郎", "phone": "090-0000-0001"}])


def test_error_messages_are_japanese_and_name_the_row():
    checked = check_section(T.section("priority_work"),
                            {"priority_tasks": [{"task": "訪問"}, {"task": "会計", "priority": "x"}]})
    assert "2行目" in checked.errors["priority_tasks"][0]
