"""Every route of the application, for every kind of visitor, against the status it must get.

The cases are generated from the application's URL map: a route without a row in EXPECTED
fails, and so does a row whose route is gone. Adding a route means adding its row here (and,
if its URL has a new kind of argument, a way to fill it in ARGUMENTS).

Requests carry no form data (CSRF is off in the suite), so where a visitor may use a form the
answer is usually 400 (the empty form is refused) or 302 (a button that needs no input).
"""

from __future__ import annotations

import re
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, NamedTuple

import pytest
from flask import Flask, url_for
from flask.testing import FlaskClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from directory import create_app
from directory.accounts.membership import invite_member
from directory.accounts.models import (
    ApplicationStatus,
    Invitation,
    MemberRole,
    MembershipApplication,
    User,
)
from directory.accounts.operations import request_password_reset, send_email_verification
from directory.admin.operations import suspend_user
from directory.db import Base, get_database
from directory.orgs.coverage import add_coverage_area
from directory.orgs.models import MembershipStatus, Organization
from directory.referrals.models import Referral
from tests.conftest import PASSWORD, AuthActions
from tests.factories import Factory
from tests.mail.helpers import last_mail_to, link_path

LOGIN = "login"  # 302 to the sign-in page
Status = int | str


class Row(NamedTuple):
    """The expected status for each kind of visitor."""

    anonymous: Status
    referrer: Status  # a referrer of the organization in the URL
    other_admin: Status  # an admin of another, active organization
    admin: Status  # an admin of the organization in the URL
    coordinator: Status
    suspended_user: Status  # signed in, then their account was suspended
    suspended_org_admin: Status  # an admin of a suspended organization


ROLES = Row._fields


def everyone(status: Status) -> Row:
    return Row(*[status] * len(ROLES))


def members(status: Status, anonymous: Status = LOGIN) -> Row:
    """Anyone signed in (the suspended user no longer is)."""
    return Row(anonymous, status, status, status, status, anonymous, status)


def vetted(status: Status) -> Row:
    """Members of active organizations and coordinators."""
    return Row(LOGIN, status, status, status, status, LOGIN, 403)


def coordinators(status: Status) -> Row:
    return Row(LOGIN, 403, 403, 403, status, LOGIN, 403)


def organization_admins(status: Status) -> Row:
    """The organization's admins and coordinators manage; its referrers may only look."""
    return Row(LOGIN, 403, 403, status, status, LOGIN, 404)


def referrers(status: Status) -> Row:
    """Members of active organizations (coordinators have no organization to refer for)."""
    return Row(LOGIN, status, status, status, 403, LOGIN, 403)


def referral_sides(status: Status) -> Row:
    """Members of the sending and the receiving organization."""
    return Row(LOGIN, status, status, status, 404, LOGIN, 404)


# endpoint -> method -> Row. Static files are not routes of ours and are left out.
EXPECTED: dict[str, dict[str, Row]] = {
    "web.home": {"GET": everyone(200)},
    "web.choose_language": {"POST": everyone(400)},  # no language chosen
    "ops.healthz": {"GET": everyone(200)},
    "ops.readyz": {"GET": everyone(200)},
    "ops.metrics": {"GET": everyone(404)},  # neither a token nor an allow-list configured
    "accounts.login": {"GET": Row(200, 302, 302, 302, 302, 200, 302),
                       "POST": Row(400, 302, 302, 302, 302, 400, 302)},
    "accounts.login_two_factor": {"GET": everyone(LOGIN), "POST": everyone(LOGIN)},
    "accounts.logout": {"POST": everyone(LOGIN)},
    "accounts.forgot_password": {"GET": everyone(200), "POST": everyone(400)},
    "accounts.reset_password": {"GET": everyone(200), "POST": everyone(400)},
    "accounts.verify_email": {"GET": everyone(200), "POST": everyone(302)},
    "accounts.account": {"GET": members(200)},
    "accounts.change_password": {"POST": members(400)},
    "accounts.change_name": {"POST": members(400)},  # an empty form
    "accounts.change_preferences": {"POST": members(400)},  # an empty form
    "accounts.change_email": {"POST": members(400)},
    "accounts.confirm_email_change": {"GET": everyone(410), "POST": everyone(410)},  # unknown
    "accounts.end_other_sessions": {"POST": members(400)},  # takes the password
    "accounts.resend_verification": {"POST": members(400)},  # already confirmed
    "accounts.two_factor": {"GET": members(200)},
    "accounts.two_factor_setup": {"POST": members(400)},  # takes the password
    "accounts.two_factor_confirm": {"POST": members(400)},
    "accounts.renew_recovery_codes": {"POST": members(400)},
    "accounts.two_factor_disable": {"POST": members(400)},
    "accounts.apply": {"GET": Row(200, 302, 302, 302, 302, 200, 302),
                       "POST": Row(400, 302, 302, 302, 302, 400, 302)},
    "accounts.applications": {"GET": members(200)},
    "accounts.reply_to_application": {"POST": Row(LOGIN, 404, 404, 400, 403, LOGIN, 404)},
    "accounts.members": {"GET": Row(LOGIN, 200, 403, 200, 200, LOGIN, 404)},
    "accounts.invite": {"POST": organization_admins(400)},
    "accounts.revoke_invitation": {"POST": organization_admins(302)},
    "accounts.change_role": {"POST": organization_admins(400)},
    "accounts.remove_member": {"POST": organization_admins(302)},
    "accounts.invitation": {"GET": everyone(200), "POST": everyone(400)},
    "orgs.index": {"GET": vetted(200)},
    "orgs.profile": {"GET": vetted(200)},
    "orgs.search_page": {"GET": vetted(200)},
    "orgs.basemap": {"GET": vetted(200)},
    "orgs.basemap_detail": {"GET": vetted(400)},  # no bbox
    "orgs.coverage": {"GET": Row(LOGIN, 403, 403, 200, 200, LOGIN, 403),
                      "POST": Row(LOGIN, 403, 403, 400, 400, LOGIN, 403)},  # empty form
    "orgs.delete_coverage": {"POST": Row(LOGIN, 403, 403, 302, 302, LOGIN, 403)},
    # The listing's own pages: its admins and the coordinators edit. An empty listing form is
    # a listing emptied (302), but a coordinator's also lacks the name and kind (400); an
    # empty location form lacks its city (400).
    "listing.edit": {"GET": Row(LOGIN, 403, 403, 200, 200, LOGIN, 403),
                     "POST": Row(LOGIN, 403, 403, 302, 400, LOGIN, 403)},
    "listing.toggle_accepting": {"POST": Row(LOGIN, 403, 403, 400, 400, LOGIN, 403)},
    # The organization's own word: its admins only, not the coordinators (they verify).
    "listing.confirm": {"POST": Row(LOGIN, 403, 403, 302, 403, LOGIN, 403)},
    "listing.new_location": {"GET": Row(LOGIN, 403, 403, 200, 200, LOGIN, 403),
                             "POST": Row(LOGIN, 403, 403, 400, 400, LOGIN, 403)},
    "listing.edit_location": {"GET": Row(LOGIN, 403, 403, 200, 200, LOGIN, 403),
                              "POST": Row(LOGIN, 403, 403, 400, 400, LOGIN, 403)},
    # No referral is open to the home organization: its one location may go.
    "listing.remove_location": {"GET": Row(LOGIN, 403, 403, 200, 200, LOGIN, 403),
                                "POST": Row(LOGIN, 403, 403, 302, 302, LOGIN, 403)},
    "listing.history": {"GET": Row(LOGIN, 403, 403, 200, 200, LOGIN, 403)},
    "listing.stale": {"GET": coordinators(200)},
    "listing.remind": {"POST": coordinators(302)},
    "admin.index": {"GET": coordinators(200)},
    "admin.applications": {"GET": coordinators(200)},
    "admin.application": {"GET": coordinators(200)},
    "admin.decide": {"POST": coordinators(400)},
    "admin.organizations": {"GET": coordinators(200)},
    "admin.organization": {"GET": coordinators(200)},
    "admin.organization_status": {"POST": coordinators(400)},
    "admin.verify": {"POST": coordinators(302)},
    "admin.partnership_agreement": {"POST": coordinators(400)},  # on file or not: required
    "admin.users": {"GET": coordinators(200)},
    "admin.user": {"GET": coordinators(200)},
    "admin.user_status": {"POST": coordinators(400)},
    "admin.user_reset_two_factor": {"POST": coordinators(400)},  # no two-factor to reset
    "admin.user_end_sessions": {"POST": coordinators(302)},
    "admin.import_csv": {"GET": coordinators(200)},
    "admin.import_csv_preview": {"POST": coordinators(400)},  # no file uploaded
    "admin.import_csv_confirm": {"POST": coordinators(400)},  # nothing previewed
    "audit.index": {"GET": coordinators(200)},
    "hsds.export": {"GET": Row(401, 200, 200, 200, 200, 401, 403)},  # JSON errors, no redirect
    # The HSDS 3.0 API: tokens or vetted members unless DIRECTORY_PUBLIC_HSDS_API; the ids asked
    # for below name nothing, so the allowed get 404.
    **{f"hsds_api.{name}": {"GET": Row(401, 200, 200, 200, 200, 401, 403)}
       for name in ("meta", "openapi", "services", "organizations", "service_at_locations",
                    "taxonomies", "taxonomy_terms")},
    **{f"hsds_api.{name}": {"GET": Row(401, 404, 404, 404, 404, 401, 403)}
       for name in ("service", "organization", "service_at_location", "taxonomy",
                    "taxonomy_term")},
    # The world's referral goes from the home organization to the other admin's organization;
    # coordinators and everyone else are no side of it: 404, whatever they try.
    "referrals.inbox": {"GET": referrers(200)},
    "referrals.outbox": {"GET": referrers(200)},
    "referrals.new": {"GET": referrers(302), "POST": referrers(302)},  # no partner chosen
    "referrals.detail": {"GET": referral_sides(200)},
    "referrals.transition": {"POST": referral_sides(400)},  # empty form
    "referrals.send": {"POST": referral_sides(400)},
    "referrals.new_placement": {"GET": referrers(200), "POST": referrers(400)},
    "referrals.share_identifying": {"POST": Row(LOGIN, 400, 403, 400, 404, LOGIN, 404)},
    "referrals.add_note": {"POST": referral_sides(400)},
    "referrals.revoke_consent": {"POST": Row(LOGIN, 302, 403, 302, 404, LOGIN, 404)},
    "referrals.notification_list": {"GET": referrers(200)},
    "referrals.partners_json": {"GET": referrers(200)},
    "referrals.notifications_read": {"POST": referrers(302)},
    "referrals.report": {"GET": everyone(301)},  # to reports.index
    # An admin is sent on to their organization's figures; a suspended organization's admin
    # has none to see.
    "reports.index": {"GET": Row(LOGIN, 403, 302, 302, 200, LOGIN, 403)},
    "reports.table_download": {"GET": coordinators(200)},
    "reports.organization": {"GET": Row(LOGIN, 403, 403, 200, 200, LOGIN, 403)},
    "reports.organization_table_download": {"GET": Row(LOGIN, 403, 403, 200, 200, LOGIN, 403)},
    "reports.coverage_gaps": {"GET": coordinators(200)},  # the form, until a service is chosen
    "reports.coverage_gaps_download": {"GET": coordinators(400)},  # no service chosen
    # Off unless DIRECTORY_PUBLIC_REPORT (tests/reports/test_gap_views.py switches it on).
    "reports.public": {"GET": everyone(404)},
    "reports.public_download": {"GET": everyone(404)},
    "reports.partners_page": {"GET": coordinators(200)},
    "reports.partners_table_download": {"GET": coordinators(200)},
    "reports.freshness_page": {"GET": coordinators(200)},
    "reports.freshness_table_download": {"GET": coordinators(200)},
    "reports.grants_page": {"GET": coordinators(200)},
    "reports.grants_download": {"GET": coordinators(200)},
    "reports.organization_grants_page": {"GET": Row(LOGIN, 403, 403, 200, 200, LOGIN, 403)},
    "reports.organization_grants_download": {"GET": Row(LOGIN, 403, 403, 200, 200, LOGIN,
                                                        403)},
    "api.search_directory": {"GET": Row(401, 400, 400, 400, 400, 401, 403)},  # no ?near=
    "api.services": {"GET": Row(401, 200, 200, 200, 200, 401, 403)},
    "api.organization": {"GET": Row(401, 200, 200, 200, 200, 401, 403)},
    "api.update_organization": {"PATCH": Row(401, 403, 403, 415, 415, 401, 403)},  # no body
    "api.me": {"GET": Row(401, 200, 200, 200, 200, 401, 200)},
    # The world's referral, as for referrals.* below; no ?box= and no body: 400 and 415.
    "api.referrals": {"GET": Row(401, 400, 400, 400, 403, 401, 403)},
    "api.create_referral": {"POST": Row(401, 415, 415, 415, 403, 401, 403)},
    "api.referral": {"GET": Row(401, 200, 200, 200, 404, 401, 404)},
    "api.transition_referral": {"POST": Row(401, 415, 415, 415, 404, 401, 404)},
    "api.add_referral_note": {"POST": Row(401, 415, 415, 415, 404, 401, 404)},
    "api.revoke_referral_consent": {"POST": Row(401, 200, 403, 200, 404, 401, 404)},
    "api.openapi": {"GET": everyone(200)},
    "tokens.index": {"GET": members(200)},
    "tokens.create": {"POST": members(400)},  # empty form
    "tokens.revoke": {"POST": members(404)},  # nobody's token
}


@dataclass
class World:
    """The organizations, people and links the URLs and visitors are drawn from."""

    home: Organization
    people: dict[str, User | None]
    invitation: Invitation
    invitation_token: str
    application: MembershipApplication
    reset_token: str
    verify_token: str
    referral: Referral


# URL argument -> its value; ENDPOINT_ARGUMENTS overrides it for one endpoint.
ARGUMENTS: dict[str, Callable[[World], Any]] = {
    "slug": lambda w: w.home.slug,
    "membership_id": lambda w: w.people["referrer"].membership_in(w.home.id).id,
    "invitation_id": lambda w: w.invitation.id,
    "application_id": lambda w: w.application.id,
    "user_id": lambda w: w.people["referrer"].id,
    "area_id": lambda w: w.home.coverage_areas[0].id,
    "location_id": lambda w: w.home.locations[0].id,
    "public_id": lambda w: w.referral.public_id,
    "token_id": lambda w: 10**9,
    **{name: lambda w: "00000000-0000-4000-8000-000000000000"
       for name in ("service_id", "organization_id", "link_id", "taxonomy_id", "term_id")},
    "name": lambda w: "outcomes",  # a report table
}
ENDPOINT_ARGUMENTS: dict[str, dict[str, Callable[[World], Any]]] = {
    "accounts.reset_password": {"token": lambda w: w.reset_token},
    "accounts.verify_email": {"token": lambda w: w.verify_token},
    "accounts.invitation": {"token": lambda w: w.invitation_token},
    "accounts.confirm_email_change": {"token": lambda w: "no-such-link"},
    "reports.coverage_gaps_download": {"name": lambda w: "gap_counties"},
    "reports.public_download": {"name": lambda w: "quarters"},
    "reports.partners_table_download": {"name": lambda w: "partners_by_kind"},
    "reports.freshness_table_download": {"name": lambda w: "confirmed"},
    "reports.grants_download": {"name": lambda w: "period"},
    "reports.organization_grants_download": {"name": lambda w: "period"},
}


def _routes() -> list[tuple[str, str]]:
    with tempfile.TemporaryDirectory() as instance:
        app = create_app({"ENV": "testing", "INSTANCE_PATH": instance,
                          "DATABASE_URL": "sqlite://"})
    return sorted({(rule.endpoint, method) for rule in app.url_map.iter_rules()
                   if rule.endpoint != "static"
                   for method in (rule.methods or set()) - {"HEAD", "OPTIONS"}})


ROUTES = _routes()


def test_every_route_has_a_row_and_every_row_a_route(app: Flask) -> None:
    routes = {(rule.endpoint, method) for rule in app.url_map.iter_rules()
              if rule.endpoint != "static"
              for method in (rule.methods or set()) - {"HEAD", "OPTIONS"}}
    expected = {(endpoint, method) for endpoint, rows in EXPECTED.items() for method in rows}
    assert routes - expected == set(), "routes without an expected status"
    assert expected - routes == set(), "expected statuses for routes that do not exist"


@pytest.fixture()
def world(factory: Factory, db: Session) -> World:
    home = factory.organization(name="Home Shelter")
    add_coverage_area(home, {"kind": "state", "state": "TX"})
    other = factory.organization(name="Other Partner")
    suspended = factory.organization(name="Suspended Partner", status=MembershipStatus.SUSPENDED)
    admin = factory.user(organization=home, role=MemberRole.ADMIN)
    people: dict[str, User | None] = {
        "anonymous": None,
        "referrer": factory.user(organization=home),
        "other_admin": factory.user(organization=other, role=MemberRole.ADMIN),
        "admin": admin,
        "coordinator": factory.user(coordinator=True),
        "suspended_user": factory.user(organization=home),
        "suspended_org_admin": factory.user(organization=suspended, role=MemberRole.ADMIN),
    }
    # The home organization's own application, long approved: its admin may open it.
    application = MembershipApplication(organization=home, applicant=admin,
                                        status=ApplicationStatus.APPROVED)
    db.add(application)
    invitation = invite_member(admin, home, "invited@test.example", MemberRole.REFERRER)
    request_password_reset(people["referrer"].email)
    send_email_verification(factory.user(email="unconfirmed@test.example", email_verified=False))
    return World(home=home, people=people, invitation=invitation, application=application,
                 invitation_token=_token(db, "invited@test.example"),
                 reset_token=_token(db, people["referrer"].email),
                 verify_token=_token(db, "unconfirmed@test.example"),
                 referral=factory.referral(people["referrer"], other))


def _token(db: Session, address: str) -> str:
    """The token at the end of the link last mailed to ``address``."""
    return link_path(last_mail_to(db, address)).rsplit("/", 1)[1]


def _url(app: Flask, endpoint: str, world: World) -> str:
    rule = next(rule for rule in app.url_map.iter_rules() if rule.endpoint == endpoint)
    values = {name: ENDPOINT_ARGUMENTS.get(endpoint, {}).get(name, ARGUMENTS.get(name))
              for name in rule.arguments}
    missing = [name for name, make in values.items() if make is None]
    assert not missing, f"{endpoint}: add a value for {missing} to ARGUMENTS"
    with app.test_request_context():
        return url_for(endpoint, **{name: make(world) for name, make in values.items()})


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize(("endpoint", "method"), ROUTES)
def test_permission_matrix(endpoint: str, method: str, role: str, app: Flask,
                           client: FlaskClient, auth: AuthActions, world: World,
                           db: Session) -> None:
    assert endpoint in EXPECTED and method in EXPECTED[endpoint], (
        f"{method} {endpoint} has no expected status: add its row to EXPECTED")
    expected = getattr(EXPECTED[endpoint][method], role)
    user = world.people[role]
    if user is not None:
        assert auth.login(user.email).status_code == 302
    if role == "suspended_user":
        suspend_user(world.people["coordinator"], user, "Left the agency.")
        db.flush()
    url = _url(app, endpoint, world)
    response = client.open(url, method=method)
    if expected == LOGIN:
        assert response.status_code == 302, (method, url, role)
        assert response.headers["Location"].startswith("/login"), (method, url, role)
    else:
        assert response.status_code == expected, (method, url, role)
        if expected == 302:
            assert not response.headers["Location"].startswith("/login"), (method, url, role)


POSTS = [endpoint for endpoint, method in ROUTES if method == "POST"]


@pytest.fixture()
def guarded(app: Flask, settings: dict[str, Any]) -> Flask:
    """The application with CSRF protection on, as deployed, on the suite's database."""
    application = create_app({**settings, "WTF_CSRF_ENABLED": True})
    get_database(application).engine.dispose()
    application.extensions["directory.db"] = get_database(app)
    return application


def _stored(db: Session) -> list[int]:
    db.expire_all()
    return [db.scalar(select(func.count()).select_from(table)) or 0
            for table in Base.metadata.sorted_tables]


@pytest.mark.parametrize("token", ["forged", None])
@pytest.mark.parametrize("endpoint", POSTS)
def test_every_form_refuses_a_forged_or_missing_csrf_token(
        endpoint: str, token: str | None, guarded: Flask, world: World, db: Session) -> None:
    client = guarded.test_client()
    page = client.get("/login").get_data(as_text=True)
    real = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)
    signed_in = client.post("/login", data={"csrf_token": real, "password": PASSWORD,
                                            "email": world.people["coordinator"].email})
    assert signed_in.status_code == 302
    before = _stored(db)
    response = client.post(_url(guarded, endpoint, world),
                           data={} if token is None else {"csrf_token": token})
    assert response.status_code == 400, endpoint
    if endpoint.startswith("api."):  # the API answers in JSON, never with a page
        assert response.get_json()["error"]["code"] == "csrf_failed"
    else:
        assert "form expired" in response.get_data(as_text=True)
    assert _stored(db) == before
