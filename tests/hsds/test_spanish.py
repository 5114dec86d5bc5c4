"""The HSDS API's and the HSDS download's errors in Spanish: messages in the caller's
language, the same codes and parameter names as in English."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from directory.api.operations import create_token
from directory.orgs.models import MembershipStatus
from tests.conftest import AuthActions
from tests.factories import Factory

ES = {"Accept-Language": "es"}


@pytest.fixture()
def public(app: Flask, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(app.config, "PUBLIC_HSDS_API", True)


def _error(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.headers["Content-Language"] == "es"
    return response.get_json()["error"]


@pytest.mark.usefixtures("public")
@pytest.mark.parametrize(("query", "field", "spanish"), [
    ({"per_page": "0"}, "per_page", "per_page debe ser un número entero del 1 al 500."),
    ({"full": "maybe"}, "full", "full debe ser true o false."),
    ({"format": "xml"}, "format", "format debe ser json o ndjson."),
    ({"minimal": "true", "full": "true"}, "minimal",
     "minimal y full no pueden ser true a la vez."),
    ({"modified_after": "yesterday"}, "modified_after",
     "modified_after debe ser una fecha y hora ISO 8601, como 2024-01-31T12:00:00Z."),
    ({"search": "x" * 201}, "search", "search tiene más de 200 caracteres."),
])
def test_bad_parameters_are_spanish_with_the_same_code_and_field(
        client: FlaskClient, query: dict[str, str], field: str, spanish: str) -> None:
    english = client.get("/hsds/services", query_string=query).get_json()["error"]
    error = _error(client.get("/hsds/services", query_string=query, headers=ES), 400)
    assert error["code"] == english["code"] == "validation_error"
    assert error["fields"] == {field: [spanish]} and set(english["fields"]) == {field}
    assert error["message"] == spanish != english["message"]


@pytest.mark.usefixtures("public")
def test_places_and_missing_items_are_spanish(client: FlaskClient) -> None:
    alone = _error(client.get("/hsds/service_at_locations", query_string={"proximity": "10"},
                              headers=ES), 400)
    assert alone["fields"] == {"proximity": [
        "proximity se mide desde un código postal: indique también postcode."]}
    unknown = _error(client.get("/hsds/service_at_locations", query_string={"postcode": "00000"},
                                headers=ES), 400)
    assert unknown["message"] == ("postcode '00000' no es un código postal (ZIP) de EE. UU. "
                                  "que el directorio conozca.")
    missing = _error(client.get("/hsds/services/nope", headers=ES), 404)
    assert missing["code"] == "not_found"
    assert missing["message"] == "Ningún servicio del directorio tiene el id 'nope'."


def test_who_may_read_is_said_in_spanish(client: FlaskClient, auth: AuthActions,
                                         factory: Factory) -> None:
    visitor = _error(client.get("/hsds/services", headers=ES), 401)
    assert visitor["message"].startswith("Inicie sesión o envíe un token de la API")
    bad_token = _error(client.get("/hsds/services", headers={
        **ES, "Authorization": "Bearer dir_unknown"}), 401)
    assert bad_token["message"] == "Este token de la API no existe, venció o fue revocado."
    user = factory.user(organization=factory.organization(status=MembershipStatus.PENDING))
    auth.login(user.email)
    refused = _error(client.get("/hsds/services", headers=ES), 403)
    assert refused["message"] == ("Solo los miembros de organizaciones verificadas pueden leer "
                                  "la API HSDS.")


def test_a_token_owner_who_reads_spanish_gets_spanish_hsds_errors(
        client: FlaskClient, factory: Factory) -> None:
    member = factory.user(organization=factory.organization())
    member.language = "es"
    _, secret = create_token(member, "211 feed", None)
    error = _error(client.get("/hsds/services", query_string={"page": "0"},
                              headers={"Authorization": f"Bearer {secret}"}), 400)
    assert error["fields"] == {"page": ["page debe ser un número entero del 1 al 1000000."]}


def test_the_download_refuses_in_spanish(client: FlaskClient, auth: AuthActions,
                                         factory: Factory) -> None:
    visitor = _error(client.get("/api/v1/hsds/export", headers=ES), 401)
    assert visitor == {"code": "unauthorized", "fields": {},
                       "message": "Inicie sesión para descargar el directorio."}
    auth.login(factory.user(organization=factory.organization()).email)
    wrong = _error(client.get("/api/v1/hsds/export", query_string={"format": "xml"},
                              headers=ES), 400)
    assert wrong == {"code": "validation_error", "message": "format debe ser csv o json.",
                     "fields": {"format": ["format debe ser csv o json."]}}
