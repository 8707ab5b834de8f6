"""After-action report / improvement plan (AAR/IP) in the DOMAIN.md structure: DOCX and HTML.

``AfterActionReport`` is plain data assembled by the service layer; the renderers here know
nothing about Flask or the database, so the same report can be rendered by the web, the CLI or a test.
"""
from __future__ import annotations

import base64
import io
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Sequence
from zoneinfo import ZoneInfo

from .evaluation import ACTION_STATUSES, ELEMENTS, RATING_LONG_JA, RATINGS
from .metrics import DrillMetrics

TOKYO = ZoneInfo("Asia/Tokyo")
TEMPLATES_DIR = Path(__file__).resolve().parents[2] / "templates"
MODE_JA = {"tabletop": "図上訓練（TTX・机上）", "drill": "ドリル（安否確認の実動訓練）", "functional": "ドリル（安否確認の実動訓練）"}
HAZARD_JA = {"power_outage": "停電", "earthquake": "地震", "typhoon_flood": "台風・水害",
             "planned_outage": "計画停電", "other": "その他"}


@dataclass(frozen=True)
class Observation:
    """One evaluator's observation of one objective (each is kept on the report)."""
    evaluator: str
    rating: str
    strengths: str = ""
    improvements: str = ""
    root_cause: str = ""


@dataclass(frozen=True)
class AarObjective:
    text: str
    rating: str | None                  # None = not yet evaluated; merged: the most severe observation
    strengths: str = ""
    improvements: str = ""
    root_cause: str = ""
    observations: tuple[Observation, ...] = ()
    capabilities: tuple[str, ...] = ()   # HSEEP core capabilities (from the scenario)
    critical_tasks: tuple[str, ...] = ()


SEVERITY = ("P", "S", "M", "U")


def merge_observations(text: str, observations: Sequence[Observation], *, capabilities: Sequence[str] = (),
                       critical_tasks: Sequence[str] = ()) -> AarObjective:
    """Several evaluators on one objective: the rating is the most severe, every observation is kept and
    the texts are joined with the evaluator's name."""
    obs = tuple(observations)
    if not obs:
        return AarObjective(text, None, capabilities=tuple(capabilities), critical_tasks=tuple(critical_tasks))

    def joined(attr: str) -> str:
        values = [(o.evaluator, getattr(o, attr)) for o in obs if getattr(o, attr)]
        if len(obs) == 1:
            return values[0][1] if values else ""
        return "\n".join(f"{who}: {v}" for who, v in values)

    return AarObjective(text, max((o.rating for o in obs), key=SEVERITY.index), joined("strengths"),
                        joined("improvements"), joined("root_cause"), obs, tuple(capabilities), tuple(critical_tasks))


def capability_rows(objectives: Sequence[AarObjective]) -> list[tuple[str, str, str]]:
    """(core capability, strengths, areas for improvement) across the objectives that test it."""
    out: dict[str, tuple[list[str], list[str]]] = {}
    for o in objectives:
        for cap in o.capabilities:
            s, i = out.setdefault(cap, ([], []))
            s.extend(x for x in [o.strengths] if x)
            i.extend(x for x in [o.improvements] if x)
    return [(cap, "\n".join(s) or "—", "\n".join(i) or "—") for cap, (s, i) in out.items()]


@dataclass(frozen=True)
class AarAction:
    issue: str                           # the objective (or area for improvement) it answers
    title: str
    element: str
    owner: str                           # organisation name
    contact: str
    start: date | None
    due: date
    status: str
    plan_ref: str = ""                   # e.g. "機関型BCP『…』 / emergency_response"


@dataclass(frozen=True)
class AfterActionReport:
    drill_id: int
    title: str
    scenario_title: str
    hazard: str
    mode: str
    scheduled_at: datetime
    started_at: datetime | None
    ended_at: datetime | None
    scope: str                           # 圏域 name and code
    summary: str
    contact: str
    participants: tuple[str, ...]        # organisation names (no personal data)
    objectives: tuple[AarObjective, ...]
    actions: tuple[AarAction, ...]
    metrics: DrillMetrics | None = None
    log_count: int = 0
    generated_at: datetime | None = None
    strengths_summary: tuple[str, ...] = field(default=())
    scenario_narrative: str = ""         # the scenario as played (summary and the injects' situations)


def _fmt_dt(dt: datetime | None) -> str:
    return dt.astimezone(TOKYO).strftime("%Y年%m月%d日 %H:%M") if dt else "—"


def _fmt_date(d: date | None) -> str:
    return f"{d.year}年{d.month}月{d.day}日" if d else "—"


def _fmt_min(v: float | None) -> str:
    return "未達" if v is None else f"{v:.0f}分"


def metric_rows(m: DrillMetrics) -> list[tuple[str, str]]:
    rate = "—" if m.response_rate is None else f"{m.response_rate * 100:.1f}%（{m.responded}/{m.targets}）"
    return [
        ("対象者数", f"{m.targets}人"),
        ("応答率", rate),
        ("50%到達", _fmt_min(m.minutes_to_50)),
        ("90%到達", _fmt_min(m.minutes_to_90)),
        ("100%到達", _fmt_min(m.minutes_to_100)),
        ("最初の搬送手配まで", "なし" if m.minutes_to_first_transport is None else _fmt_min(m.minutes_to_first_transport)),
        ("連絡がつかなかった人数", f"{m.unreachable}人"),
    ]


def _cjk_font() -> str | None:
    from matplotlib import font_manager
    names = {f.name for f in font_manager.fontManager.ttflist}
    for candidate in ("Noto Sans CJK JP", "IPAexGothic", "IPAGothic", "Noto Sans JP", "TakaoGothic"):
        if candidate in names:
            return candidate
    return None


def checkin_chart_png(m: DrillMetrics, *, title: str = "安否確認の推移") -> bytes:
    """Step chart of the percentage answered over minutes since start, with 50/90/100 % marks."""
    import matplotlib
    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    font = _cjk_font()
    # Without a Japanese font matplotlib would draw tofu boxes: fall back to English labels then.
    labels = (("経過時間（分）", "応答済み（%）", title) if font
              else ("minutes since start", "answered (%)", "Check-in progress"))
    fig = Figure(figsize=(6.4, 3.2), dpi=110)
    ax = fig.add_subplot()
    xs = [p[0] for p in m.curve]
    ys = [p[1] for p in m.curve]
    end = max(xs[-1] * 1.05, 10.0)
    ax.step(xs + [end], ys + [ys[-1]], where="post", color="#1f5aa6", linewidth=2)
    for pct in (50, 90, 100):
        ax.axhline(pct, color="#999999", linewidth=0.6, linestyle="--")
        v = m.minutes_to[pct]
        if v is not None:
            ax.plot([v], [pct], "o", color="#c0392b")
            ax.annotate(f"{v:.0f}", (v, pct), textcoords="offset points", xytext=(4, -12), fontsize=8)
    ax.set_ylim(0, 105)
    ax.set_xlim(0, end)
    ax.set_xlabel(labels[0], fontfamily=font or "sans-serif")
    ax.set_ylabel(labels[1], fontfamily=font or "sans-serif")
    ax.set_title(labels[2], fontfamily=font or "sans-serif")
    ax.grid(True, alpha=0.3)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return buf.getvalue()


def render_docx(r: AfterActionReport) -> bytes:
    from docx import Document
    from docx.shared import Inches, Pt
    from docx.oxml.ns import qn

    doc = Document()
    style = doc.styles["Normal"]
    style.font.name = "Yu Gothic"
    style.font.size = Pt(10.5)
    style.element.rPr.rFonts.set(qn("w:eastAsia"), "游ゴシック")

    doc.add_heading(f"訓練事後報告書・改善計画（AAR/IP）", level=0)
    doc.add_paragraph(r.title)

    doc.add_heading("1. 訓練の概要", level=1)
    overview = [
        ("訓練名", r.title),
        ("シナリオ", f"{r.scenario_title}（{HAZARD_JA.get(r.hazard, r.hazard)}）"),
        ("形式", MODE_JA.get(r.mode, r.mode)),
        ("予定日時", _fmt_dt(r.scheduled_at)),
        ("実施", f"{_fmt_dt(r.started_at)} 〜 {_fmt_dt(r.ended_at)}"),
        ("対象範囲", r.scope),
        ("目標", "／".join(o.text for o in r.objectives) or "—"),
        ("参加機関数", f"{len(r.participants)}機関"),
        ("連絡先", r.contact or "—"),
    ]
    _table(doc, ["項目", "内容"], overview)

    doc.add_heading("シナリオ", level=2)
    doc.add_paragraph(r.scenario_narrative or "—")

    doc.add_heading("2. 総括", level=1)
    doc.add_paragraph(r.summary or "—")
    if r.metrics is not None:
        doc.add_heading("機能訓練の指標", level=2)
        _table(doc, ["指標", "値"], metric_rows(r.metrics))
        if r.metrics.targets:
            doc.add_paragraph("安否確認の推移")
            doc.add_picture(io.BytesIO(checkin_chart_png(r.metrics)), width=Inches(6))

    doc.add_heading("3. 目標ごとの評価", level=1)
    _table(doc, ["目標", "評価"],
           [(o.text, RATING_LONG_JA.get(o.rating, "未評価") if o.rating else "未評価") for o in r.objectives])
    doc.add_paragraph("評価の区分: " + "　".join(f"{k}＝{v}" for k, v in RATINGS.items()))

    doc.add_heading("4. 目標ごとの分析", level=1)
    for i, o in enumerate(r.objectives, start=1):
        doc.add_heading(f"4.{i} {o.text}", level=2)
        doc.add_paragraph(f"評価: {RATING_LONG_JA.get(o.rating, '未評価') if o.rating else '未評価'}")
        if o.capabilities:
            doc.add_paragraph("中核能力: " + "／".join(o.capabilities))
        if o.critical_tasks:
            doc.add_paragraph("重要タスク: " + "／".join(o.critical_tasks))
        if len(o.observations) > 1:
            _table(doc, ["評価者", "評価", "良かった点", "改善すべき点"],
                   [(ob.evaluator, ob.rating, ob.strengths or "—", ob.improvements or "—") for ob in o.observations])
        doc.add_paragraph(f"良かった点: {o.strengths or '—'}")
        doc.add_paragraph(f"改善すべき点: {o.improvements or '—'}")
        doc.add_paragraph(f"根本原因: {o.root_cause or '—'}")

    doc.add_heading("4b. 中核能力ごとの強みと改善点", level=1)
    _table(doc, ["中核能力", "強み", "改善すべき点"], capability_rows(r.objectives) or [("—", "—", "—")])

    doc.add_heading("5. 改善計画", level=1)
    rows = [(a.issue, a.title, ELEMENTS.get(a.element, a.element), a.owner, a.contact or "—",
             _fmt_date(a.start), _fmt_date(a.due), ACTION_STATUSES.get(a.status, a.status), a.plan_ref or "—")
            for a in r.actions]
    _table(doc, ["課題", "是正措置", "要素", "担当機関", "連絡先", "開始", "期限", "状況", "計画・章"], rows or [("—",) * 9])

    doc.add_heading("6. 参加機関", level=1)
    _table(doc, ["No.", "機関名"], [(str(i), n) for i, n in enumerate(r.participants, start=1)] or [("—", "—")])
    doc.add_paragraph(f"作成: {_fmt_dt(r.generated_at)}（記録 {r.log_count}件）")

    buf = io.BytesIO()
    doc.save(buf)
    return buf.getvalue()


def _table(doc, header: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
    table = doc.add_table(rows=1, cols=len(header))
    table.style = "Table Grid"
    for cell, text in zip(table.rows[0].cells, header):
        cell.text = text
    for row in rows:
        cells = table.add_row().cells
        for cell, text in zip(cells, row):
            cell.text = str(text)


def render_html(r: AfterActionReport) -> str:
    """A standalone HTML document (chart embedded), printable and mailable."""
    from jinja2 import Environment, FileSystemLoader, select_autoescape

    env = Environment(loader=FileSystemLoader(str(TEMPLATES_DIR)), autoescape=select_autoescape(["html"]))
    chart = None
    if r.metrics is not None and r.metrics.targets:
        chart = base64.b64encode(checkin_chart_png(r.metrics)).decode("ascii")
    return env.get_template("drills/aar_document.html").render(
        r=r, chart=chart, metric_rows=metric_rows(r.metrics) if r.metrics else None,
        fmt_dt=_fmt_dt, fmt_date=_fmt_date, MODE_JA=MODE_JA, HAZARD_JA=HAZARD_JA, RATINGS=RATINGS,
        RATING_LONG_JA=RATING_LONG_JA, ELEMENTS=ELEMENTS, ACTION_STATUSES=ACTION_STATUSES,
        capability_rows=capability_rows(r.objectives),
    )
