"""Issue 18 (high): upload limits are enforced while reading — an XLSX bomb is refused from its zip
directory before parsing, and rows of XLSX and CSV are streamed, stopping at the row limit."""
import io
import time
import tracemalloc
import zipfile

import pytest
from openpyxl import Workbook

from bcp_service.registry import tabular


def _xlsx(sheet_xml: bytes | None = None, padding: int = 0) -> bytes:
    wb = Workbook()
    wb.active.append(["name", "phone"])
    wb.active.append(["試験 太郎", "090-0000-0501"])
    buf = io.BytesIO()
    wb.save(buf)
    src = zipfile.ZipFile(io.BytesIO(buf.getvalue()))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as zf:
        for info in src.infolist():
            data = src.read(info.filename)
            if sheet_xml is not None and info.filename == "xl/worksheets/sheet1.xml":
                data = sheet_xml
            zf.writestr(info.filename, data)
        if padding:
            zf.writestr("xl/media/padding.bin", b"\0" * padding)
    return out.getvalue()


def _measured(fn):
    tracemalloc.start()
    start = time.perf_counter()
    try:
        with pytest.raises(tabular.TableError) as exc:
            fn()
    finally:
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    return exc.value, time.perf_counter() - start, peak


def test_an_xlsx_that_unpacks_beyond_the_limit_is_refused_before_parsing():
    bomb = _xlsx(padding=tabular.MAX_XLSX_UNPACKED + 1)
    assert len(bomb) < 1_000_000
    error, seconds, peak = _measured(lambda: tabular.read_table("bomb.xlsx", bomb))
    assert "展開後" in str(error)
    assert seconds < 2 and peak < 20_000_000


def test_xlsx_rows_are_streamed_and_reading_stops_at_the_row_limit():
    rows = b"".join(b'<row r="%d"><c r="A%d" t="inlineStr"><is><t>x</t></is></c>'
                    b'<c r="B%d" t="inlineStr"><is><t>0</t></is></c></row>' % (i, i, i)
                    for i in range(2, 150_002))
    sheet = (b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
             b'<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>'
             b'<row r="1"><c r="A1" t="inlineStr"><is><t>name</t></is></c>'
             b'<c r="B1" t="inlineStr"><is><t>phone</t></is></c></row>'
             + rows + b"</sheetData></worksheet>")
    content = _xlsx(sheet_xml=sheet)
    error, _, peak = _measured(lambda: tabular.read_table("many.xlsx", content))
    assert f"{tabular.MAX_ROWS:,}行まで" in str(error)
    assert peak < 150_000_000


def test_a_long_csv_stops_at_the_row_limit_without_holding_every_row():
    content = ("name,phone\n" + "試験,0\n" * 300_000).encode()
    error, _, peak = _measured(lambda: tabular.read_table("many.csv", content))
    assert f"{tabular.MAX_ROWS:,}行まで" in str(error)
    assert peak < 60_000_000


def test_a_normal_workbook_still_reads():
    rows = tabular.read_table("ok.xlsx", _xlsx())
    assert [(r.cells["name"], r.cells["phone"]) for r in rows] == [("試験 太郎", "090-0000-0501")]
