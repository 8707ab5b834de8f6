"""Demo plans: one of each type, in different states, with synthetic content."""
from __future__ import annotations

from datetime import timedelta

from bcp_service.auth.services import actor_for
from bcp_service.appclock import get_clock

from . import authoring, versions, workflow

KIKAN = {
    "policy": {"basic_policy": "人工呼吸器など電源が必要な患者の生命を最優先に守る。職員と家族の安全を確保した上で、72時間以内に訪問診療を再開する。",
               "leader": "院長 試験 太郎", "deputy": "看護師長 試験 花子"},
    "risks": {"hazards": ["earthquake", "typhoon", "blackout"], "hazard_map_checked": "done",
              "damage_estimate": "首都直下地震で震度6強。区の想定では停電は最大1週間、携帯電話は数日つながりにくい。",
              "hazard_effects": "発災直後は職員の参集が半数程度。24時間以内に患者宅の停電状況を確認する必要がある。"},
    "priority_work": {"priority_tasks": [
        {"task": "人工呼吸器使用者の安否確認", "priority": "a", "target": "発災後3時間以内"},
        {"task": "定期訪問診療", "priority": "b", "target": "72時間以内に再開"},
        {"task": "外来・健診", "priority": "c", "target": "1週間後に判断"}]},
    "training": {"training_plan": "年2回、停電を想定した机上訓練と安否確認訓練を行う。", "drills_per_year": 2,
                 "next_review_date": "2027-05-31"},
    "building": {"measures": ["furniture_fixed", "emergency_power", "vehicle_fuel"]},
    "utilities": {"electricity": "ポータブル電源2台（各1,000Wh）を診療所に置き、携帯電話と吸引器の充電を優先する。",
                  "telecoms": "災害用伝言ダイヤル171、SMS、区の防災無線を使う。"},
    "stockpiles": {"stock_table": [{"item": "飲料水", "quantity": "職員分3日", "place": "倉庫", "check_month": "9月"},
                                   {"item": "吸引カテーテル", "quantity": "100本", "place": "処置室", "check_month": "3月"}],
                   "stock_days": 3},
    "activation": {"criteria": "区内で震度5強以上、または3時間以上の広域停電で院長（不在時は看護師長）が発動する。",
                   "stages": [{"stage": "1", "staff_out": "看護師1人", "space": "診療所は使える", "travel": "車で訪問できる",
                               "strategy": "注意しつつ通常業務"},
                              {"stage": "2", "staff_out": "看護師2人", "space": "一部使えない", "travel": "一部の道路が通れない",
                               "strategy": "定期訪問を縮小"},
                              {"stage": "3", "staff_out": "半数", "space": "診療所が使えない", "travel": "自転車・徒歩のみ",
                               "strategy": "BCP発動、連携先の応援で訪問を維持"},
                              {"stage": "4", "staff_out": "院長が診療できない", "space": "—", "travel": "—",
                               "strategy": "訪問を止め、連携先へ患者を引き継ぐ"}],
                   "sole_doctor_trigger": "院長が負傷・連絡不通で診療できないと看護師長が判断したら、連携先へ電話して優先度リストの順に引き継ぐ。",
                   "handover_partner": "試験中央総合病院 在宅医療部 03-0000-0100",
                   "command_post": "診療所2階（使えない場合は院長宅）"},
    "action_rules": {"rules": "1. 自分と周りの安全を確保する 2. 勤務中は被害を確認して院長に報告する 3. 勤務外は家族の安全を確保してから安否を報告する 4. 震度6弱以上は連絡がなくても参集する"},
    "home_visits": {"forecast_actions": "台風の前日に電源依存の患者へ電話し、充電と燃料を確認する。訪問を前倒しする。",
                    "during_visit": "患者と自分の安全を確保し、機器の作動を確かめてから診療所へ連絡する。"},
    "transport": {"means": "ストレッチャーの方は民間救急（契約先）、車いすの方は福祉車両。救急要請は命の危険がある時に限る。",
                  "arranger": "日中は事務長、夜間は当番の看護師",
                  "carry_items": ["manual_resuscitator", "spare_batteries", "suction", "device_settings"]},
    "safety_checks": {"patient_checks": "患者優先度リストの順に、SMSのワンタップ回答と電話で確認する。",
                      "staff_rollcall": "発災後1時間以内にグループ連絡で安否を報告する。"},
    "continuity": {"resume_hours": 72, "evacuation": "区立小学校へ徒歩で避難する。"},
    "recovery": {"public_info": "診療所の入口掲示とSMSで患者・家族に知らせる。"},
    "patient_priority": {"priority_rule": "人工呼吸器（24時間使用）→ 人工呼吸器（夜間のみ）→ 在宅酸素 → 吸引器。同じ区分では自立電源時間の短い順。"},
    "device_power": {"power_plan": "予備電源のない患者には区の貸出制度を案内し、電力会社へ登録する。",
                     "utility_registration": "some"},
    "medicines": {"supply_route": "試験みどり薬局から供給。途絶時は連携先の病院薬剤部に依頼する。"},
    "records": {"offline_list": "診療所金庫に紙の患者一覧（毎月1日に印刷）", "paper_records": "紙の訪問記録票に書き、復旧後に入力する。"},
    "family_teaching": {"teaching_items": ["battery_switch", "manual_resuscitator", "contact_rule"]},
    "partners": {"agreements": [{"partner": "試験中央総合病院", "content": "停電時の受け入れ", "since": "2026-04-01"}],
                 "info_sharing": "本人の同意を得て、患者一覧を連携先と共有する。"},
    "community": {"community_support": "福祉避難所へ看護師1名を派遣できる。"},
}


# Used only where live data is empty (an organisation without registered patients or staff
# accounts), so that the demo plan can still be submitted.
FALLBACK = {
    ("policy", "staff_contacts"): [{"name": "試験 一郎", "role": "院長", "phone": "090-0000-0201"},
                                   {"name": "試験 二美", "role": "看護師", "phone": "090-0000-0202"}],
    ("patient_priority", "priority_patients"): [
        {"rank": 1, "name": "試験 患者一", "devices": "人工呼吸器(TPPV)", "runway_hours": 8, "tier": "yellow",
         "backup": "外部バッテリー×2", "phone": "090-0000-0301"}],
    ("transport", "transport_patients"): [
        {"name": "試験 患者一", "devices": "人工呼吸器", "tier": "yellow", "transport_needs": "ストレッチャー",
         "designated_facility": "試験中央総合病院"}],
    ("transport", "designated_facilities"): [
        {"name": "試験中央総合病院", "patients": 1, "has_generator": "あり", "accepts_ventilator": "あり",
         "ventilator_beds": 2}],
    ("transport", "transport_counts"): [
        {"transport_needs": "ストレッチャー", "red": 1, "yellow": 0, "green": 0, "total": 1}],
}

TRANSPORT_SHARED = {"means": "民間救急と福祉車両を参加機関で融通する。", "arranger": "事務局",
                    "carry_items": ["manual_resuscitator", "spare_batteries", "suction"]}


def _fill(session, actor, plan, answers, now):
    for section, values in answers.items():
        authoring.save_section(session, actor, plan.id, section, values, now=now)
    version = versions.current_version(plan)
    missing = versions.progress_of(plan, version)
    for (section, field), rows in FALLBACK.items():
        if missing.section(section) is not None and field in missing.section(section).missing:
            authoring.save_section(session, actor, plan.id, section, {field: rows}, now=now)


def seed(session, ctx) -> None:
    now = get_clock().now()
    hub = actor_for(ctx.users["hub_staff"])
    admin = actor_for(ctx.users["admin"])
    clinic_user = ctx.users["institution_staff"]
    clinic = actor_for(clinic_user)

    # 1. 機関型: approved a month ago, now being revised (draft of version 2)
    kikan = authoring.create_plan(session, clinic, authoring.NewPlan(
        "kikan", f"{clinic_user.organization.name} 機関型BCP", organization_id=clinic_user.organization_id),
        now=now - timedelta(days=40))
    _fill(session, clinic, kikan, KIKAN, now - timedelta(days=39))
    workflow.submit(session, clinic, kikan.id, now=now - timedelta(days=35))
    workflow.approve(session, hub, kikan.id, now=now - timedelta(days=33))
    workflow.revise(session, clinic, kikan.id, now=now - timedelta(days=2), note="職員の異動を反映")

    # 2. 機関型 of another clinic: approved 13 months ago, review overdue (reminders go out)
    others = [o for o in ctx.orgs_of_kind("clinic") if o.id != clinic_user.organization_id]
    if others:
        old = authoring.create_plan(session, hub, authoring.NewPlan("kikan", f"{others[0].name} 機関型BCP",
                                                                 organization_id=others[0].id),
                                   now=now - timedelta(days=420))
        _fill(session, hub, old, KIKAN, now - timedelta(days=419))
        workflow.submit(session, hub, old.id, now=now - timedelta(days=410))
        workflow.approve(session, admin, old.id, now=now - timedelta(days=400))
    # 3. 機関型 still on template v1 (shows the upgrade path)
    if len(others) > 1:
        v1 = authoring.create_plan(session, hub, authoring.NewPlan("kikan", f"{others[1].name} 機関型BCP",
                                                                organization_id=others[1].id), now=now - timedelta(days=5))
        versions.current_version(v1).template_version = 1
        authoring.save_section(session, hub, v1.id, "policy", KIKAN["policy"], now=now - timedelta(days=5))

    # 4. 連携型: in review
    members = [o.id for o in (ctx.orgs_of_kind("clinic") + ctx.orgs_of_kind("home_nursing")
                              + ctx.orgs_of_kind("pharmacy"))][:6]
    renkei = authoring.create_plan(session, hub, authoring.NewPlan("renkei", "区中央部 在宅医療 相互支援（連携型BCP）",
                                                                 member_org_ids=tuple(members)), now=now - timedelta(days=10))
    rows = versions.answers_of(versions.current_version(renkei))["members"]["member_table"]
    for r, role in zip(rows, ("事務局・代理訪問", "代理訪問", "代理訪問", "夜間の訪問看護", "夜間の訪問看護", "医薬品の融通")):
        r["role"] = role
    _fill(session, hub, renkei, {
        "members": {"member_table": rows, "coordinator": "試験在宅クリニック千代田（代行: 試験訪問看護ステーションさくら）"},
        "agreement": {"aid_types": ["staff_dispatch", "substitute_visits", "lend_equipment", "share_supplies"],
                      "request_procedure": "事務局へ電話またはSMSで依頼する。口頭の依頼でよい。",
                      "costs": "派遣元の人件費は受け手が後日精算する。機器の貸出は無償。", "agreement_date": "2026-04-01"},
        "contact_tree": {"contacts": [{"name": "試験 太郎", "role": "事務局", "phone": "090-0000-0101"}],
                         "disaster_order": "事務局 → 各機関の窓口 → 各機関内で連絡網を回す。"},
        "information": {"shared_items": ["device_patients", "staff_status", "power"], "channel": "service",
                        "consent": "患者の同意書で、連携機関への共有を明記している。"},
        "activation": {"trigger": "区内で震度5強以上、または広域停電が6時間以上続くとき。", "decision_maker": "事務局の院長",
                       "stand_down": "全機関が通常訪問に戻った時点で事務局が解除する。"},
        "drills": {"drill_plan": "年1回、停電を想定した合同の安否確認訓練。", "drills_per_year": 1},
        "review": {"review_cycle": "yearly", "next_review_date": "2027-03-31"},
        "transport": TRANSPORT_SHARED,
    }, now - timedelta(days=9))
    workflow.submit(session, hub, renkei.id, now=now - timedelta(days=1))

    # 5. 地域BCP: draft, partly written (resource table auto-filled from facilities)
    chiiki = authoring.create_plan(session, hub, authoring.NewPlan("chiiki", f"{ctx.region.name} 地域BCP",
                                                                 region_code=ctx.region.code), now=now - timedelta(days=3))
    _fill(session, hub, chiiki, {
        "area": {"municipalities": "千代田区・中央区・港区・文京区・台東区", "hazards": ["earthquake", "flood", "blackout"]},
        "resources": {"welfare_shelters": "文京ふれあい館は発電機あり。人工呼吸器の充電に使える。"},
    }, now - timedelta(days=3))
