"""`bcp-service plans export` as an operator runs it, and the clock job for review reminders."""
import io
from datetime import datetime, timezone

from apscheduler.schedulers.background import BackgroundScheduler
from click.testing import CliRunner
from docx import Document
from sqlalchemy import select

from bcp_service.auth.services import actor_for
from bcp_service.cli import main
from bcp_service.plans import authoring, jobs, workflow
from bcp_service.plans.models import PlanReminder
from bcp_service.scheduler import build_scheduler

from .plan_helpers import fill_required


def _seed_plan(tmp_path):
    from bcp_service.app import create_app
    from bcp_service.auth import services as auth_services
    from bcp_service.appclock import get_clock
    from bcp_service.db import db
    from bcp_service.orgs.models import Organization, Region

    app = create_app({"DATABASE_URL": f"sqlite:///{tmp_path / 'cli.sqlite'}"})
    with app.app_context():
        now = get_clock().now()
        db.session.add(Region(code="1301", name="区中央部", prefecture_code="13", kind="secondary_medical_area",
                              municipality_codes=[], created_at=now))
        org = Organization(name="試験在宅クリニック", kind="clinic", region_code="1301", created_at=now)
        db.session.add(org)
        db.session.flush()
        user = auth_services.create_user(db.session, email="dr@example.invalid", password="long-enough-pw",
                                         role="institution_staff", scope="1301", organization_id=org.id,
                                         display_name="試験 太郎")
        db.session.flush()
        plan = authoring.create_plan(db.session, actor_for(user), authoring.NewPlan(
            "kikan", "試験クリニック 機関型BCP", organization_id=org.id), now=now)
        authoring.save_section(db.session, actor_for(user), plan.id, "policy", {"leader": "院長 試験 太郎"}, now=now)
        db.session.commit()
        return plan.id


def test_plans_export_writes_docx_md_and_reports_unknown_plan(tmp_path, monkeypatch):
    env = {"BCP_ENV": "development", "DATABASE_URL": f"sqlite:///{tmp_path / 'cli.sqlite'}"}
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    runner = CliRunner()
    assert runner.invoke(main, ["db", "upgrade"]).exit_code == 0
    plan_id = _seed_plan(tmp_path)
    out = tmp_path / "plan.docx"
    result = runner.invoke(main, ["plans", "export", str(plan_id), "--format", "docx", "-o", str(out)])
    assert result.exit_code == 0, result.output
    doc = Document(str(out))
    assert doc.paragraphs[6].text == "試験クリニック 機関型BCP"
    md = runner.invoke(main, ["plans", "export", str(plan_id), "--format", "md", "-o", "-"])
    assert md.exit_code == 0 and "- **BCP責任者（職名・氏名）**: 院長 試験 太郎" in md.output
    missing = runner.invoke(main, ["plans", "export", "999", "--format", "md", "-o", str(tmp_path / "x.md")])
    assert missing.exit_code == 1 and "計画 999 が見つかりません" in missing.output
    assert runner.invoke(main, ["plans", "export", str(plan_id), "--format", "pdf", "-o", "x"]).exit_code == 2


def test_clock_job_is_registered_and_sends_due_reminders(app, session, clock, make_region, make_org, make_user):
    scheduler = build_scheduler(app, BackgroundScheduler)
    assert scheduler.get_job("plans.review_reminders") is not None

    make_region("1301")
    clinic = make_org(name="試験在宅クリニック", kind="clinic")
    doctor = actor_for(make_user("institution_staff", organization=clinic))
    hub = actor_for(make_user("hub_staff"))
    plan = authoring.create_plan(session, doctor, authoring.NewPlan("kikan", "試験BCP", organization_id=clinic.id),
                                now=clock.now())
    fill_required(session, doctor, plan, clock)
    workflow.submit(session, doctor, plan.id, now=clock.now())
    workflow.approve(session, hub, plan.id, now=clock.now())
    session.commit()
    clock.set(datetime(2027, 6, 1, 1, 0, tzinfo=timezone.utc))   # a day after the review date
    jobs.run_review_reminders(app)
    (rem,) = session.scalars(select(PlanReminder)).all()
    assert rem.kind == "overdue" and rem.user_id == doctor.user_id and "期限超過" in rem.message
    jobs.run_review_reminders(app)
    assert len(session.scalars(select(PlanReminder)).all()) == 1


def test_app_refuses_to_start_with_a_broken_template(tmp_path, monkeypatch):
    import pytest

    from bcp_service.app import create_app
    from bcp_service.plans.templates import DEFAULT_DIR, TemplateError

    monkeypatch.setenv("BCP_ENV", "test")
    for name in ("kikan.yaml", "renkei.yaml", "chiiki.yaml", "template.schema.json"):
        (tmp_path / name).write_bytes((DEFAULT_DIR / name).read_bytes())
    broken = (tmp_path / "renkei.yaml").read_text(encoding="utf-8").replace("type: contact_list", "type: phonebook")
    (tmp_path / "renkei.yaml").write_text(broken, encoding="utf-8")
    with pytest.raises(TemplateError, match=r"renkei.yaml: sections/2/fields/0/type"):
        create_app({"DATABASE_URL": f"sqlite:///{tmp_path / 'x.sqlite'}", "PLANS_DIR": str(tmp_path)})
