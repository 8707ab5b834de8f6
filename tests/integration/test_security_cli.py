"""Issue 18: administrative password and role changes from the CLI follow the password policy and
end the user's sessions."""
from click.testing import CliRunner
from sqlalchemy import create_engine, text

from bcp_service.cli import main


def test_users_password_and_role_commands(tmp_path):
    runner = CliRunner()
    env = {"BCP_ENV": "development", "DATABASE_URL": f"sqlite:///{tmp_path / 'cli.sqlite'}"}
    assert runner.invoke(main, ["db", "upgrade"], env=env).exit_code == 0
    assert runner.invoke(main, ["users", "create", "root@example.invalid", "--role", "admin",
                                "--password", "long-enough-pw"], env=env).exit_code == 0
    weak = runner.invoke(main, ["users", "password", "root@example.invalid", "--password", "password123"], env=env)
    assert weak.exit_code != 0 and "よく使われる" in weak.output
    ok = runner.invoke(main, ["users", "password", "root@example.invalid", "--password", "夜間の停電でも落ち着いて"],
                       env=env)
    assert ok.exit_code == 0, ok.output
    bad_role = runner.invoke(main, ["users", "role", "root@example.invalid", "--role", "boss"], env=env)
    assert bad_role.exit_code != 0 and "role must be one of" in bad_role.output
    engine = create_engine(env["DATABASE_URL"])
    with engine.connect() as conn:
        assert conn.scalar(text("SELECT session_generation FROM users")) == 1
    engine.dispose()
