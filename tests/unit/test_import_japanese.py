"""Import as offices write Excel: Japanese headers and values, 和暦, the XLSX template's drop-downs."""
import io
from datetime import date

from openpyxl import load_workbook
from openpyxl.utils import get_column_letter

from bcp_service.registry.schemas import PatientIn
from bcp_service.registry.tabular import COLUMNS, parse_rows, read_table
from bcp_service.registry.workbooks import template_xlsx


def _filled_template(rows):
    wb = load_workbook(io.BytesIO(template_xlsx()))
    ws = wb["患者一覧"]
    headers = [c.value for c in ws[1]]
    for r, values in enumerate(rows, start=2):
        for header, value in values.items():
            ws.cell(row=r, column=headers.index(header) + 1, value=value)
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def test_template_has_japanese_headers_dropdowns_and_an_explanation_sheet():
    wb = load_workbook(io.BytesIO(template_xlsx()))
    assert wb.sheetnames == ["患者一覧", "説明"]
    headers = [c.value for c in wb["患者一覧"][1]]
    assert headers[:5] == ["氏名", "ふりがな", "生年月日", "性別", "電話番号"] and len(headers) == len(COLUMNS)
    lists = {str(dv.sqref): dv.formula1 for dv in wb["患者一覧"].data_validations.dataValidation}
    formula = next(f for ref, f in lists.items() if ref.startswith(get_column_letter(headers.index("機器") + 1) + "2"))
    assert "人工呼吸器" in formula and "酸素濃縮装置" in formula
    mode = next(f for ref, f in lists.items() if ref.startswith(get_column_letter(headers.index("換気モード") + 1) + "2"))
    assert formula != mode and "TPPV" in mode and "NPPV" in mode
    explained = {row[0].value: row for row in wb["説明"].iter_rows(min_row=2) if row[0].value}
    assert explained["機器"][1].value == "device_kind" and "人工呼吸器" in explained["機器"][4].value
    assert explained["電話番号"][2].value == "必須"


def test_japanese_headers_and_values_import():
    content = _filled_template([{
        "氏名": "試験 太郎", "電話番号": "090-0000-0101", "生年月日": "昭和25年4月1日", "性別": "男",
        "情報共有の同意": "はい", "訓練参加": "いいえ", "機器": "人工呼吸器", "換気モード": "nppv",
        "消費電力": 60, "内部バッテリー": 4, "状態": "在宅", "搬送方法": "車いす",
        "外部バッテリー個数": 2, "外部バッテリー時間": 8, "外部バッテリーの機器": "人工呼吸器",
    }, {
        "氏名": "試験 花子", "電話番号": "090-0000-0102", "生年月日": "S30.1.2", "機器": "酸素濃縮装置",
        "酸素流量": 2, "消費電力": 120,
    }])
    good, bad = parse_rows(read_table("template.xlsx", content), PatientIn())
    assert bad == []
    (line1, a), (line2, b) = good
    assert (line1, line2) == (2, 3)
    assert a["birth_date"] == date(1950, 4, 1) and a["sex"] == "male"
    assert a["consent_to_share"] is True and a["drill_opt_in"] is False
    assert a["devices"][0]["kind"] == "ventilator" and a["devices"][0]["mode"] == "NPPV"
    assert a["transport_needs"] == "wheelchair" and a["status"] == "active"
    assert a["backups"][0]["device_kind"] == "ventilator"
    assert b["birth_date"] == date(1955, 1, 2) and b["devices"][0]["kind"] == "oxygen_concentrator"


def test_english_headers_still_accepted_and_bad_values_named_in_japanese():
    csv = ("name,phone,device_kind,birth_date\r\n試験 太郎,090-0000-0101,ventilator,1950-04-01\r\n"
           "試験 次郎,090-0000-0103,洗濯機,平成31年5月1日\r\n").encode()
    good, bad = parse_rows(read_table("x.csv", csv), PatientIn())
    assert good[0][1]["devices"][0]["kind"] == "ventilator"
    assert bad[0]["row"] == 3
    assert "不明な機器の種類です" in bad[0]["fields"]["device_kind"]
    assert "平成31年4月30日まで" in bad[0]["fields"]["birth_date"][0]
