"""The import format as offices write it in Excel: each column's Japanese header, what it means, and
the Japanese values accepted for coded columns (人工呼吸器, 酸素濃縮装置, はい/いいえ, TPPV/NPPV …).
English headers and codes are still accepted. Pure data and two lookups; ``tabular`` reads with them
and ``import_template`` writes the XLSX template from them."""
from __future__ import annotations

import unicodedata
from dataclasses import dataclass

from bcp_service.registry import models as m
from bcp_service.registry import runway as rw

YES_NO = ("はい", "いいえ")


@dataclass(frozen=True)
class Column:
    key: str                      # the English column name (import-template.csv, the API)
    header: str                   # the Japanese header of the XLSX template
    help: str                     # what to write, for the template's explanation sheet
    choices: tuple[str, ...] = ()  # the values offered in the drop-down (Japanese)
    example: str = ""


_DEVICES = tuple(rw.DEVICE_LABELS[k] for k in rw.DEVICE_KINDS)

COLUMNS_JA: tuple[Column, ...] = (
    Column("name", "氏名", "必須。姓と名の間は空白。", example="試験 太郎"),
    Column("name_kana", "ふりがな", "ひらがな・カタカナ。", example="しけん たろう"),
    Column("birth_date", "生年月日", "西暦（1950-04-01、1950/4/1）または和暦（昭和25年4月1日、S25.4.1）。",
           example="昭和25年4月1日"),
    Column("sex", "性別", "男・女・その他。", tuple(m.SEX_LABELS.values()), "男"),
    Column("phone", "電話番号", "必須。停電時に安否確認のSMS・電話をかける番号。ハイフンはあってもなくても可。",
           example="090-0000-0101"),
    Column("address", "住所", "", example="東京都千代田区千代田1-1"),
    Column("postal_code", "郵便番号", "7桁。ハイフン可。", example="100-0001"),
    Column("municipality_code", "市区町村コード", "6桁（5桁も可）。停電区域の判定に使います。", example="131016"),
    Column("lat", "緯度", "地図で確認した座標（10進数）。", example="35.6940"),
    Column("lon", "経度", "", example="139.7536"),
    Column("region_code", "圏域コード", "空欄なら担当圏域。"),
    Column("primary_org_id", "主治医機関ID", "「機関・施設」画面の番号。"),
    Column("nursing_org_id", "訪問看護機関ID", "「機関・施設」画面の番号。"),
    Column("care_manager_org_id", "居宅介護支援機関ID", "「機関・施設」画面の番号。"),
    Column("consent_to_share", "情報共有の同意", "はい・いいえ。", YES_NO, "はい"),
    Column("consent_date", "同意日", "西暦または和暦。", example="令和8年4月1日"),
    Column("drill_opt_in", "訓練参加", "訓練の連絡を受けるか。はい・いいえ。", YES_NO, "いいえ"),
    Column("designated_facility_id", "受入先施設ID", "「機関・施設」画面の番号。"),
    Column("transport_needs", "搬送方法", "", tuple(m.TRANSPORT_LABELS.values()), "ストレッチャー"),
    Column("power_company_registered", "電力会社登録", "電力会社への医療機器使用者の登録。はい・いいえ。", YES_NO, "はい"),
    Column("evacuation_plan_status", "個別避難計画", "", tuple(m.EVACUATION_PLAN_LABELS.values()), "作成済"),
    Column("status", "状態", "空欄なら在宅。", tuple(m.PATIENT_STATUS_LABELS.values()), "在宅"),
    Column("device_kind", "機器", "主な医療機器。", _DEVICES, "人工呼吸器"),
    Column("device_mode", "換気モード", "人工呼吸器のみ。TPPV（気管切開）・NPPV（マスク）。", rw.VENTILATOR_MODES, "TPPV"),
    Column("device_model", "機種", "", example="試験機 100"),
    Column("device_watts", "消費電力", "ワット（W）。機器のラベルか取扱説明書。", example="60"),
    Column("device_hours_per_day", "使用時間", "1日あたりの時間。空欄なら24。", example="24"),
    Column("internal_battery_hours", "内部バッテリー", "機器の内部バッテリーで動く時間。", example="4"),
    Column("external_battery_count", "外部バッテリー個数", "", example="2"),
    Column("external_battery_hours", "外部バッテリー時間", "1個あたりの時間。", example="8"),
    Column("power_station_wh", "ポータブル電源容量", "Wh。", example="500"),
    Column("generator_hours", "発電機時間", "燃料1回分で動く時間。", example="6"),
    Column("vehicle_inverter", "車のインバーター", "はい・いいえ。", YES_NO, "いいえ"),
    Column("manual_resuscitator", "蘇生バッグ", "手動の蘇生バッグ（アンビューバッグ）。はい・いいえ。", YES_NO, "はい"),
    Column("oxygen_cylinder_count", "酸素ボンベ本数", "", example="2"),
    Column("oxygen_cylinder_hours", "酸素ボンベ時間", "1本あたりの時間。", example="5"),
    Column("contact_name", "緊急連絡先氏名", "家族など。", example="試験 花子"),
    Column("contact_relation", "続柄", "", example="妻"),
    Column("contact_phone", "緊急連絡先電話", "", example="090-0000-0102"),
    Column("notes", "備考", ""),
    Column("device_flow_lpm", "酸素流量", "L/分（酸素濃縮装置）。", example="2"),
    Column("external_battery_device_kind", "外部バッテリーの機器", "どの機器用か。", _DEVICES, "人工呼吸器"),
    Column("oxygen_cylinder_liters", "酸素ボンベ容量", "1本あたりのL。", example="500"),
    Column("power_station_dc_output", "ポータブル電源の直流出力", "12V直流で機器を動かせるか。はい・いいえ。", YES_NO),
    Column("generator_fuel_cans", "発電機カセットボンベ本数", ""),
    Column("generator_fuel_liters", "発電機燃料", "L。"),
    Column("device_schedule_start", "使用開始時刻", "夜間のみ等の使用時間帯の開始（HH:MM、東京時間）。終日なら空欄。", example="21:00"),
    Column("device_schedule_end", "使用終了時刻", "使用時間帯の終了（HH:MM）。", example="07:00"),
)

# Japanese header → column key (the template's headers and the usual ones of office lists).
HEADER_ALIASES: dict[str, str] = {c.header: c.key for c in COLUMNS_JA}
HEADER_ALIASES.update({"人工呼吸器等": "device_kind", "医療機器": "device_kind", "モード": "device_mode",
                       "消費電力(W)": "device_watts", "緊急連絡先": "contact_name"})


def _inverse(labels: dict[str, str]) -> dict[str, str]:
    return {label: code for code, label in labels.items()}


_DEVICE_VALUES = {**_inverse(rw.DEVICE_LABELS), "その他": "other", "呼吸器": "ventilator",
                  "在宅人工呼吸器": "ventilator", "酸素濃縮器": "oxygen_concentrator", "在宅酸素": "oxygen_concentrator",
                  "吸引機": "suction", "たん吸引器": "suction", "痰吸引器": "suction"}
_MODE_VALUES = {"tppv": "TPPV", "nppv": "NPPV", "気管切開": "TPPV", "気管切開下": "TPPV", "マスク": "NPPV",
                "非侵襲": "NPPV"}
VALUE_ALIASES: dict[str, dict[str, str]] = {
    "sex": {**_inverse(m.SEX_LABELS), "男性": "male", "女性": "female"},
    "status": {**_inverse(m.PATIENT_STATUS_LABELS), "在宅療養中": "active", "入院": "hospitalised", "死去": "deceased"},
    "transport_needs": {**_inverse(m.TRANSPORT_LABELS), "車椅子": "wheelchair", "歩行": "ambulatory"},
    "evacuation_plan_status": {**_inverse(m.EVACUATION_PLAN_LABELS), "作成済み": "done", "なし": "none"},
    "device_kind": _DEVICE_VALUES,
    "external_battery_device_kind": _DEVICE_VALUES,
    "device_mode": _MODE_VALUES,
}


def header_key(header: str) -> str | None:
    """The column key of a Japanese header, or None (then the header is read as an English name)."""
    return HEADER_ALIASES.get(unicodedata.normalize("NFKC", header).strip())


def to_code(column: str, value: str) -> str:
    """A Japanese value of a coded column → its code (人工呼吸器 → ventilator, nppv → NPPV); anything
    else unchanged, for the schema to name what is wrong."""
    table = VALUE_ALIASES.get(column)
    if not table:
        return value
    text = unicodedata.normalize("NFKC", value).strip()
    return table.get(text) or table.get(text.lower()) or value
