"""Rendering a plan version as Markdown, printable HTML or DOCX (pure: data in, bytes/text out).

The service layer builds a `PlanDoc` from the database; everything here works on that snapshot,
so the CLI, the API and the evidence pack produce the same document.
"""
from __future__ import annotations

import io
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape

from bcp_service.registry.phones import format_phone

from .answers import is_filled
from .completeness import PlanProgress, plan_progress
from .templates import CONTACT_KEYS, TYPE_LABELS, FieldSpec, Template

CONTACT_LABELS = {"name": "氏名", "role": "役割", "phone": "電話", "email": "メール", "note": "備考"}
STATUS_LABELS = {"draft": "下書き", "in_review": "確認中", "approved": "承認済み", "superseded": "旧版"}
EAST_ASIAN_FONT = "Noto Sans CJK JP"   # falls back to the viewer's Japanese font if not installed
WESTERN_FONT = "Arial"
TEMPLATES_DIR = Path(__file__).resolve().parents[2] / "templates"


@dataclass(frozen=True)
class HistoryEntry:
    at: datetime          # shown in Asia/Tokyo by the caller's formatter
    actor: str
    action: str
    detail: str = ""


@dataclass(frozen=True)
class PlanDoc:
    template: Template
    answers: dict[str, dict[str, Any]]
    title: str
    owner: str                       # organisation name, member list or region name
    version_number: int
    status: str
    created_at: datetime
    approved_at: datetime | None = None
    approved_by: str | None = None
    review_due_on: date | None = None
    autofilled_at: dict[str, datetime] = field(default_factory=dict)   # "section.field" -> when
    history: tuple[HistoryEntry, ...] = ()

    @property
    def progress(self) -> PlanProgress:
        return plan_progress(self.template, self.answers)

    @property
    def type_label(self) -> str:
        return TYPE_LABELS[self.template.type]


def fmt_dt(dt: datetime | None) -> str:
    if dt is None:
        return ""
    from zoneinfo import ZoneInfo
    return dt.astimezone(ZoneInfo("Asia/Tokyo")).strftime("%Y年%m月%d日 %H:%M")


def fmt_date(d: date | str | None) -> str:
    if not d:
        return ""
    if isinstance(d, str):
        d = date.fromisoformat(d)
    return f"{d.year}年{d.month}月{d.day}日"


def columns_of(spec: FieldSpec) -> list[tuple[str, str]]:
    if spec.type == "contact_list":
        return [(k, CONTACT_LABELS[k]) for k in CONTACT_KEYS]
    return [(c.key, c.label) for c in spec.columns]


def cell_text(spec: FieldSpec, key: str, value: Any) -> str:
    if value is None:
        return ""
    if key == "phone":
        return format_phone(str(value))     # one phone format everywhere (registry.phones)
    for c in spec.columns:
        if c.key == key and c.type == "choice":
            return next((o.label for o in c.options if o.value == value), str(value))
        if c.key == key and c.type == "date":
            return fmt_date(value)
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def value_text(spec: FieldSpec, value: Any) -> str:
    """A scalar answer as one line of Japanese text (tables are rendered separately)."""
    if not is_filled(spec, value) and spec.type not in ("table", "contact_list"):
        return ""
    if spec.type == "choice":
        return spec.option_label(value)
    if spec.type == "checklist":
        return "、".join(spec.option_label(v) for v in value)
    if spec.type == "date":
        return fmt_date(value)
    if spec.type == "number":
        return f"{value:g}{spec.unit}"
    return str(value)


def rows_of(spec: FieldSpec, value: Any) -> list[list[str]]:
    cols = columns_of(spec)
    return [[cell_text(spec, k, r.get(k)) for k, _ in cols] for r in (value or [])]


def cover_lines(doc: PlanDoc) -> list[tuple[str, str]]:
    lines = [("種別", doc.type_label), ("対象", doc.owner), ("版", f"第{doc.version_number}版"),
             ("テンプレート", f"{doc.template.title} v{doc.template.version}"),
             ("状態", STATUS_LABELS.get(doc.status, doc.status)), ("作成日", fmt_dt(doc.created_at))]
    if doc.approved_at:
        lines.append(("承認", f"{fmt_dt(doc.approved_at)}　{doc.approved_by or ''}".strip()))
    if doc.review_due_on:
        lines.append(("次回見直し期限", fmt_date(doc.review_due_on)))
    lines.append(("記入率", f"{round(doc.progress.ratio * 100)}%"))
    return lines


def grouped_sections(template: Template):
    """[(part, [sections])] keeping template order; parts become heading level 1."""
    out: list[tuple[str, list]] = []
    for s in template.sections:
        if out and out[-1][0] == s.part:
            out[-1][1].append(s)
        else:
            out.append((s.part, [s]))
    return out


# ------------------------------------------------------------------ Markdown

def _md_cell(text: str) -> str:
    return text.replace("|", "｜").replace("\n", "<br>")


def to_markdown(doc: PlanDoc) -> str:
    out = [f"# {doc.title}", ""]
    out += [f"- **{k}**: {v}" for k, v in cover_lines(doc)]
    out.append("")
    for part, sections in grouped_sections(doc.template):
        level = "##"
        if part:
            out += [f"## {part}", ""]
            level = "###"
        for s in sections:
            out += [f"{level} {s.title}", ""]
            answers = doc.answers.get(s.key, {})
            for f in s.fields:
                v = answers.get(f.key)
                if f.type in ("table", "contact_list"):
                    out += ["", f"**{f.label}**", ""]
                    cols = columns_of(f)
                    rows = rows_of(f, v)
                    if not rows:
                        out += ["（未記入）", ""]
                        continue
                    out.append("| " + " | ".join(label for _, label in cols) + " |")
                    out.append("|" + "---|" * len(cols))
                    out += ["| " + " | ".join(_md_cell(c) for c in r) + " |" for r in rows]
                    stamp = doc.autofilled_at.get(f"{s.key}.{f.key}")
                    if stamp:
                        out += ["", f"_（台帳から自動入力: {fmt_dt(stamp)}）_"]
                    out.append("")
                else:
                    text = value_text(f, v) or "（未記入）"
                    if f.type == "long_text":
                        out += ["", f"**{f.label}**", "", text, ""]
                    else:
                        out += [f"- **{f.label}**: {text}"]
            out.append("")
    if doc.history:
        out += ["## 履歴", "", "| 日時 | 担当 | 操作 | 内容 |", "|---|---|---|---|"]
        out += [f"| {fmt_dt(h.at)} | {_md_cell(h.actor)} | {_md_cell(h.action)} | {_md_cell(h.detail)} |"
                for h in doc.history]
        out.append("")
    text = "\n".join(out)
    while "\n\n\n" in text:
        text = text.replace("\n\n\n", "\n\n")
    return text.rstrip() + "\n"


# ------------------------------------------------------------------ HTML print view

def _env() -> Environment:
    env = Environment(loader=FileSystemLoader(str(TEMPLATES_DIR)), autoescape=select_autoescape(["html"]))
    env.globals.update(value_text=value_text, rows_of=rows_of, columns_of=columns_of, fmt_dt=fmt_dt,
                       fmt_date=fmt_date, cover_lines=cover_lines, grouped_sections=grouped_sections)
    return env


def to_html(doc: PlanDoc) -> str:
    """A self-contained page to print (A4, no navigation, no scripts)."""
    return _env().get_template("plans/print.html").render(doc=doc)


# ------------------------------------------------------------------ DOCX

def _set_fonts(style, size_pt: float | None = None, bold: bool | None = None) -> None:
    from docx.oxml.ns import qn
    from docx.shared import Pt, RGBColor

    style.font.name = WESTERN_FONT
    if size_pt:
        style.font.size = Pt(size_pt)
    if bold is not None:
        style.font.bold = bold
    rpr = style.element.get_or_add_rPr()
    fonts = rpr.find(qn("w:rFonts"))
    if fonts is None:
        fonts = rpr.makeelement(qn("w:rFonts"), {})
        rpr.append(fonts)
    # theme attributes win over explicit names in Word, so drop them for East Asian text
    for attr in ("w:asciiTheme", "w:hAnsiTheme", "w:eastAsiaTheme", "w:cstheme"):
        fonts.attrib.pop(qn(attr), None)
    fonts.set(qn("w:eastAsia"), EAST_ASIAN_FONT)
    fonts.set(qn("w:ascii"), WESTERN_FONT)
    fonts.set(qn("w:hAnsi"), WESTERN_FONT)
    style.font.color.rgb = RGBColor(0, 0, 0)


def _table(document, header: list[str], rows: list[list[str]]):
    table = document.add_table(rows=1, cols=len(header))
    table.style = "Table Grid"
    for cell, text in zip(table.rows[0].cells, header):
        cell.text = ""
        run = cell.paragraphs[0].add_run(text)
        run.bold = True
    for r in rows:
        cells = table.add_row().cells
        for cell, text in zip(cells, r):
            cell.text = text
    return table


def to_docx(doc: PlanDoc) -> bytes:
    from docx import Document
    from docx.enum.text import WD_ALIGN_PARAGRAPH, WD_BREAK
    from docx.shared import Mm, Pt

    document = Document()
    section = document.sections[0]
    section.page_height, section.page_width = Mm(297), Mm(210)
    for side in ("left_margin", "right_margin", "top_margin", "bottom_margin"):
        setattr(section, side, Mm(20))
    styles = document.styles
    _set_fonts(styles["Normal"], 10.5)
    _set_fonts(styles["Title"], 24, True)
    _set_fonts(styles["Heading 1"], 16, True)
    _set_fonts(styles["Heading 2"], 13, True)
    _set_fonts(styles["Heading 3"], 11, True)
    document.core_properties.title = doc.title
    document.core_properties.subject = f"{doc.type_label} 第{doc.version_number}版"
    document.core_properties.language = "ja-JP"

    # cover page
    for _ in range(6):
        document.add_paragraph()
    p = document.add_paragraph(doc.title, style="Title")
    p.alignment = WD_ALIGN_PARAGRAPH.CENTER
    sub = document.add_paragraph(f"{doc.type_label}　第{doc.version_number}版")
    sub.alignment = WD_ALIGN_PARAGRAPH.CENTER
    sub.runs[0].font.size = Pt(14)
    document.add_paragraph()
    _table(document, ["項目", "内容"], [[k, v] for k, v in cover_lines(doc)])
    document.add_paragraph().add_run().add_break(WD_BREAK.PAGE)

    for part, sections in grouped_sections(doc.template):
        sec_level = 1
        if part:
            document.add_heading(part, level=1)
            sec_level = 2
        for s in sections:
            document.add_heading(s.title, level=sec_level)
            answers = doc.answers.get(s.key, {})
            for f in s.fields:
                v = answers.get(f.key)
                label = document.add_paragraph()
                label.add_run(f.label).bold = True
                if f.type in ("table", "contact_list"):
                    rows = rows_of(f, v)
                    if rows:
                        _table(document, [lbl for _, lbl in columns_of(f)], rows)
                        stamp = doc.autofilled_at.get(f"{s.key}.{f.key}")
                        if stamp:
                            note = document.add_paragraph(f"（台帳から自動入力: {fmt_dt(stamp)}）")
                            note.runs[0].font.size = Pt(8)
                    else:
                        document.add_paragraph("（未記入）")
                else:
                    for line in (value_text(f, v) or "（未記入）").splitlines() or [""]:
                        document.add_paragraph(line)
    if doc.history:
        document.add_heading("履歴", level=1)
        _table(document, ["日時", "担当", "操作", "内容"],
               [[fmt_dt(h.at), h.actor, h.action, h.detail] for h in doc.history])
    buf = io.BytesIO()
    document.save(buf)
    return buf.getvalue()
