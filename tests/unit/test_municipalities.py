"""The offline municipality table: codes with check digits, names, nearest by coordinates."""
import pytest

from bcp_service.geo import municipalities as muni
from bcp_service.geo.municipalities import MunicipalityCodeError


def test_five_and_six_digit_codes_name_the_same_municipality():
    assert muni.normalize_code("13105") == "131059"
    assert muni.normalize_code("１３１０５") == "131059"
    assert muni.get("13105") == muni.get("131059")
    assert muni.get("131016").to_json() == {"code": "131016", "name": "千代田区", "prefecture": "東京都"}


def test_wrong_check_digit_and_malformed_codes_are_refused():
    with pytest.raises(MunicipalityCodeError, match="検査数字"):
        muni.normalize_code("131015")
    with pytest.raises(MunicipalityCodeError, match="5 桁または 6 桁"):
        muni.normalize_code("1310")


def test_a_well_formed_code_that_no_municipality_has_is_unknown():
    assert muni.normalize_code("99999") == "999997"     # the check digit itself is fine
    assert muni.lookup("999997") is None
    with pytest.raises(MunicipalityCodeError, match="999997 は存在しません"):
        muni.get("999997")
    assert muni.unknown_codes(["13105", "999997", "abc"]) == ["999997", "abc"]


def test_table_covers_current_codes_and_every_row_is_consistent():
    table = muni._table()
    assert len(table) > 1900
    for m in table.values():
        assert muni.normalize_code(m.code) == m.code
        assert muni.in_japan(m.lat, m.lon), m
    # 浜松市's 2024 wards are there; the abolished ones are not.
    assert muni.get("221384").name == "浜松市中央区"
    assert muni.lookup("221317") is None


def test_a_designated_city_covers_its_wards():
    codes = muni.covered_codes(["01100"])
    assert "011002" in codes and "011011" in codes and len(codes) == 11
    assert muni.covered_codes(["13101"]) == {"131016"}


def test_search_by_name_prefecture_or_code():
    assert [m.code for m in muni.search("千代田区")][:1] == ["131016"]
    assert "131016" in [m.code for m in muni.search("東京都千代田")]
    assert [m.code for m in muni.search("13105")] == ["131059"]
    assert muni.search("") == []
    assert len(muni.search("北区", limit=5)) == 5


def test_nearest_and_distance():
    assert muni.nearest(35.6940, 139.7536).code == "131016"     # 千代田区役所
    assert muni.nearest(43.0554, 141.3410).code == "011011"     # 札幌市中央区 (a ward, not 札幌市)
    assert muni.distance_km("131016", 35.6940, 139.7536) < 0.1
    assert muni.far_from("131016", 35.69, 139.75) is None
    assert muni.far_from("131016", 34.69, 135.50) > 350     # 大阪
    assert muni.far_from(None, 35.0, 139.0) is None


@pytest.mark.parametrize("lat,lon,ok", [(35.69, 139.75, True), (3.5693, 139.75, False), (35.69, 13.97, False),
                                        (24.47, 122.99, True), (45.52, 141.94, True), (46.5, 141.0, False)])
def test_in_japan(lat, lon, ok):
    assert muni.in_japan(lat, lon) is ok


def test_clearly_outside():
    chiyoda = muni.covered_codes(["131016"])
    assert not muni.clearly_outside(chiyoda, 35.6940, 139.7536)          # at 千代田区役所
    assert not muni.clearly_outside(chiyoda, None, None)                  # nothing known: keep
    assert muni.clearly_outside(chiyoda, 34.69, 135.50)                   # 大阪
    # Near the border with 中央区 (offices ~2.5 km apart): not clear, kept.
    assert not muni.clearly_outside(chiyoda, 35.6800, 139.7650)
