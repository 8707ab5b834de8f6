"""The one phone display format (registry.phones.format_phone) and the |tel link every page uses."""
import pytest
from hypothesis import given
from hypothesis import strategies as st

from bcp_service.registry.phones import format_phone, parse_phone, tel_uri
from bcp_service.templating import tel_link


@pytest.mark.parametrize("given_, shown", [
    ("+81600000205", "06-0000-0205"),     # was printed 060-000-0205 in the BCP list: a number that would not connect
    ("06-0000-0205", "06-0000-0205"),
    ("060-000-0205", "06-0000-0205"),     # a list saved with the old wrong grouping reads back right
    ("+81600000189", "06-0000-0189"),     # the dashboard showed +81600000189
    ("+819000000101", "090-0000-0101"),
    ("+81312345678", "03-1234-5678"),
    ("0312345678", "03-1234-5678"),
    ("+81662345678", "06-6234-5678"),
    ("+815000001234", "050-0000-1234"),
    (None, ""),
    ("", ""),
    ("内線12", "内線12"),                  # not a number: shown as given, never rewritten
])
def test_national_format(given_, shown):
    assert format_phone(given_) == shown


def test_tel_link():
    assert str(tel_link("+81600000205")) == '<a class="tel" href="tel:+81600000205">06-0000-0205</a>'
    assert str(tel_link("06-0000-0205")) == '<a class="tel" href="tel:+81600000205">06-0000-0205</a>'
    assert str(tel_link("<b>x</b>")) == "&lt;b&gt;x&lt;/b&gt;"
    assert str(tel_link(None, "—")) == "—"
    assert tel_uri("abc") is None


@given(prefix=st.sampled_from(["090", "080", "070"]), rest=st.integers(0, 9999))
def test_fictional_mobiles_format_and_reparse(prefix, rest):
    typed = f"{prefix}0000{rest:04d}"
    shown = format_phone(typed)
    assert shown == f"{prefix}-0000-{rest:04d}"
    assert format_phone(parse_phone(shown).e164) == shown


@given(area=st.sampled_from(["3", "6"]), a=st.integers(1000, 9999), b=st.integers(0, 9999))
def test_format_is_a_fixed_point(area, a, b):
    """Formatting a formatted number changes nothing, and the digits are never altered."""
    typed = f"0{area}{a}{b:04d}"
    try:
        shown = format_phone(typed)
    except Exception:  # noqa: BLE001
        pytest.fail("format_phone must not raise")
    assert format_phone(shown) == shown
    assert shown.replace("-", "") == typed
