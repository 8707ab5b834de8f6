"""Issue 18: exports never carry a live formula — a patient named =HYPERLINK(…) stays text in the
registry XLSX, and formula-like names are neutralised in the prefecture CSV."""
import csv
import io
import zipfile

from openpyxl import load_workbook

from bcp_service.exports import csv_row
from bcp_service.prefecture.aggregate import to_csv
from tests.e2e.test_registry_api import body, world  # noqa: F401 (fixture)
from tests.unit.test_prefecture_aggregate import run

EVIL = '=HYPERLINK("http://x.invalid","y")'


def test_registry_xlsx_writes_a_formula_like_name_as_text(client, world):  # noqa: F811
    h = world["h"]["hub"]
    assert client.post("/api/v1/patients", json=body(name=EVIL), headers=h).status_code == 201
    content = client.get("/api/v1/patients/export.xlsx", headers=h).get_data()
    sheet = zipfile.ZipFile(io.BytesIO(content)).read("xl/worksheets/sheet1.xml").decode()
    assert "<f>" not in sheet
    cell = load_workbook(io.BytesIO(content)).active["A2"]
    assert cell.value == EVIL and cell.data_type == "s"


def test_prefecture_csv_neutralises_formula_like_text():
    rows = list(run().values())
    rows[0].name = "@SUM(1+1)*cmd"
    parsed = list(csv.reader(io.StringIO(to_csv(rows).lstrip("\ufeff"))))
    assert parsed[1][1] == "'@SUM(1+1)*cmd"


def test_every_formula_start_is_covered_and_numbers_are_left_alone():
    assert csv_row(["=1", "+1", "-1", "@x", "\t=1", "\r=1", "試験", -5, 3.5, None]) == \
        ["'=1", "'+1", "'-1", "'@x", "'\t=1", "'\r=1", "試験", -5, 3.5, None]
