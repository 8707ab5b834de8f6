"""The ``bcp-service`` commands, run as a user would (a fresh SQLite file, environment settings)."""
import os
import subprocess
import sys

from click.testing import CliRunner

from bcp_service.cli import main

BIN = [sys.executable, "-m", "bcp_service.cli"]


def _env(tmp_path, **extra):
    return {"BCP_ENV": "development", "DATABASE_URL": f"sqlite:///{tmp_path / 'cli.sqlite'}", **extra}


def test_db_upgrade_users_create_and_token(tmp_path):
    runner = CliRunner()
    env = _env(tmp_path)
    assert runner.invoke(main, ["db", "upgrade"], env=env).exit_code == 0
    created = runner.invoke(main, ["users", "create", "root@example.invalid", "--role", "admin",
                                   "--password", "long-enough-pw"], env=env)
    assert created.exit_code == 0, created.output
    result = subprocess.run(BIN + ["users", "token", "root@example.invalid"], env={**os.environ, **env},
                            capture_output=True, text=True, check=True)
    assert result.stdout.count("\n") == 1 and result.stdout.startswith("bcp_")  # only the token


def test_users_create_reports_bad_input_and_changes_nothing(tmp_path):
    runner = CliRunner()
    env = _env(tmp_path)
    runner.invoke(main, ["db", "upgrade"], env=env)
    bad = runner.invoke(main, ["users", "create", "x@example.invalid", "--role", "hub_staff", "--region", "9999",
                               "--password", "long-enough-pw"], env=env)
    assert bad.exit_code != 0 and "no region with code 9999" in bad.output
    missing = runner.invoke(main, ["users", "token", "x@example.invalid"], env=env)
    assert missing.exit_code != 0 and "no user" in missing.output


def test_production_without_secret_key_refuses_to_start(tmp_path):
    result = CliRunner().invoke(main, ["db", "upgrade"], env={"BCP_ENV": "production", "SECRET_KEY": "",
                                                              "DATABASE_URL": f"sqlite:///{tmp_path / 'x.sqlite'}"})
    assert result.exit_code != 0 and "SECRET_KEY is not set" in result.output


def test_demo_seeds_logins_and_is_repeatable(tmp_path):
    env = {**os.environ, "BCP_ENV": "demo", "DATABASE_URL": f"sqlite:///{tmp_path / 'demo.sqlite'}"}
    first = subprocess.run(BIN + ["demo", "--no-serve", "--patients", "20"], env=env, capture_output=True,
                           text=True, timeout=300)
    assert first.returncode == 0, first.stderr[-2000:]
    assert "hub@demo.invalid" in first.stdout and "/login" in first.stdout
    again = subprocess.run(BIN + ["demo", "--no-serve"], env=env, capture_output=True, text=True, timeout=300)
    assert again.returncode == 0, again.stderr[-2000:]
