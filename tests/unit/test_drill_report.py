"""After-action report rendering: DOCX opened back with python-docx, HTML structure, chart."""
import io
from datetime import date, datetime, timedelta, timezone

import docx

from bcp_service.drills.metrics import CheckinRecord, compute
from bcp_service.drills.report import (
    AarAction, AarObjective, AfterActionReport, checkin_chart_png, render_docx, render_html,
)

T0 = datetime(2026, 9, 1, 0, 0, tzinfo=timezone.utc)


def report(with_metrics=True):
    metrics = compute(T0, [CheckinRecord(i, T0 + timedelta(minutes=m)) for i, m in enumerate([3, 8, 15, 40])]
                      + [CheckinRecord(9, None)], transport_assigned_at=[T0 + timedelta(minutes=55)]) if with_metrics else None
    return AfterActionReport(
        drill_id=1, title="令和8年度 圏域合同訓練", scenario_title="大規模停電（72時間）", hazard="power_outage",
        mode="functional", scheduled_at=T0, started_at=T0, ended_at=T0 + timedelta(hours=2),
        scope="区中央部（1301）", summary="全体として安否確認は円滑だった。", contact="在宅医療連携拠点 事務局",
        participants=("試験クリニック", "試験訪問看護ステーション"),
        objectives=(AarObjective("3時間以内に全員の安否を確認できる", "S", "SMSの一斉送信が早かった",
                                 "固定電話世帯の確認が遅れた", "音声通話の手順が未整備"),
                    AarObjective("搬送の調整ができる", None)),
        actions=(AarAction("3時間以内に全員の安否を確認できる", "固定電話世帯への音声通話手順を整備する", "planning",
                           "試験クリニック", "事務長", date(2026, 9, 10), date(2026, 12, 1), "open",
                           "機関型BCP『試験クリニックBCP』 / 緊急時の対応"),),
        metrics=metrics, log_count=12, generated_at=T0 + timedelta(hours=3),
    )


def all_text(document) -> str:
    parts = [p.text for p in document.paragraphs]
    for t in document.tables:
        for row in t.rows:
            parts.extend(c.text for c in row.cells)
    return "\n".join(parts)


def test_docx_has_the_aar_structure_in_order():
    d = docx.Document(io.BytesIO(render_docx(report())))
    headings = [p.text for p in d.paragraphs if p.style.name.startswith("Heading")]
    assert headings[:3] == ["1. 訓練の概要", "シナリオ", "2. 総括"]
    for h in ["3. 目標ごとの評価", "4. 目標ごとの分析", "4b. 中核能力ごとの強みと改善点", "5. 改善計画", "6. 参加機関"]:
        assert h in headings
    assert headings.index("3. 目標ごとの評価") < headings.index("5. 改善計画") < headings.index("6. 参加機関")


def test_docx_carries_ratings_actions_metrics_and_the_chart():
    d = docx.Document(io.BytesIO(render_docx(report())))
    text = all_text(d)
    assert "S（一部課題あり）" in text and "未評価" in text
    assert "固定電話世帯への音声通話手順を整備する" in text and "計画" in text and "2026年12月1日" in text
    assert "80.0%（4/5）" in text and "15分" in text and "55分" in text
    assert "100%到達" in text and "未達" in text
    assert len(d.inline_shapes) == 1  # the check-in chart


def test_tabletop_report_has_no_metrics_section_or_chart():
    d = docx.Document(io.BytesIO(render_docx(report(with_metrics=False))))
    assert "応答率" not in all_text(d)
    assert len(d.inline_shapes) == 0


def test_html_is_escaped_and_contains_the_chart_and_sections():
    r = report()
    r = AfterActionReport(**{**r.__dict__, "summary": "<script>alert(1)</script>"})
    html = render_html(r)
    assert "<script>alert(1)</script>" not in html and "&lt;script&gt;" in html
    assert 'src="data:image/png;base64,' in html
    for anchor in ["overview", "summary", "ratings", "analysis", "improvement-plan", "participants"]:
        assert f'id="{anchor}"' in html


def test_chart_is_a_png():
    assert checkin_chart_png(report().metrics)[:8] == b"\x89PNG\r\n\x1a\n"
