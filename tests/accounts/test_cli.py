"""`directory create-user` and `directory send-mail`, driven as an operator would."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from directory import create_app
from directory.accounts.models import MemberRole, User
from directory.accounts.passwords import verify_password
from directory.audit.models import AuditEvent
from directory.cli import main
from directory.db import get_database, get_session, transaction, upgrade
from directory.mail.operations import queue_mail
from tests.conftest import PASSWORD

COORDINATOR = "first.coordinator@test.example"


@pytest.fixture()
def env(tmp_path: Path) -> dict[str, str]:
    return {"DIRECTORY_ENV": "testing", "DIRECTORY_INSTANCE_PATH": str(tmp_path),
            "DIRECTORY_DATABASE_URL": f"sqlite:///{tmp_path / 'cli.db'}"}


def run(env: dict[str, str], *args: str, stdin: str = "") -> Result:
    return CliRunner().invoke(main, list(args), env=env, input=stdin)


def users(env: dict[str, str]) -> list[User]:
    app = create_app({"ENV": "testing", "INSTANCE_PATH": env["DIRECTORY_INSTANCE_PATH"],
                      "DATABASE_URL": env["DIRECTORY_DATABASE_URL"]})
    with app.app_context():
        return list(get_session().scalars(
            select(User).order_by(User.id).options(selectinload(User.memberships))))


def test_the_first_coordinator_from_standard_input(env: dict[str, str]) -> None:
    result = run(env, "create-user", "--role", "coordinator", "--name", "First Coordinator",
                 COORDINATOR, stdin=f"{PASSWORD}\n")
    assert result.exit_code == 0, result.output
    assert f"Created {COORDINATOR} (coordinator)" in result.output
    (user,) = users(env)
    assert user.is_coordinator and user.email_verified and user.name == "First Coordinator"
    assert verify_password(user.password_hash, PASSWORD)
    app = create_app({"ENV": "testing", "INSTANCE_PATH": env["DIRECTORY_INSTANCE_PATH"],
                      "DATABASE_URL": env["DIRECTORY_DATABASE_URL"]})
    with app.app_context():
        event = get_session().scalar(select(AuditEvent))
        assert event.action == "user_created" and event.details["via"] == "command line"


def test_the_password_prompt_on_a_terminal(env: dict[str, str],
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("directory.cli._stdin_is_terminal", lambda: True)
    result = run(env, "create-user", COORDINATOR, stdin=f"{PASSWORD}\n{PASSWORD}\n")
    assert result.exit_code == 0, result.output
    assert "Repeat for confirmation" in result.output
    assert PASSWORD not in result.output
    assert users(env)[0].is_coordinator


@pytest.mark.parametrize(("args", "stdin", "message"), [
    ([COORDINATOR], "short\n", "at least 12"),
    ([COORDINATOR], "password1234\n", "common"),
    ([COORDINATOR], "\n", "at least 12"),
    (["not-an-email"], f"{PASSWORD}\n", "valid email"),
    (["--role", "admin", COORDINATOR], f"{PASSWORD}\n", "needs --organization"),
    (["--organization", "x", COORDINATOR], f"{PASSWORD}\n", "belongs to no organization"),
    (["--role", "referrer", "--organization", "nowhere", COORDINATOR], f"{PASSWORD}\n",
     "No organization"),
    (["--role", "king", COORDINATOR], f"{PASSWORD}\n", "Invalid value"),
])
def test_refusals_explain_and_create_nothing(env: dict[str, str], args: list[str], stdin: str,
                                             message: str) -> None:
    result = run(env, "create-user", *args, stdin=stdin)
    assert result.exit_code != 0
    assert message in result.output and "Traceback" not in result.output
    if Path(env["DIRECTORY_INSTANCE_PATH"], "cli.db").exists():
        assert users(env) == []


def test_a_duplicate_is_refused(env: dict[str, str]) -> None:
    run(env, "create-user", COORDINATOR, stdin=f"{PASSWORD}\n")
    result = run(env, "create-user", COORDINATOR.upper(), stdin=f"{PASSWORD}\n")
    assert result.exit_code == 1 and "already exists" in result.output
    assert len(users(env)) == 1


def test_an_admin_of_an_organization(env: dict[str, str]) -> None:
    run(env, "seed", "--json")
    result = run(env, "create-user", "--role", "admin", "--organization",
                 "bridgeway-house-for-youth-columbus", "admin@bridgeway.test.example",
                 stdin=f"{PASSWORD}\n")
    assert result.exit_code == 0, result.output
    assert "(admin of Bridgeway House for Youth)" in result.output
    (user,) = users(env)
    assert [m.role for m in user.memberships] == [MemberRole.ADMIN]


def test_send_mail_delivers_the_outbox(env: dict[str, str]) -> None:
    app = create_app({"ENV": "testing", "INSTANCE_PATH": env["DIRECTORY_INSTANCE_PATH"],
                      "DATABASE_URL": env["DIRECTORY_DATABASE_URL"]})
    upgrade(get_database(app))
    with app.app_context(), transaction():
        queue_mail("someone@test.example", "Waiting", "In the outbox")
    down = run({**env, "DIRECTORY_MAIL_SERVER": "127.0.0.1", "DIRECTORY_MAIL_PORT": "9"},
               "send-mail", "--json")
    assert down.exit_code == 1
    assert json.loads(down.stdout)["retry_later"] == 1
    result = run(env, "send-mail", "--json")
    assert result.exit_code == 0
    assert json.loads(result.stdout) == {"sent": 1, "failed": 0, "retry_later": 0, "busy": 0}
    assert len(list(Path(env["DIRECTORY_INSTANCE_PATH"], "mail").glob("*.eml"))) == 1
    again = run(env, "send-mail")
    assert again.exit_code == 0 and again.output.startswith("Sent 0;")


def test_demo_refuses_a_weak_demo_password(env: dict[str, str]) -> None:
    result = run({**env, "DIRECTORY_DEMO_PASSWORD": "demo"}, "demo", "--no-serve")
    assert result.exit_code == 1
    assert "DIRECTORY_DEMO_PASSWORD cannot be used" in result.output
