import pytest

from bcp_service.registry.phones import PhoneError, display_phone, parse_phone


@pytest.mark.parametrize("typed,e164,kind", [
    ("090-1234-5678", "+819012345678", "mobile"),
    ("０９０－１２３４－５６７８", "+819012345678", "mobile"),
    ("+81 90 1234 5678", "+819012345678", "mobile"),
    ("03-1234-5678", "+81312345678", "landline"),
    ("06 6000 0000", "+81660000000", "landline"),
    ("050-1234-5678", "+815012345678", "ip"),
    ("090-0000-0001", "+819000000001", "mobile"),   # synthetic test range
    ("080-0000-1234", "+818000001234", "mobile"),   # not the 0800 toll-free reading
    ("03-0000-1234", "+81300001234", "landline"),   # synthetic landline
    ("050-0000-1234", "+815000001234", "ip"),       # synthetic IP phone
])
def test_parse_and_classify(typed, e164, kind):
    p = parse_phone(typed)
    assert (p.e164, p.kind) == (e164, kind)
    assert p.sms_capable == (kind == "mobile")


@pytest.mark.parametrize("typed", ["", "   ", "abc", "090-1234", "03-0000-123", "0120-123-456",
                                   "0570-000-000", "020-1234-5678", "12345678901234567"])
def test_rejects_numbers_nobody_can_be_reached_on(typed):
    with pytest.raises(PhoneError):
        parse_phone(typed)


def test_display_round_trip():
    assert display_phone("+819012345678") == "090-1234-5678"
    assert display_phone("+819000000001") == "090-0000-0001"
    assert display_phone("+81300001234") == "03-0000-1234"
    assert display_phone(None) == ""


def test_route_says_how_a_number_typed_on_an_organisation_is_reached():
    from bcp_service.registry.phones import route

    assert route("090-0000-0001") == ("+819000000001", "sms", None)
    assert route("03-0000-0001") == ("+81300000001", "voice", None)       # SMS cannot reach a landline
    assert route("050-0000-0001")[1] == "voice"
    assert route(None) == (None, None, "no_phone") and route("") == (None, None, "no_phone")
    assert route("電話なし") == (None, None, "invalid_phone")
