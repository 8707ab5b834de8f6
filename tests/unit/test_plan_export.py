import io
from datetime import date, datetime, timezone

from docx import Document
from docx.oxml.ns import qn

from bcp_service.plans.export import HistoryEntry, PlanDoc, to_docx, to_html, to_markdown
from bcp_service.plans.templates import TemplateLibrary

T = TemplateLibrary.load().current("kikan")
ANSWERS = {
    "policy": {"basic_policy": "命を守る。\n72時間以内に訪問を再開する。", "leader": "院長 試験 太郎",
               "staff_contacts": [{"name": "試験 花子", "role": "看護師", "phone": "090-0000-0001"}]},
    "risks": {"hazards": ["earthquake", "blackout"], "hazard_map_checked": "done"},
    "training": {"drills_per_year": 2, "next_review_date": "2027-05-31"},
    "patient_priority": {"priority_patients": [
        {"rank": 1, "name": "試験 一郎", "devices": "人工呼吸器(TPPV)", "runway_hours": 4.5, "tier": "red"}]},
}
AT = datetime(2026, 11, 1, 1, 0, tzinfo=timezone.utc)


def make_doc(**kw):
    base = dict(template=T, answers=ANSWERS, title="試験クリニック 機関型BCP", owner="試験クリニック",
                version_number=2, status="approved", created_at=AT, approved_at=AT, approved_by="拠点 試験 次郎",
                review_due_on=date(2027, 11, 1),
                autofilled_at={"patient_priority.priority_patients": AT},
                history=(HistoryEntry(AT, "試験 太郎", "提出"), HistoryEntry(AT, "拠点 試験 次郎", "承認")))
    base.update(kw)
    return PlanDoc(**base)


def test_docx_has_cover_headings_tables_and_japanese_fonts():
    d = Document(io.BytesIO(to_docx(make_doc())))
    texts = [p.text for p in d.paragraphs]
    assert "試験クリニック 機関型BCP" in texts
    assert "機関型BCP　第2版" in texts
    h1 = [p.text for p in d.paragraphs if p.style.name == "Heading 1"]
    h2 = [p.text for p in d.paragraphs if p.style.name == "Heading 2"]
    assert h1[:3] == ["総論", "平常時の対応", "緊急時の対応"] and h1[-1] == "履歴"
    assert "患者優先度リスト" in h2 and len(h2) == len(T.sections)
    cover = {r.cells[0].text: r.cells[1].text for r in d.tables[0].rows}
    assert cover["版"] == "第2版" and cover["状態"] == "承認済み" and "拠点 試験 次郎" in cover["承認"]
    assert cover["次回見直し期限"] == "2027年11月1日"
    priority = next(t for t in d.tables if t.rows[0].cells[0].text == "順位")
    assert [c.text for c in priority.rows[1].cells][:5] == ["1", "試験 一郎", "人工呼吸器(TPPV)", "4.5", "赤"]
    fonts = d.styles["Normal"].element.rPr.find(qn("w:rFonts"))
    assert fonts.get(qn("w:eastAsia")) == "Noto Sans CJK JP"
    h_fonts = d.styles["Heading 1"].element.rPr.find(qn("w:rFonts"))
    assert h_fonts.get(qn("w:eastAsia")) == "Noto Sans CJK JP" and h_fonts.get(qn("w:eastAsiaTheme")) is None


def test_markdown_lists_choices_by_label_and_marks_blanks():
    md = to_markdown(make_doc())
    assert "- **想定する災害**: 地震、大規模停電" in md
    assert "- **代行者（職名・氏名）**: （未記入）" in md
    assert "| 1 | 試験 一郎 | 人工呼吸器(TPPV) | 4.5 | 赤 |  |  |" in md
    assert "台帳から自動入力: 2026年11月01日 10:00" in md   # shown in Tokyo time


def test_html_print_view_escapes_and_has_every_section():
    doc = make_doc(answers={"policy": {"basic_policy": "<script>alert(1)</script>"}})
    html = to_html(doc)
    assert "<script>alert" not in html and "&lt;script&gt;" in html
    assert html.count('<section id="section-') == len(T.sections)
    assert "@page" in html
