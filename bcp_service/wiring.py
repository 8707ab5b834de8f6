"""What the app is made of, by name, in one place and in the order it runs.

``create_app`` calls :func:`install`; nothing registers itself when imported. To add a page, a clock
job, a command or an answer handler, add it to the list here.

Where does an SMS reply change an outage? Twilio posts to ``/sms/inbound`` (``messaging.views.sms_inbound``),
which calls ``messaging.inbound.handle_inbound_sms``; ``inbound.apply_answer`` parses the reply and hands it
to ``messaging.answers.deliver``, which calls the handler listed in ``ANSWER_HANDLERS`` for the token's
purpose: ``outages.hooks.on_checkin``, which calls ``outages.checkins.record_answer``.
"""
from __future__ import annotations

from flask import Flask

from bcp_service import api, web
from bcp_service.auth import STAFF_ROLES, Role
from bcp_service.auth import models as auth_models
from bcp_service.auth import views as auth_views
from bcp_service.drills import demo as drills_demo
from bcp_service.geo import views as geo_views
from bcp_service.drills import jobs as drills_jobs
from bcp_service.drills import models as drills_models
from bcp_service.drills.views import api as drills_api_views
from bcp_service.drills.views import pages as drills_pages
from bcp_service.messaging import demo as messaging_demo
from bcp_service.messaging import takeover as messaging_takeover
from bcp_service.messaging import jobs as messaging_jobs
from bcp_service.messaging import models as messaging_models
from bcp_service.messaging import rollcall
from bcp_service.messaging import views as messaging_views
from bcp_service.messaging.answers import AnswerHooks
from bcp_service.orgs import models as orgs_models
from bcp_service.orgs import views as orgs_views
from bcp_service.outages import demo as outages_demo
from bcp_service.outages import hooks as outages_hooks
from bcp_service.outages import jobs as outages_jobs
from bcp_service.outages import models as outages_models
from bcp_service.outages.views import api as outages_api_views
from bcp_service.outages.views import pages as outages_pages
from bcp_service.outages.views import team_links as outages_team_links
from bcp_service.outages.views import voice as outages_voice
from bcp_service.meetings import models as meetings_models
from bcp_service.meetings import views as meetings_views
from bcp_service.plans import cli as plans_cli
from bcp_service.plans import demo as plans_demo
from bcp_service.plans import jobs as plans_jobs
from bcp_service.plans import models as plans_models
from bcp_service.plans.views import api as plans_api_views
from bcp_service.plans.views import pages as plans_pages
from bcp_service.plans.views import status as plans_status_views
from bcp_service.registry import cli as registry_cli
from bcp_service.registry import demo as registry_demo
from bcp_service.registry import jobs as registry_jobs
from bcp_service.registry import models as registry_models
from bcp_service.registry.views import api as registry_api_views
from bcp_service.registry.views import pages as registry_pages
from bcp_service.prefecture import views as prefecture_views
from bcp_service.scheduler import Background, Job, Schedule, Tick
from bcp_service.web import nav_item

# --- tables: every model module (Base.metadata; Alembic's autogenerate and the tests read it) -------
MODELS = (auth_models, orgs_models, registry_models, messaging_models, plans_models, drills_models,
          outages_models, meetings_models)

# --- HTTP: blueprints, registered in this order ---------------------------------------------------
BLUEPRINTS = (
    api.bp,                 # /api/v1 docs, error handlers' home
    web.bp,                 # landing page and navigation
    auth_views.bp,
    drills_api_views.bp,
    drills_pages.bp,
    messaging_views.bp,     # Twilio webhooks, one-tap page /r/<token>, roll-call, phone simulator
    orgs_views.bp,
    geo_views.bp,           # /api/v1/municipalities (the offline municipality table)
    outages_api_views.bp,
    outages_pages.bp,
    outages_team_links.bp,
    outages_voice.bp,
    plans_api_views.bp,
    plans_pages.bp,
    plans_status_views.bp,  # BCP status for the fee rule (在宅療養支援診療所・病院)
    meetings_views.bp,      # 協議の場: meeting records per region, decisions → corrective actions
    registry_api_views.bp,
    registry_pages.bp,
    prefecture_views.bp,
)

# --- navigation: (endpoint, label, roles, order, description); shown when the endpoint exists -------
NAV = (
    nav_item("outages.desk", "停電対応", [Role.ADMIN, Role.HUB_STAFF], order=20,
             description="停電の宣言・トリアージ・安否確認・搬送"),
    nav_item("plans.plans_page", "BCP計画",
             [r.value for r in (Role.ADMIN, Role.HUB_STAFF, Role.INSTITUTION_STAFF, Role.PREFECTURE_REVIEWER)],
             order=20, description="機関型・連携型・地域BCPの作成、確認、承認、書き出し"),
    nav_item("plans_status.bcp_status_page", "BCP策定状況",
             [r.value for r in (Role.ADMIN, Role.HUB_STAFF, Role.PREFECTURE_REVIEWER)], order=21,
             description="在宅療養支援診療所・病院の機関型BCPの策定状況と期限"),
    nav_item("meetings.meetings_page", "協議の場",
             [r.value for r in (Role.ADMIN, Role.HUB_STAFF, Role.INSTITUTION_STAFF)], order=45,
             description="災害対策の多職種協議の記録と決定事項（是正措置）"),
    nav_item("registry.patient_list", "患者台帳", STAFF_ROLES, order=20, description="人工呼吸器等の在宅患者と予備電源"),
    nav_item("registry.patient_map", "地図", STAFF_ROLES, order=25, description="患者と受入施設の地図"),
    nav_item("drills.calendar_page", "訓練", STAFF_ROLES, order=40, description="訓練の予定・実施・評価・報告書"),
    nav_item("prefecture.prefecture_home", "都道府県集計", [Role.ADMIN, Role.PREFECTURE_REVIEWER], order=60,
             description="圏域ごとの計画・登録患者数・訓練・是正措置の集計（個人情報なし）"),
    nav_item("orgs.organizations_page", "機関・施設", list(Role), order=80,
             description="圏域の医療機関・施設と電源・受入能力"),
    nav_item("auth.audit_page", "監査ログ", [Role.ADMIN], order=90, description="サインインと個人情報の閲覧・変更の記録"),
    nav_item("messaging.simulator", "電話シミュレータ", [Role.ADMIN, Role.HUB_STAFF], order=90,
             description="デモ: 送られたSMS・電話を見て、患者として答える"),
)

# --- the landing page: panels shown above the tiles, by role (``fn(actor) -> HTML``) -----------------
HOME_PANELS = (
    (Role.FIELD_TEAM, outages_team_links.home_panel),   # the team's open tasks: a lost SMS is not a lost task
)

# --- answers: what a one-tap link, SMS reply or DTMF digit does, by the token's purpose -------------
# (rollcall answers are messaging's own: messaging.inbound → messaging.rollcall.record_answer)
ANSWER_HANDLERS = {
    "checkin": outages_hooks.on_checkin,          # → outages.checkins.record_answer
    "contact_checkin": outages_hooks.on_contact_checkin,   # a family contact answering for the patient
    "field_task": outages_hooks.on_task,          # → outages.field_tasks.acknowledge_task
    "transport_task": outages_hooks.on_task,
}
# A link is answerable only while every check says so (False → 410 Gone).
TOKEN_CHECKS = (rollcall.still_open, outages_hooks.still_open)
# A message no channel could deliver (invalid number, every retry spent).
ESCALATIONS = (outages_hooks.on_undeliverable,)

# Checked by the dispatcher before anything is sent; returned outbox ids are cancelled, not sent.
SEND_HOLDS = (outages_hooks.hold_drill_contacts,)   # a drill never contacts a patient in a real outage

# --- the clock process (bcp_service.scheduler) --------------------------------------------------------
# On every metronome beat (10 s), in this order:
TICKS = (
    Tick("drills.reminders", drills_jobs.run_reminders),
    Tick("outages.rounds", outages_jobs.tick),
    Tick("outages.task_deadlines", outages_jobs.run_task_deadlines),   # unacknowledged tasks → next team
)
# APScheduler jobs with their own trigger:
JOBS = (
    Job("messaging.dispatch", messaging_jobs.dispatch, "interval", {"seconds": messaging_jobs.DISPATCH_SECONDS},
        misfire_grace_time=messaging_jobs.DISPATCH_SECONDS * 5, overlap_expected=True),
    Job("drills.overdue_actions", drills_jobs.run_overdue, "cron", {"hour": drills_jobs.OVERDUE_HOUR, "minute": 0},
        misfire_grace_time=3600),
    Job("outages.proposals", outages_jobs.proposals, "interval", {"seconds": outages_jobs.PROPOSE_SECONDS},
        misfire_grace_time=outages_jobs.PROPOSE_SECONDS * 5, overlap_expected=True),   # woken on commit
    Job("registry.reverify_reminders", registry_jobs.run_reverify_reminders, "interval",
        {"hours": registry_jobs.EVERY_HOURS}, misfire_grace_time=3600),
    Job("plans.review_reminders", plans_jobs.run_review_reminders, "interval",
        {"minutes": plans_jobs.EVERY_MINUTES}, misfire_grace_time=plans_jobs.EVERY_MINUTES * 60),
    Job("plans.fee_reminders", plans_jobs.run_fee_reminders, "cron",
        {"hour": plans_jobs.FEE_REMINDER_HOUR, "minute": 5}, misfire_grace_time=6 * 3600),
)
# Once, when a clock takes the leader lock (before any job):
ON_LEADER = (
    Tick("messaging.take_over", messaging_takeover.take_over),   # the replaced clock's claims, now
)
# Threads for the clock's whole life:
BACKGROUND = (
    Background("messaging", messaging_jobs.background),   # LISTEN for dispatcher wake-ups (PostgreSQL)
    Background("outages.proposals", outages_jobs.listen_proposals),   # LISTEN for committed declarations
)

# --- command line: ``bcp-service <group> …`` (bcp_service.cli adds its own commands first) ---------
CLI_GROUPS = (plans_cli.cli, registry_cli.cli)

# --- demo world: seeds run in this order after bcp_service.demo's region, organisations and users ----
DEMO_SEEDS = (registry_demo.seed, messaging_demo.seed, plans_demo.seed, drills_demo.seed, outages_demo.seed)


def install(app: Flask) -> None:
    """Put the lists above on ``app``: blueprints registered, the rest in ``app.extensions`` (copies,
    so a test may change its app's handlers or ticks without touching any other app)."""
    for blueprint in BLUEPRINTS:
        app.register_blueprint(blueprint)
    app.extensions["nav"] = tuple(NAV)
    app.extensions["home_panels"] = tuple(HOME_PANELS)
    app.extensions["messaging.send_holds"] = tuple(SEND_HOLDS)
    app.extensions["answers"] = AnswerHooks(handlers=dict(ANSWER_HANDLERS), validity_checks=tuple(TOKEN_CHECKS),
                                            escalations=tuple(ESCALATIONS))
    app.extensions["schedule"] = Schedule(ticks=tuple(TICKS), jobs=tuple(JOBS), background=tuple(BACKGROUND),
                                         on_leader=tuple(ON_LEADER))
