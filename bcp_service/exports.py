"""Formula-safe spreadsheet output (pure helpers for every CSV and XLSX export).

Spreadsheet programs run a cell that starts with ``= + - @`` (or a tab / carriage return followed by
one) as a formula: a patient named ``=HYPERLINK(…)`` would become a live link in the reader's Excel.
CSV cells that start so get a leading apostrophe (shown as text, OWASP's advice); XLSX cells keep the
exact text and are typed as strings, never formulas.
"""
from __future__ import annotations

from typing import Any, Iterable

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def is_formula_like(value: Any) -> bool:
    return isinstance(value, str) and value.startswith(FORMULA_STARTS)


def csv_cell(value: Any) -> Any:
    return "'" + value if is_formula_like(value) else value


def csv_row(values: Iterable[Any]) -> list[Any]:
    """A row for ``csv.writer.writerow`` with every formula-like text neutralised."""
    return [csv_cell(v) for v in values]


def xlsx_row(sheet, values: Iterable[Any]) -> list[Any]:
    """A row for a write-only openpyxl sheet: formula-like text becomes a text cell (exact value kept)."""
    from openpyxl.cell import WriteOnlyCell

    row = []
    for value in values:
        if is_formula_like(value):
            cell = WriteOnlyCell(sheet, value=value)
            cell.data_type = "s"
            row.append(cell)
        else:
            row.append(value)
    return row
