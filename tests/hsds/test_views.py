"""The HSDS download over HTTP: vetted members only, API-style JSON errors."""

from __future__ import annotations

import io
import json
import zipfile

import pytest
from flask.testing import FlaskClient

from directory.orgs.models import MembershipStatus
from tests.conftest import AuthActions
from tests.factories import Factory
from tests.hsds.test_export import OFFICE, SAFE_HOUSE

URL = "/api/v1/hsds/export"


def test_anonymous_gets_401_json_not_a_redirect(client: FlaskClient) -> None:
    for query in ("", "?format=json", "?format=xml"):
        response = client.get(URL + query)
        assert response.status_code == 401
        assert response.is_json
        error = response.get_json()["error"]
        assert error["code"] == "unauthorized" and error["message"]


@pytest.mark.parametrize("status", [MembershipStatus.PENDING, MembershipStatus.SUSPENDED])
def test_members_of_unvetted_organizations_get_403_json(
        client: FlaskClient, auth: AuthActions, factory: Factory,
        status: MembershipStatus) -> None:
    user = factory.user(organization=factory.organization(status=status))
    auth.login(user.email)
    response = client.get(URL)
    assert response.status_code == 403 and response.get_json()["error"]["code"] == "forbidden"


@pytest.mark.parametrize("who", ["member", "coordinator"])
def test_vetted_members_download_the_zipped_package(
        client: FlaskClient, auth: AuthActions, factory: Factory, who: str) -> None:
    organization = factory.organization(name="Download Partner", locations=[OFFICE, SAFE_HOUSE])
    user = (factory.user(coordinator=True) if who == "coordinator"
            else factory.user(organization=organization))
    auth.login(user.email)
    response = client.get(URL)
    assert response.status_code == 200 and response.mimetype == "application/zip"
    assert response.headers["Cache-Control"] == "no-store"
    assert "attachment" in response.headers["Content-Disposition"]
    with zipfile.ZipFile(io.BytesIO(response.data)) as archive:
        names = set(archive.namelist())
        organizations = archive.read("organizations.csv").decode()
        everything = "".join(archive.read(name).decode() for name in names)
    assert {"datapackage.json", "organizations.csv", "services.csv"} <= names
    assert "Download Partner" in organizations
    assert "77 Quiet Court" not in everything and user.email not in everything


def test_vetted_members_download_the_json_form(client: FlaskClient, auth: AuthActions,
                                               factory: Factory) -> None:
    organization = factory.organization(name="Json Partner", locations=[OFFICE])
    auth.login(factory.user(organization=organization).email)
    response = client.get(URL, query_string={"format": "json"})
    assert response.status_code == 200 and response.mimetype == "application/json"
    document = json.loads(response.data)
    assert "Json Partner" in {item["name"] for item in document["contents"]}


def test_an_unknown_format_is_a_400_json_error(client: FlaskClient, auth: AuthActions,
                                               factory: Factory) -> None:
    auth.login(factory.user(organization=factory.organization()).email)
    response = client.get(URL, query_string={"format": "xml"})
    assert response.status_code == 400
    assert response.get_json()["error"] == {"code": "validation_error",
                                            "message": "format must be csv or json.",
                                            "fields": {"format": ["format must be csv or json."]}}
