"""Japanese phone numbers: validate, store as E.164, classify (mobile / landline / ip).

Pure logic over the ``phonenumbers`` metadata. The classification decides how a patient is reached
in an outage: SMS only reaches mobiles; landlines and IP phones get a voice call.
"""
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

import phonenumbers
from phonenumbers import PhoneNumberType

PHONE_KINDS = ("mobile", "landline", "ip")

_KIND_BY_TYPE = {
    PhoneNumberType.MOBILE: "mobile",
    PhoneNumberType.FIXED_LINE: "landline",
    PhoneNumberType.FIXED_LINE_OR_MOBILE: "landline",
    PhoneNumberType.VOIP: "ip",
}

# Unallocated "-0000-" blocks used for fiction and for this project's synthetic data: mobile
# 090/080/070-0000-xxxx, IP 050-0000-xxxx, landline 03/06-0000-xxxx. phonenumbers calls them
# invalid (080-0000 even parses as 0800 toll-free), so they are accepted explicitly. No real
# subscriber has them.
_FICTIONAL = (
    (re.compile(r"^0[789]00000\d{4}$"), "mobile", (3, 7)),
    (re.compile(r"^0500000\d{4}$"), "ip", (3, 7)),
    (re.compile(r"^0[36]0000\d{4}$"), "landline", (2, 6)),
)


class PhoneError(ValueError):
    pass


@dataclass(frozen=True)
class Phone:
    e164: str
    kind: str       # mobile | landline | ip
    national: str   # 090-1234-5678 style, for display and print

    @property
    def sms_capable(self) -> bool:
        return self.kind == "mobile"


def parse_phone(text: str, *, region: str = "JP") -> Phone:
    """Parse what a person typed (hyphens, spaces, full-width digits, +81) into a ``Phone``.

    Raises ``PhoneError`` with a Japanese message for anything that cannot be a patient's or a
    family member's number (invalid, toll-free, premium, pager …)."""
    if text is None or not str(text).strip():
        raise PhoneError("電話番号を入力してください")
    raw = unicodedata.normalize("NFKC", str(text)).strip()
    raw = raw.replace("ー", "-").replace("−", "-").replace("‐", "-")
    digits = re.sub(r"[\s\-()（）.]", "", raw)
    if not re.fullmatch(r"\+?\d{6,15}", digits):
        raise PhoneError("電話番号の形式が正しくありません")
    national_digits = "0" + digits[3:] if digits.startswith("+81") else digits
    for pattern, kind, (a, b) in _FICTIONAL:
        if pattern.match(national_digits):
            d = national_digits
            return Phone("+81" + d[1:], kind, f"{d[:a]}-{d[a:b]}-{d[b:]}")
    try:
        num = phonenumbers.parse(digits, region)
    except phonenumbers.NumberParseException:
        raise PhoneError("電話番号の形式が正しくありません") from None
    if not phonenumbers.is_valid_number(num):
        raise PhoneError("存在しない電話番号です（桁数・局番を確認してください）")
    kind = _KIND_BY_TYPE.get(phonenumbers.number_type(num))
    if kind is None:
        raise PhoneError("患者・家族の連絡先として使えない番号です（フリーダイヤル・ナビダイヤル等）")
    return Phone(
        phonenumbers.format_number(num, phonenumbers.PhoneNumberFormat.E164),
        kind,
        phonenumbers.format_number(num, phonenumbers.PhoneNumberFormat.NATIONAL),
    )


def sms_capable_kind(kind: str | None) -> bool:
    """By stored ``phone_kind``: Japanese SMS reaches mobiles only, so landlines and 050 IP phones
    are called. An unknown kind is tried by SMS (the provider's 21614 then turns it into a call)."""
    return kind not in ("landline", "ip")


def route(text: str | None) -> tuple[str | None, str | None, str | None]:
    """How to reach a number as typed (an organisation's free-text phone, say): (E.164, ``sms`` for a
    mobile or ``voice`` for a landline / IP phone — Japanese SMS cannot reach those —, None), or
    (None, None, why not): ``no_phone``, ``invalid_phone``."""
    if not text:
        return None, None, "no_phone"
    try:
        phone = parse_phone(text)
    except PhoneError:
        return None, None, "invalid_phone"
    return phone.e164, ("sms" if phone.sms_capable else "voice"), None


def display_phone(e164: str | None) -> str:
    """E.164 back to the national form people read (090-1234-5678); '' for None. See format_phone."""
    return format_phone(e164)


def format_phone(value: str | None) -> str:
    """The one display format for every page, document and export: phonenumbers' national format
    (090-1234-5678, 06-0000-0205), from E.164 or from a number as typed; '' for None. A number that
    cannot be parsed is shown as it was given, never rewritten into a different number."""
    if value is None or not str(value).strip():
        return ""
    try:
        return parse_phone(str(value)).national
    except PhoneError:
        return str(value).strip()


def tel_uri(value: str | None) -> str | None:
    """``tel:+81…`` for a link a phone can dial, or None when the number cannot be parsed."""
    if value is None or not str(value).strip():
        return None
    try:
        return "tel:" + parse_phone(str(value)).e164
    except PhoneError:
        return None
