"""The organization pages over HTTP: who sees what."""

from __future__ import annotations

import pytest
from flask import Flask
from flask.testing import FlaskClient

from directory.accounts.models import MemberRole, User
from directory.orgs.models import MembershipStatus, Organization, OrganizationKind
from tests.conftest import AuthActions
from tests.factories import Factory

SAFE_HOUSE = {"name": "Safe house", "address": "77 Quiet Court", "city": "Houston", "state": "TX",
              "postal_code": "77002", "confidential": True, "open_24_7": True}
OFFICE = {"name": "Office", "address": "500 Open Street", "city": "Houston", "state": "TX",
          "postal_code": "77002", "hours": [{"days": ["mon", "tue"], "opens": "09:00",
                                             "closes": "17:00"}]}


@pytest.fixture()
def shelter(factory: Factory) -> Organization:
    return factory.organization(name="Quiet Harbor Shelter", locations=[OFFICE, SAFE_HOUSE],
                                services=["shelter.safe_house"], languages=["en", "es"],
                                populations=["adolescents"])


@pytest.fixture()
def pending(factory: Factory) -> Organization:
    return factory.organization(name="Pending Applicant", status=MembershipStatus.PENDING)


def people(factory: Factory, shelter: Organization,
           pending: Organization) -> dict[str, User | None]:
    other = factory.organization(name="Other Partner", kind=OrganizationKind.LAW_ENFORCEMENT)
    suspended_org = factory.organization(name="Suspended Partner",
                                         status=MembershipStatus.SUSPENDED)
    inactive = factory.user(organization=other)
    inactive.active = False
    factory.session.flush()
    return {
        "anonymous": None,
        "referrer_elsewhere": factory.user(organization=other),
        "admin_elsewhere": factory.user(organization=other, role=MemberRole.ADMIN),
        "shelter_referrer": factory.user(organization=shelter),
        "shelter_admin": factory.user(organization=shelter, role=MemberRole.ADMIN),
        "pending_member": factory.user(organization=pending, role=MemberRole.ADMIN),
        "suspended_org_member": factory.user(organization=suspended_org),
        "deactivated_user": inactive,
        "coordinator": factory.user(coordinator=True),
    }


LOGIN = "login"
# who -> (organizations list, shelter profile, pending profile)
MATRIX = {
    "anonymous": (LOGIN, LOGIN, LOGIN),
    "referrer_elsewhere": (200, 200, 404),
    "admin_elsewhere": (200, 200, 404),
    "shelter_referrer": (200, 200, 404),
    "shelter_admin": (200, 200, 404),
    "pending_member": (403, 403, 403),  # not vetted yet: no directory, not even its own page
    "suspended_org_member": (403, 403, 403),
    "deactivated_user": (LOGIN, LOGIN, LOGIN),
    "coordinator": (200, 200, 200),
}


@pytest.mark.parametrize("who", sorted(MATRIX))
def test_permission_matrix(who: str, client: FlaskClient, auth: AuthActions, factory: Factory,
                           shelter: Organization, pending: Organization) -> None:
    user = people(factory, shelter, pending)[who]
    if user is not None:
        auth.login(user.email)
    urls = ["/organizations", f"/organizations/{shelter.slug}", f"/organizations/{pending.slug}"]
    for url, expected in zip(urls, MATRIX[who], strict=True):
        response = client.get(url)
        if expected == LOGIN:
            assert response.status_code == 302, url
            assert response.headers["Location"].startswith("/login?next="), url
        else:
            assert response.status_code == expected, url


def test_unknown_organization_is_404(client: FlaskClient, auth: AuthActions,
                                     factory: Factory) -> None:
    auth.login(factory.user(coordinator=True).email)
    assert client.get("/organizations/no-such-place").status_code == 404


def test_profile_hides_a_confidential_address_from_other_organizations(
        client: FlaskClient, auth: AuthActions, factory: Factory, shelter: Organization) -> None:
    other = factory.organization(name="Neighbor Clinic", kind=OrganizationKind.HEALTHCARE)
    auth.login(factory.user(organization=other).email)
    page = client.get(f"/organizations/{shelter.slug}").get_data(as_text=True)
    assert "Quiet Harbor Shelter" in page and "Confidential location" in page
    assert "77 Quiet Court" not in page
    assert "500 Open Street" in page and "Mon–Tue" in page
    assert "Spanish" in page and "Adolescents (12-17)" in page


@pytest.mark.parametrize("role", [MemberRole.REFERRER, MemberRole.ADMIN])
def test_profile_shows_a_confidential_address_to_its_own_members(
        role: MemberRole, client: FlaskClient, auth: AuthActions, factory: Factory,
        shelter: Organization) -> None:
    auth.login(factory.user(organization=shelter, role=role).email)
    page = client.get(f"/organizations/{shelter.slug}").get_data(as_text=True)
    assert "77 Quiet Court" in page and "shown only to your organization" in page


def test_coordinators_do_not_see_confidential_addresses(
        client: FlaskClient, auth: AuthActions, factory: Factory, shelter: Organization) -> None:
    auth.login(factory.user(coordinator=True).email)
    page = client.get(f"/organizations/{shelter.slug}").get_data(as_text=True)
    assert "77 Quiet Court" not in page


def test_list_filters_and_pages_keep_the_query(client: FlaskClient, auth: AuthActions,
                                               factory: Factory, shelter: Organization) -> None:
    auth.login(factory.user(organization=shelter).email)
    page = client.get("/organizations?q=quiet+harbor&service=shelter").get_data(as_text=True)
    assert "Quiet Harbor Shelter" in page and "1 organization" in page
    page = client.get("/organizations?q=quiet&kind=tribal").get_data(as_text=True)
    assert "No organization matches" in page
    # nonsense filters are ignored, not errors
    assert client.get("/organizations?kind=robot&state=XX&page=-4").status_code == 200


def test_public_listings_switch_opens_the_directory_but_not_confidential_points(
        app: Flask, client: FlaskClient, shelter: Organization) -> None:
    app.config["PUBLIC_LISTINGS"] = True
    try:
        assert client.get("/organizations").status_code == 200
        page = client.get(f"/organizations/{shelter.slug}").get_data(as_text=True)
        assert "Quiet Harbor Shelter" in page and "77 Quiet Court" not in page
    finally:
        app.config["PUBLIC_LISTINGS"] = False


def test_home_page_for_visitors_and_members(client: FlaskClient, auth: AuthActions,
                                            factory: Factory, shelter: Organization) -> None:
    visitor = client.get("/").get_data(as_text=True)
    assert "Sign in" in visitor and "member organizations" not in visitor
    auth.login(factory.user(organization=shelter).email)
    member = client.get("/").get_data(as_text=True)
    assert "member organizations" in member and "Browse organizations" in member


def test_security_headers(client: FlaskClient) -> None:
    response = client.get("/login")
    assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]
    assert "script-src 'self'" in response.headers["Content-Security-Policy"]
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "same-origin"
    assert "Strict-Transport-Security" not in response.headers
    secure = client.get("/login", base_url="https://directory.test")
    assert secure.headers["Strict-Transport-Security"].startswith("max-age=")
