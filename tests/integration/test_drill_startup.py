"""The scenario library is validated when the app starts: a broken file stops start-up."""
import shutil
from pathlib import Path

import pytest
import yaml

from bcp_service.drills.scenarios import DEFAULT_DIR, ScenarioError


def test_the_app_refuses_to_start_with_a_broken_scenario_file(tmp_path: Path, monkeypatch):
    from bcp_service.app import create_app

    shutil.copy(DEFAULT_DIR / "scenario.schema.json", tmp_path)
    data = yaml.safe_load((DEFAULT_DIR / "planned_outage.yaml").read_text(encoding="utf-8"))
    data["hazard"] = "meteor"
    (tmp_path / "bad.yaml").write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    monkeypatch.setenv("BCP_ENV", "test")
    with pytest.raises(ScenarioError, match="bad: hazard"):
        create_app({"DATABASE_URL": f"sqlite:///{tmp_path / 'x.sqlite'}", "TESTING": True, "DRILLS_DIR": str(tmp_path)})
