"""Incident report (事後報告): timeline, time to reach 50/90/100 %, transports, unreachable.

``build`` gathers the facts (no names: the report circulates beyond the desk; patients appear by
id only); ``to_docx`` renders them with python-docx; the HTML view is ``templates/outages/report.html``.
"""
from __future__ import annotations

import io
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bcp_service.clock import to_local
from bcp_service.outages.figures import ReachFigures, reach_figures
from bcp_service.outages.models import (
    CHECKIN_LABELS, TRANSPORT_LABELS, FieldTask, LoanEquipment, Outage, OutageEvent, OutagePatient, PowerLoan,
    Transport,
)

EVENT_LABELS = {
    "declared": "停電宣言", "area_changed": "範囲変更", "restoration_changed": "復旧見込み変更",
    "answer": "安否回答", "round_2": "第2回確認（SMS＋音声）", "field_task": "現場訪問依頼",
    "task_acknowledged": "依頼受諾", "field_report": "現場報告", "transport": "搬送手配",
    "transport_proposed": "搬送案", "transports_proposed": "搬送案（一括）", "transport_status": "搬送状態変更",
    "resolved": "復旧", "unreachable": "連絡不能（全経路失敗）", "coverage_handed_over": "重複停電からの引継ぎ",
    "task_unsent": "依頼をSMSで送れず（本部から電話してください）",
    "contact_checkin": "家族など連絡先へ安否確認", "contact_unsent": "連絡先の番号に送れず",
    "contact_unreachable": "連絡先に届かず（次へ）",
    "task_declined": "依頼の辞退", "task_expired": "受諾期限切れ", "task_reassigned": "次のチームへ依頼",
    "task_no_team": "依頼できるチームなし（本部で手配してください）",
    "withdrawn_real_outage": "実災害対応中のため訓練の対象外に",
    "loan": "予備電源の貸出（引き渡し）", "loan_returned": "予備電源の返却",
    "recheck": "再確認（停電継続中）", "transport_not_needed": "搬送案が不要の可能性（本部で確認）",
    "area_restored": "一部地域の復旧",
}


# What the event details mean, for the timeline read by people (the API keeps the keys).
DETAIL_LABELS = {
    "affected": "対象", "messaged": "連絡", "covered_by_other_outage": "他の停電で連絡中", "drill": "訓練",
    "area_kind": "範囲", "without_coordinates": "座標なし（市区町村で判定）", "added": "追加",
    "removed": "範囲外へ", "returned": "範囲内へ戻る", "before": "変更前", "after": "変更後",
    "restoration_notices": "復旧連絡", "proposals_cancelled": "取消した搬送案", "from_outage": "引継ぎ元の停電",
    "answer": "回答", "channel": "経路", "reported_hours": "申告の残り時間", "reason": "理由", "task_id": "依頼",
    "organization_id": "担当機関", "needs_transport": "搬送", "transport_id": "搬送", "status": "状態",
    "facility_id": "搬送先施設", "count": "件数", "without_facility": "受入先なし", "via": "操作",
    "contact": "回答者・連絡先番号", "relation": "続柄", "deadline": "受諾期限", "from_task_id": "元の依頼",
    "real_outage": "実際の停電",
    "placed": "受入先決定", "designated": "指定施設", "equipment_id": "機材", "equipment_kind": "種類",
    "added_hours": "追加された時間", "runs_out_at": "電源切れ見込み",
    "cycle": "再確認の回", "proposed": "新たな搬送案", "flagged_not_needed": "不要の可能性がある搬送案",
    "unflagged": "再び必要になった搬送案", "rechecks_sooner": "早めた再確認",
}
_VALUE_LABELS = {
    "area_kind": {"municipality_codes": "市区町村", "geometry": "図形", "circle": "中心と半径"},
    "answer": CHECKIN_LABELS, "status": TRANSPORT_LABELS, "before": TRANSPORT_LABELS,
    "channel": {"sms": "SMS", "voice": "電話", "tap": "ワンタップ", "desk": "本部入力", "demo": "電話シミュレータ"},
    "via": {"one_tap": "ワンタップ", "desk": "本部入力"},
    "equipment_kind": {"power_station": "ポータブル電源", "generator": "発電機", "external_battery": "外部バッテリー"},
    "reason": {"answer": "回答", "field_report": "現場報告", "runs_out_before_restoration": "復旧前に電源切れ",
               "desk": "本部判断", "no_phone": "電話番号なし", "invalid_phone": "電話番号が不正",
               "not_mobile": "携帯電話ではない（SMS不可）"},
}


_KIND = _VALUE_LABELS["equipment_kind"]


def detail_text(detail: dict) -> str:
    """「対象=20000、連絡=19950」: event details in the words of the desk, empty values left out."""
    parts = []
    for key, value in detail.items():
        if value in (None, "", [], {}):
            continue
        if isinstance(value, bool):
            value = "あり" if value else "なし"
        else:
            value = _VALUE_LABELS.get(key, {}).get(value, value) if isinstance(value, str) else value
        parts.append(f"{DETAIL_LABELS.get(key, key)}={value}")
    return "、".join(parts)


@dataclass
class IncidentReport:
    outage: Outage
    generated_at: datetime
    figures: ReachFigures
    checkin: dict[str, int]
    transports: dict[str, int]
    unreachable: list[int]
    field_tasks: int
    timeline: list[dict] = field(default_factory=list)
    # Power loans: (loan id, patient id, equipment kind, hours added, returned?) — returns tracked after restoration.
    loans: list[tuple[int, int, str, float, bool]] = field(default_factory=list)

    @property
    def loans_out(self) -> int:
        return sum(1 for loan in self.loans if not loan[4])

    @property
    def title(self) -> str:
        return f"{'【訓練】' if self.outage.drill else ''}停電対応 事後報告（停電 #{self.outage.id}）"


def build(session: Session, outage: Outage, *, now: datetime) -> IncidentReport:
    rows = session.execute(select(OutagePatient.patient_id, OutagePatient.answered_at, OutagePatient.checkin)
                           .where(OutagePatient.outage_id == outage.id, OutagePatient.in_area.is_(True))).all()
    figures = reach_figures(outage.declared_at, [r[1] for r in rows])
    checkin = Counter(r[2] for r in rows)
    transports = Counter(session.scalars(select(Transport.status).where(Transport.outage_id == outage.id)))
    n_tasks = session.scalar(select(func.count()).select_from(FieldTask).where(FieldTask.outage_id == outage.id))
    events = session.scalars(select(OutageEvent).where(OutageEvent.outage_id == outage.id,
                                                       OutageEvent.kind != "answer")
                             .order_by(OutageEvent.id)).all()
    timeline = [{"at": to_local(e.at), "label": EVENT_LABELS.get(e.kind, e.kind), "patient_id": e.patient_id,
                 "detail": detail_text(e.detail or {})} for e in events]
    return IncidentReport(
        outage=outage, generated_at=now, figures=figures,
        checkin={k: checkin.get(k, 0) for k in CHECKIN_LABELS},
        transports={k: transports.get(k, 0) for k in TRANSPORT_LABELS},
        unreachable=sorted(r[0] for r in rows if r[1] is None),
        field_tasks=n_tasks, timeline=timeline,
        loans=[(i, p, _KIND.get(k, k), h, r is not None) for i, p, k, h, r in session.execute(
            select(PowerLoan.id, PowerLoan.patient_id, LoanEquipment.kind, PowerLoan.added_hours, PowerLoan.returned_at)
            .join(LoanEquipment, LoanEquipment.id == PowerLoan.equipment_id)
            .where(PowerLoan.outage_id == outage.id).order_by(PowerLoan.id))])



def _minutes(m: float | None) -> str:
    return "未達" if m is None else f"{m:g} 分"


def to_docx(r: IncidentReport) -> bytes:
    from docx import Document
    from docx.oxml.ns import qn

    doc = Document()
    style = doc.styles["Normal"]
    style.font.name = "Yu Gothic"
    style.element.rPr.rFonts.set(qn("w:eastAsia"), "Yu Gothic")   # East Asian text needs its own font slot
    doc.add_heading(r.title, level=0)
    o = r.outage
    fmt = "%Y-%m-%d %H:%M"
    doc.add_paragraph(
        f"停電開始: {to_local(o.started_at).strftime(fmt)}　宣言: {to_local(o.declared_at).strftime(fmt)}　"
        f"復旧: {to_local(o.resolved_at).strftime(fmt) if o.resolved_at else '継続中'}　原因: {o.cause or '—'}")
    doc.add_heading("安否確認の到達", level=1)
    _docx_table(doc, ("指標", "値"), [
        ("対象者", f"{r.figures.affected} 人"), ("到達（回答あり）", f"{r.figures.reached} 人"),
        ("50% 到達まで", _minutes(r.figures.minutes_to[50])), ("90% 到達まで", _minutes(r.figures.minutes_to[90])),
        ("100% 到達まで", _minutes(r.figures.minutes_to[100])), ("現場訪問依頼", f"{r.field_tasks} 件")])
    doc.add_heading("安否確認の状態", level=1)
    _docx_table(doc, ("状態", "人数"), [(CHECKIN_LABELS[k], str(n)) for k, n in r.checkin.items()])
    doc.add_heading("搬送", level=1)
    _docx_table(doc, ("状態", "件数"), [(TRANSPORT_LABELS[k], str(n)) for k, n in r.transports.items()])
    doc.add_heading("予備電源の貸出", level=1)
    _docx_table(doc, ("貸出", "患者ID", "機材", "追加された時間", "返却"), [
        (str(i), str(p), k, f"{h:g} 時間", "返却済" if back else "未返却") for i, p, k, h, back in r.loans])
    doc.add_heading("連絡がつかなかった対象者", level=1)
    doc.add_paragraph("、".join(f"患者ID {i}" for i in r.unreachable) if r.unreachable else "なし")
    doc.add_heading("経過", level=1)
    _docx_table(doc, ("時刻", "出来事", "内容"), [
        (e["at"].strftime("%m/%d %H:%M:%S"),
         e["label"] + (f"（患者ID {e['patient_id']}）" if e["patient_id"] else ""), e["detail"])
        for e in r.timeline])
    doc.add_paragraph(f"作成: {to_local(r.generated_at).strftime(fmt)}")
    buf = io.BytesIO()
    doc.save(buf)
    return buf.getvalue()


def _docx_table(doc, header: tuple[str, ...], rows) -> None:
    table = doc.add_table(rows=1, cols=len(header))
    table.style = "Table Grid"
    for cell, text in zip(table.rows[0].cells, header):
        cell.text = text
    for row in rows:
        for cell, text in zip(table.add_row().cells, row):
            cell.text = text
