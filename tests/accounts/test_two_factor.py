"""Two-factor sign-in: enrolment, sign-in with a TOTP or a recovery code, replay, the rule that
coordinators and organization admins must use it, and switching it off."""

from __future__ import annotations

import re
import time

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from directory.accounts import totp
from directory.accounts.models import MemberRole, User
from directory.audit.models import AuditEvent
from directory.config import load
from directory.mail.models import OutboxMessage
from tests.accounts.conftest import code_at, enable_two_factor, sign_in_with_code
from tests.conftest import PASSWORD, AuthActions
from tests.factories import Factory
from tests.mail.helpers import mail_to


def actions(db: Session, user: User) -> list[str]:
    return list(db.scalars(select(AuditEvent.action).where(
        (AuditEvent.actor_id == user.id) | (AuditEvent.subject_user_id == user.id))
        .order_by(AuditEvent.id)))


def test_enrolment_through_the_pages(client: FlaskClient, auth: AuthActions, factory: Factory,
                                     db: Session) -> None:
    user = factory.user(organization=factory.organization())
    auth.login(user.email)
    assert "Set up two-factor sign-in" in client.get("/account/two-factor").get_data(as_text=True)
    refused = client.post("/account/two-factor/setup", data={"password": "not my password"})
    assert refused.status_code == 400 and "password is not right" in refused.get_data(as_text=True)
    db.refresh(user)
    assert user.totp_secret is None
    assert client.post("/account/two-factor/setup", data={"password": PASSWORD}).status_code == 302
    page = client.get("/account/two-factor").get_data(as_text=True)
    assert 'src="data:image/svg+xml' in page
    secret = re.search(r'id="totp-secret">([A-Z2-7]+)<', page).group(1)
    db.refresh(user)
    assert user.totp_secret and secret not in user.totp_secret  # encrypted at rest

    wrong = client.post("/account/two-factor/confirm", data={"code": "000000"})
    assert wrong.status_code == 400 and "not right" in wrong.get_data(as_text=True)
    db.refresh(user)
    assert not user.two_factor_enabled

    done = client.post("/account/two-factor/confirm", data={"code": code_at(secret)})
    assert done.status_code == 200
    codes = re.findall(r"<code>([0-9a-f]{5}-[0-9a-f]{5})</code>", done.get_data(as_text=True))
    assert len(set(codes)) == 10
    db.refresh(user)
    assert user.two_factor_enabled
    assert "two_factor_enabled" in actions(db, user)
    assert "Two-factor sign-in is on" in mail_to(db, user.email)[-1].subject


def test_sign_in_asks_for_the_second_factor(client: FlaskClient, factory: Factory,
                                            db: Session) -> None:
    user = factory.user(organization=factory.organization())
    secret, _ = enable_two_factor(user)
    first = client.post("/login?next=/organizations",
                        data={"email": user.email, "password": PASSWORD})
    assert first.headers["Location"] == "/login/two-factor"
    assert client.get("/organizations").status_code == 302  # not signed in yet
    assert client.post("/login/two-factor", data={"code": "123456"}).status_code == 401
    done = client.post("/login/two-factor", data={"code": code_at(secret)})
    assert done.status_code == 302 and done.headers["Location"] == "/organizations"
    assert client.get("/organizations").status_code == 200
    assert actions(db, user)[-2:] == ["two_factor_failed", "sign_in"]


def test_a_code_works_only_once(app: Flask, client: FlaskClient, factory: Factory) -> None:
    user = factory.user(organization=factory.organization())
    secret, _ = enable_two_factor(user)
    code = code_at(secret)
    assert sign_in_with_code(client, user.email, code) == (302, 302)
    assert sign_in_with_code(app.test_client(), user.email, code) == (302, 401)


def test_old_and_malformed_codes_are_refused(client: FlaskClient, factory: Factory) -> None:
    user = factory.user(organization=factory.organization())
    secret, _ = enable_two_factor(user)
    client.post("/login", data={"email": user.email, "password": PASSWORD})
    for code in (code_at(secret, -3), code_at(secret, 1), "12345", "abcdef", "1" * 33, ""):
        assert client.post("/login/two-factor", data={"code": code}).status_code in (400, 401)
    assert client.get("/organizations").status_code == 302


def test_a_recovery_code_signs_in_once(app: Flask, client: FlaskClient, factory: Factory,
                                       db: Session) -> None:
    user = factory.user(organization=factory.organization())
    _, codes = enable_two_factor(user)
    assert sign_in_with_code(client, user.email, codes[0].upper()) == (302, 302)
    assert "9 are left" in client.get("/").get_data(as_text=True)
    assert sign_in_with_code(app.test_client(), user.email, codes[0]) == (302, 401)
    assert "recovery_code_used" in actions(db, user)


def test_the_second_step_expires(client: FlaskClient, factory: Factory) -> None:
    user = factory.user(organization=factory.organization())
    secret, _ = enable_two_factor(user)
    client.post("/login", data={"email": user.email, "password": PASSWORD})
    with client.session_transaction() as session:
        session["pending_sign_in"] = {**session["pending_sign_in"],
                                      "since": int(time.time()) - 601}
    response = client.post("/login/two-factor", data={"code": code_at(secret)})
    assert response.headers["Location"] == "/login"
    assert client.get("/organizations").status_code == 302


def test_the_second_step_needs_the_first(client: FlaskClient) -> None:
    assert client.get("/login/two-factor").headers["Location"] == "/login"
    assert client.post("/login/two-factor", data={"code": "123456"}).status_code == 302


def test_wrong_codes_are_rate_limited(client: FlaskClient, factory: Factory) -> None:
    user = factory.user(organization=factory.organization())
    secret, _ = enable_two_factor(user)
    client.post("/login", data={"email": user.email, "password": PASSWORD})
    statuses = [client.post("/login/two-factor", data={"code": "000000"}).status_code
                for _ in range(6)]
    assert statuses == [401] * 5 + [429]
    assert client.post("/login/two-factor", data={"code": code_at(secret)}).status_code == 429


@pytest.mark.usefixtures("require_2fa")
@pytest.mark.parametrize("who", ["coordinator", "admin"])
def test_coordinators_and_admins_must_set_it_up(who: str, client: FlaskClient,
                                                auth: AuthActions, factory: Factory,
                                                db: Session) -> None:
    organization = factory.organization()
    user = (factory.user(coordinator=True) if who == "coordinator"
            else factory.user(organization=organization, role=MemberRole.ADMIN))
    assert auth.login(user.email).status_code == 302
    for url in ("/", "/organizations", f"/organizations/{organization.slug}/members",
                "/admin/"):
        response = client.get(url)
        assert response.status_code == 302, url
        assert response.headers["Location"] == "/account/two-factor", url
    page = client.get("/account/two-factor").get_data(as_text=True)
    assert "Your role requires two-factor sign-in" in page
    client.post("/account/two-factor/setup", data={"password": PASSWORD})
    db.refresh(user)
    secret = totp.decrypt_secret(user.totp_secret)
    client.post("/account/two-factor/confirm", data={"code": code_at(secret)})
    assert client.get("/organizations").status_code == 200
    # From now on the sign-in asks for a code.
    auth.logout()
    assert auth.login(user.email).headers["Location"] == "/login/two-factor"


@pytest.mark.usefixtures("require_2fa")
def test_referrers_may_but_need_not_use_it(client: FlaskClient, auth: AuthActions,
                                           factory: Factory) -> None:
    auth.login(factory.user(organization=factory.organization()).email)
    assert client.get("/organizations").status_code == 200


def test_admins_need_not_use_it_where_the_rule_is_off(client: FlaskClient, auth: AuthActions,
                                                      factory: Factory) -> None:
    admin = factory.user(organization=factory.organization(), role=MemberRole.ADMIN)
    auth.login(admin.email)
    assert client.get("/organizations").status_code == 200


@pytest.mark.usefixtures("require_2fa")
def test_it_cannot_be_switched_off_when_required(client: FlaskClient, factory: Factory,
                                                 db: Session) -> None:
    admin = factory.user(organization=factory.organization(), role=MemberRole.ADMIN)
    secret, _ = enable_two_factor(admin)
    sign_in_with_code(client, admin.email, code_at(secret))
    response = client.post("/account/two-factor/disable", data={"password": PASSWORD})
    assert response.status_code == 400 and "requires two-factor" in response.get_data(as_text=True)
    db.refresh(admin)
    assert admin.two_factor_enabled


def test_switching_it_off_takes_the_password(client: FlaskClient, factory: Factory,
                                             db: Session) -> None:
    user = factory.user(organization=factory.organization())
    secret, _ = enable_two_factor(user)
    sign_in_with_code(client, user.email, code_at(secret))
    wrong = client.post("/account/two-factor/disable", data={"password": "not my password"})
    assert wrong.status_code == 400
    db.refresh(user)
    assert user.two_factor_enabled
    assert client.post("/account/two-factor/disable",
                       data={"password": PASSWORD}).status_code == 302
    db.refresh(user)
    assert not user.two_factor_enabled and user.totp_secret is None
    client.post("/logout")
    assert client.post("/login", data={"email": user.email,
                                       "password": PASSWORD}).headers["Location"] == "/"


def test_new_recovery_codes_replace_the_old(app: Flask, client: FlaskClient,
                                            factory: Factory) -> None:
    user = factory.user(organization=factory.organization())
    secret, old_codes = enable_two_factor(user)
    sign_in_with_code(client, user.email, old_codes[0])
    refused = client.post("/account/two-factor/recovery-codes", data={"code": old_codes[1]})
    assert refused.status_code == 400  # renewing takes the authenticator app
    renewed = client.post("/account/two-factor/recovery-codes", data={"code": code_at(secret)})
    assert renewed.status_code == 200
    new_codes = re.findall(r"<code>([0-9a-f]{5}-[0-9a-f]{5})</code>",
                           renewed.get_data(as_text=True))
    assert len(new_codes) == 10 and not set(new_codes) & set(old_codes)
    assert sign_in_with_code(app.test_client(), user.email, old_codes[2]) == (302, 401)
    assert sign_in_with_code(app.test_client(), user.email, new_codes[0]) == (302, 302)


def test_setting_up_twice_is_refused(client: FlaskClient, factory: Factory, db: Session) -> None:
    user = factory.user(organization=factory.organization())
    secret, _ = enable_two_factor(user)
    sign_in_with_code(client, user.email, code_at(secret))
    before = user.totp_secret
    assert client.post("/account/two-factor/setup",
                       data={"password": PASSWORD}).status_code == 400
    assert client.post("/account/two-factor/confirm", data={"code": "123456"}).status_code == 400
    db.refresh(user)
    assert user.totp_secret == before


def test_confirming_without_a_setup_is_refused(client: FlaskClient, auth: AuthActions,
                                               factory: Factory, db: Session) -> None:
    auth.login(factory.user(organization=factory.organization()).email)
    response = client.post("/account/two-factor/confirm", data={"code": "123456"})
    assert response.status_code == 400
    assert "Start the set-up again" in response.get_data(as_text=True)
    assert db.scalar(select(func.count()).select_from(OutboxMessage)) == 0


@pytest.mark.parametrize(("env", "expected"), [
    ({"DIRECTORY_ENV": "demo"}, False),
    ({"DIRECTORY_ENV": "development"}, True),
    ({"DIRECTORY_ENV": "testing"}, True),
    ({"DIRECTORY_ENV": "development", "DIRECTORY_REQUIRE_2FA": "false"}, False),
    ({"DIRECTORY_ENV": "demo", "DIRECTORY_REQUIRE_2FA": "yes"}, True),
])
def test_the_rule_is_on_outside_demo_mode(tmp_path, env: dict[str, str], expected: bool) -> None:
    settings = load(environ={"DIRECTORY_INSTANCE_PATH": str(tmp_path), **env})
    assert settings["REQUIRE_2FA"] is expected
