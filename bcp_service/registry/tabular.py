"""Import and export of the patient list as CSV / XLSX — the Excel lists offices already keep.

Pure: bytes in, row payloads out (and patients in, bytes out). One row = one patient with at most
one main device, the usual backups and one emergency contact; the API or the form adds more.
CSV may be UTF-8 (with or without BOM) or Shift_JIS/cp932 as Excel saves it in Japan; anything
else is rejected with a clear message. Line numbers count the header as line 1.
"""
from __future__ import annotations

import csv
import io
import unicodedata
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Iterable, Iterator, Sequence

from marshmallow import ValidationError

from bcp_service.dates import DateError, parse_date
from bcp_service.geo.checks import spreadsheet_code
from bcp_service.registry import import_vocab


COLUMNS = (
    "name", "name_kana", "birth_date", "sex", "phone", "address", "postal_code", "municipality_code",
    "lat", "lon", "region_code", "primary_org_id", "nursing_org_id", "care_manager_org_id",
    "consent_to_share", "consent_date", "drill_opt_in", "designated_facility_id", "transport_needs",
    "power_company_registered", "evacuation_plan_status", "status",
    "device_kind", "device_mode", "device_model", "device_watts", "device_hours_per_day",
    "internal_battery_hours", "external_battery_count", "external_battery_hours", "power_station_wh",
    "generator_hours", "vehicle_inverter", "manual_resuscitator", "oxygen_cylinder_count", "oxygen_cylinder_hours",
    "contact_name", "contact_relation", "contact_phone", "notes",
    "device_flow_lpm", "external_battery_device_kind", "oxygen_cylinder_liters", "power_station_dc_output",
    "generator_fuel_cans", "generator_fuel_liters", "device_schedule_start", "device_schedule_end",
)
REQUIRED_COLUMNS = ("name", "phone")
# Columns the export adds; ignored on import so that an export can be edited and re-imported.
EXPORT_ONLY = ("id", "phone_kind", "runway_hours", "runway_tier", "runway_explain")
# Japanese headers people already use in their Excel lists.
ALIASES = {
    "氏名": "name", "ふりがな": "name_kana", "フリガナ": "name_kana", "生年月日": "birth_date", "性別": "sex",
    "電話番号": "phone", "電話": "phone", "住所": "address", "郵便番号": "postal_code",
    "市区町村コード": "municipality_code", "緯度": "lat", "経度": "lon", "圏域コード": "region_code",
    "同意": "consent_to_share", "情報共有の同意": "consent_to_share", "同意日": "consent_date",
    "訓練参加": "drill_opt_in", "機器": "device_kind", "機種": "device_model", "消費電力": "device_watts",
    "使用時間": "device_hours_per_day", "内部バッテリー": "internal_battery_hours",
    "使用開始時刻": "device_schedule_start", "使用終了時刻": "device_schedule_end",
    "緊急連絡先氏名": "contact_name", "続柄": "contact_relation", "緊急連絡先電話": "contact_phone", "備考": "notes",
}
MAX_ROWS = 50_000
MAX_RECORDS = 2 * MAX_ROWS                 # blank rows included: reading stops here whatever they hold
MAX_XLSX_UNPACKED = 100 * 1024 * 1024      # 50,000 patient rows unpack to well under this
MAX_XLSX_RATIO = 100                       # real workbooks compress 5–20×; a zip bomb far more

_TRUE = {"1", "true", "yes", "y", "はい", "有", "あり", "○", "〇", "済", "同意", "t"}
_FALSE = {"0", "false", "no", "n", "いいえ", "無", "なし", "×", "未", "不同意", "f"}
_SCALAR = (
    "name", "name_kana", "birth_date", "sex", "phone", "address", "postal_code", "municipality_code", "lat",
    "lon", "region_code", "primary_org_id", "nursing_org_id", "care_manager_org_id", "consent_to_share",
    "consent_date", "drill_opt_in", "designated_facility_id", "transport_needs", "power_company_registered",
    "evacuation_plan_status", "status", "notes",
)
_BOOL_COLUMNS = ("consent_to_share", "drill_opt_in", "power_company_registered", "vehicle_inverter",
                 "manual_resuscitator", "power_station_dc_output")
_DATE_COLUMNS = ("birth_date", "consent_date")
_DEVICE_COLUMNS = {"device_kind": "kind", "device_mode": "mode", "device_model": "model", "device_watts": "watts",
                   "device_hours_per_day": "hours_per_day", "internal_battery_hours": "internal_battery_hours",
                   "device_flow_lpm": "flow_lpm"}


class TableError(ValueError):
    """The file as a whole cannot be read (encoding, format, header). Message in Japanese."""


@dataclass(frozen=True)
class Row:
    line: int
    cells: dict[str, str]


# --- reading ------------------------------------------------------------------------------------

def decode_csv(content: bytes) -> str:
    for encoding in ("utf-8-sig", "cp932"):
        try:
            return content.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise TableError("文字コードを判別できません。CSVは UTF-8 または Shift_JIS（Excelの「CSV」）で保存してください")


def is_xlsx(filename: str | None, content: bytes) -> bool:
    return content[:4] == b"PK\x03\x04" or (filename or "").lower().endswith((".xlsx", ".xlsm"))


def read_table(filename: str | None, content: bytes) -> list[Row]:
    """Rows of a CSV or XLSX file with normalised headers; blank rows skipped.

    Limits are enforced while reading: an XLSX whose parts unpack beyond MAX_XLSX_UNPACKED is refused
    before parsing, and rows are streamed, so reading stops at the first row over MAX_ROWS."""
    if not content:
        raise TableError("ファイルが空です")
    if is_xlsx(filename, content):
        header, records = _read_xlsx(content)
    else:
        if b"\x00" in content[:4096]:
            raise TableError("CSV または XLSX ファイルを選んでください（UTF-16やバイナリは読めません）")
        header, records = _read_csv(decode_csv(content))
    columns = _map_header(header)
    rows = []
    for count, (line, values) in enumerate(records, start=1):
        cells = {}
        for col, value in zip(columns, values):
            if col is None:
                continue
            text = _cell_text(col, value)
            if text:
                cells[col] = text
        if cells:
            rows.append(Row(line, cells))
        if len(rows) > MAX_ROWS or count > MAX_RECORDS:
            raise TableError(f"一度に取り込めるのは{MAX_ROWS:,}行までです。ファイルを分けてください")
    if not rows:
        raise TableError("データ行がありません（1行目は見出し行です）")
    return rows


def _read_csv(text: str) -> tuple[list[str], Iterator[tuple[int, list[str]]]]:
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next(reader)
    except StopIteration:
        raise TableError("ファイルが空です") from None
    except csv.Error as e:
        raise TableError(f"CSVの形式が正しくありません（1行目: {e}）") from None

    def records() -> Iterator[tuple[int, list[str]]]:
        line = reader.line_num + 1
        try:
            for values in reader:
                yield line, values
                line = reader.line_num + 1
        except csv.Error as e:
            raise TableError(f"CSVの形式が正しくありません（{line}行目: {e}）") from None

    return header, records()


def check_xlsx_size(content: bytes) -> None:
    """Refuse a zip bomb before parsing: the parts' declared unpacked sizes (the zip directory) must stay
    within MAX_XLSX_UNPACKED and a plausible compression ratio."""
    import zipfile

    try:
        with zipfile.ZipFile(io.BytesIO(content)) as zf:
            unpacked = sum(info.file_size for info in zf.infolist())
    except (zipfile.BadZipFile, OSError, ValueError) as e:
        raise TableError("XLSXファイルを読み取れません（壊れているか、XLSX形式ではありません）") from e
    if unpacked > MAX_XLSX_UNPACKED or (unpacked > 10 * 1024 * 1024 and unpacked > MAX_XLSX_RATIO * len(content)):
        raise TableError(f"XLSXファイルの展開後の大きさが上限（{MAX_XLSX_UNPACKED // 1_048_576}MB）を超えています。"
                         "ファイルを分けるか、CSVで保存してください")


def _read_xlsx(content: bytes) -> tuple[list[str], Iterator[tuple[int, list[Any]]]]:
    import zipfile

    from openpyxl import load_workbook

    check_xlsx_size(content)
    try:
        wb = load_workbook(io.BytesIO(content), read_only=True, data_only=True)
    except (zipfile.BadZipFile, KeyError, OSError, ValueError) as e:
        raise TableError("XLSXファイルを読み取れません（壊れているか、XLSX形式ではありません）") from e
    ws = wb.worksheets[0]
    it = ws.iter_rows(values_only=True)
    header = next(it, None)
    if header is None:
        wb.close()
        raise TableError("ファイルが空です")

    def records() -> Iterator[tuple[int, list[Any]]]:
        try:
            for i, values in enumerate(it, start=2):
                yield i, list(values)
        finally:
            wb.close()

    return ["" if h is None else str(h) for h in header], records()


def _map_header(header: Sequence[str]) -> list[str | None]:
    columns: list[str | None] = []
    unknown, seen = [], set()
    for raw in header:
        h = unicodedata.normalize("NFKC", str(raw or "")).strip().lstrip("\ufeff")
        key = ALIASES.get(h) or import_vocab.header_key(h) or h.lower()
        if key in EXPORT_ONLY or not key:
            columns.append(None)
            continue
        if key not in COLUMNS:
            unknown.append(h)
            columns.append(None)
            continue
        if key in seen:
            raise TableError(f"見出し「{h}」が重複しています")
        seen.add(key)
        columns.append(key)
    if unknown:
        raise TableError("不明な列があります: " + "、".join(unknown) + "（取込用テンプレート import-template.xlsx の見出しを使ってください）")
    missing = [c for c in REQUIRED_COLUMNS if c not in seen]
    if missing:
        raise TableError("必須の列がありません: " + "、".join(missing))
    return columns


def _cell_text(col: str, value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.date().isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        if isinstance(value, float) and value.is_integer() and col not in ("lat", "lon"):
            value = int(value)
        text = str(value)
        # Excel turns 090… into 90… and 0600000 into 600000: put the leading zeros back.
        if col in ("phone", "contact_phone") and text.isdigit() and not text.startswith("0"):
            text = "0" + text
        elif col == "postal_code" and text.isdigit():
            text = text.zfill(7)
        elif col == "municipality_code" and text.isdigit():
            text = spreadsheet_code(text)     # 1101 → 01101, 11002 → 011002: the reading that exists
        return text
    return unicodedata.normalize("NFKC", str(value)).strip() if col not in ("name", "address", "notes") \
        else str(value).strip()


def _bool(text: str) -> Any:
    t = text.strip().lower()
    if t in _TRUE:
        return True
    if t in _FALSE:
        return False
    return text  # marshmallow names it: "Not a valid boolean."


def _date(text: str) -> str:
    try:
        return parse_date(text).isoformat()     # ISO, 2026/4/1, 昭和25年4月1日, S25.4.1 (bcp_service.dates)
    except DateError:
        return text                             # the schema names what is wrong, beside the column


# --- row → API payload --------------------------------------------------------------------------

def row_to_payload(cells: dict[str, str]) -> tuple[dict, dict[str, str]]:
    """The ``PatientIn`` payload of one row, and a map from payload error paths to column names."""
    payload: dict[str, Any] = {}
    where: dict[str, str] = {}
    cells = {col: import_vocab.to_code(col, v) for col, v in cells.items()}   # 人工呼吸器 → ventilator …
    for col in _SCALAR:
        if col in cells:
            v: Any = cells[col]
            if col in _BOOL_COLUMNS:
                v = _bool(v)
            elif col in _DATE_COLUMNS:
                v = _date(v)
            payload[col] = v
    device = {key: cells[col] for col, key in _DEVICE_COLUMNS.items() if col in cells}
    if device:
        payload["devices"] = [device]
        for col, key in _DEVICE_COLUMNS.items():
            where[f"devices.0.{key}"] = col
        where["devices.0._schema"] = "device_kind"
    sched = {k: cells[f"device_schedule_{k}"] for k in ("start", "end") if f"device_schedule_{k}" in cells}
    if sched:   # both columns (one alone is a half schedule: the schema names it)
        payload.setdefault("devices", [{}])[0]["daily_schedule"] = sched
        where.update({"devices.0.daily_schedule": "device_schedule_start", "devices.0.kind": "device_kind",
                      "devices.0.daily_schedule.start": "device_schedule_start",
                      "devices.0.daily_schedule.end": "device_schedule_end"})
    backups: list[dict] = []

    def add(kind: str, cols: dict[str, str]):
        i = len(backups)
        backups.append({"kind": kind, **{key: cells[col] for col, key in cols.items() if col in cells}})
        for col, key in cols.items():
            where[f"backups.{i}.{key}"] = col
        where[f"backups.{i}.kind"] = where[f"backups.{i}._schema"] = list(cols)[0]

    if "external_battery_hours" in cells or "external_battery_count" in cells:
        add("external_battery", {"external_battery_hours": "hours", "external_battery_count": "count",
                                 "external_battery_device_kind": "device_kind"})
    if "power_station_wh" in cells:
        add("power_station", {"power_station_wh": "watt_hours", "power_station_dc_output": "dc_output"})
        if "power_station_dc_output" in cells:
            backups[-1]["dc_output"] = _bool(cells["power_station_dc_output"])
    if {"generator_hours", "generator_fuel_cans", "generator_fuel_liters"} & set(cells):
        add("generator", {"generator_hours": "hours", "generator_fuel_cans": "fuel_cans",
                          "generator_fuel_liters": "fuel_liters"})
    if {"oxygen_cylinder_hours", "oxygen_cylinder_count", "oxygen_cylinder_liters"} & set(cells):
        add("oxygen_cylinder", {"oxygen_cylinder_hours": "hours", "oxygen_cylinder_count": "count",
                                "oxygen_cylinder_liters": "liters"})
    for col, kind in (("vehicle_inverter", "vehicle_inverter"), ("manual_resuscitator", "manual_resuscitator")):
        if col in cells:
            flag = _bool(cells[col])
            if flag is True:
                backups.append({"kind": kind})
            elif flag is not False:
                payload.setdefault("_bad", {})[col] = ["「有」または「無」で入力してください"]
    if backups:
        payload["backups"] = backups
    contact = {k: cells[c] for c, k in (("contact_name", "name"), ("contact_relation", "relation"),
                                       ("contact_phone", "phone")) if c in cells}
    if contact:
        payload["contacts"] = [contact]
        for c, k in (("contact_name", "name"), ("contact_relation", "relation"), ("contact_phone", "phone")):
            where[f"contacts.0.{k}"] = c
    return payload, where


def flatten_errors(messages: Any, where: dict[str, str], prefix: str = "") -> dict[str, list[str]]:
    """marshmallow's nested messages → {column name: [messages]}."""
    out: dict[str, list[str]] = {}
    if isinstance(messages, dict):
        for key, value in messages.items():
            path = f"{prefix}{key}"
            if isinstance(value, dict):
                for k, v in flatten_errors(value, where, path + ".").items():
                    out.setdefault(k, []).extend(v)
            else:
                col = where.get(path, path)
                out.setdefault(col, []).extend(value if isinstance(value, list) else [str(value)])
    return out


def parse_rows(rows: Iterable[Row], schema) -> tuple[list[tuple[int, dict]], list[dict]]:
    """Validate every row with ``schema`` (a ``PatientIn``); (good rows, row errors)."""
    good, bad = [], []
    for row in rows:
        payload, where = row_to_payload(row.cells)
        pre = payload.pop("_bad", None)
        try:
            data = schema.load(payload)
            if pre:
                raise ValidationError(pre)
            good.append((row.line, data))
        except ValidationError as e:
            fields = flatten_errors(e.messages if isinstance(e.messages, dict) else {"_schema": e.messages}, where)
            for k, v in (pre or {}).items():
                fields.setdefault(k, v)
            bad.append({"row": row.line, "fields": fields})
    return good, bad


# --- writing ------------------------------------------------------------------------------------

def template_csv() -> bytes:
    """Header row of the import format, UTF-8 with BOM so that Excel opens it correctly."""
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\r\n").writerow(COLUMNS)
    return "\ufeff".encode() + buf.getvalue().encode("utf-8")
