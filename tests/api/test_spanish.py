"""The JSON API's errors in English and Spanish: the caller's language (a token's owner's
setting, then the `language` cookie, then Accept-Language, then English) changes the messages
and Content-Language, never the error codes or the field names."""

from __future__ import annotations

import re
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from flask_babel import force_locale
from sqlalchemy.orm import Session

from directory.accounts.models import MemberRole, User
from directory.api.operations import create_token
from directory.i18n import LANGUAGE_COOKIE, locale_of
from directory.orgs.models import Organization
from directory.schema_messages import (
    FIELD_MESSAGES,
    RANGE_SENTENCES,
    SCHEMA_MESSAGES,
    VALIDATOR_MESSAGES,
    Message,
)
from tests.factories import Factory

ES = {"Accept-Language": "es"}
BAD_LIST = {"box": "nowhere", "limit": "many", "status": "lost", "partner": "x" * 101}


@pytest.fixture()
def partner(factory: Factory) -> Organization:
    return factory.organization(name="Spanish API Partner")


@pytest.fixture()
def member(factory: Factory, partner: Organization) -> User:
    return factory.user(organization=partner, role=MemberRole.REFERRER)


@pytest.fixture()
def token(member: User) -> str:
    return create_token(member, "script", None)[1]


def _bearer(secret: str, **headers: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}", **headers}


def _error(response: Any, status: int, language: str) -> dict[str, Any]:
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.headers["Content-Language"] == language
    return response.get_json()["error"]


def test_a_validation_error_in_spanish_keeps_the_codes_and_field_names(
        client: FlaskClient, token: str) -> None:
    english = _error(client.get("/api/v1/referrals", query_string=BAD_LIST,
                                headers=_bearer(token)), 400, "en")
    spanish = _error(client.get("/api/v1/referrals", query_string=BAD_LIST,
                                headers=_bearer(token, **ES)), 400, "es")
    assert english["code"] == spanish["code"] == "validation_error"
    assert set(english["fields"]) == set(spanish["fields"]) == {"box", "limit", "status",
                                                                 "partner"}
    assert english["message"] == "The request has invalid fields."
    assert english["fields"]["limit"] == ["Not a valid integer."]
    assert english["fields"]["box"] == ["Must be one of: inbox, outbox."]
    assert spanish["message"] == "La solicitud tiene campos no válidos."
    assert spanish["fields"]["limit"] == ["No es un número entero válido."]
    # The choices are codes: they stay as they are.
    assert spanish["fields"]["box"] == ["Debe ser uno de estos valores: inbox, outbox."]
    assert spanish["fields"]["partner"] == ["Supera la longitud máxima de 100."]


def test_required_range_and_unknown_field_messages_in_spanish(
        client: FlaskClient, token: str, partner: Organization) -> None:
    missing = _error(client.get("/api/v1/referrals", headers=_bearer(token, **ES)), 400, "es")
    assert missing["fields"] == {"box": ["Falta este campo obligatorio."]}
    too_many = _error(client.get("/api/v1/referrals", query_string={"box": "inbox",
                                                                     "limit": "1000"},
                                 headers=_bearer(token, **ES)), 400, "es")
    assert too_many["fields"] == {
        "limit": ["Debe ser mayor o igual que 1 y menor o igual que 100."]}
    unknown = _error(client.post("/api/v1/referrals", json={"bogus": 1},
                                 headers=_bearer(token, **ES)), 400, "es")
    assert unknown["fields"]["bogus"] == ["Campo desconocido."]


def test_the_apis_own_input_messages_in_spanish(client: FlaskClient, token: str) -> None:
    cursor = _error(client.get("/api/v1/referrals", query_string={"box": "inbox",
                                                                   "cursor": "garbage"},
                               headers=_bearer(token, **ES)), 400, "es")
    assert cursor["fields"] == {"cursor": ["Este cursor no es uno que haya entregado la API."]}
    not_json = _error(client.post("/api/v1/referrals", data="to=x",
                                  headers=_bearer(token, **ES)), 415, "es")
    assert not_json["message"] == ("Envíe el cuerpo como JSON, con Content-Type: "
                                   "application/json.")
    not_object = _error(client.post("/api/v1/referrals", json=[1],
                                    headers=_bearer(token, **ES)), 400, "es")
    assert not_object["message"] == "El cuerpo debe ser un objeto JSON."
    assert not_object["fields"] == {"_schema": ["Se esperaba un objeto JSON."]}


def test_json_the_api_cannot_take_is_refused_in_spanish(client: FlaskClient,
                                                        token: str) -> None:
    def post(body: str) -> dict[str, Any]:
        return _error(client.post("/api/v1/referrals", data=body, headers=_bearer(
            token, **ES, **{"Content-Type": "application/json"})), 400, "es")

    nul = post('{"service": "a\\u0000b"}')
    assert nul["code"] == "validation_error"
    assert nul["message"] == "La solicitud tiene campos no válidos."
    assert nul["fields"] == {"service": ["Contiene un carácter NUL, que ningún campo acepta."]}
    assert post("[" * 40 + "]" * 40)["message"] == ("El JSON tiene más de 32 niveles de "
                                                     "anidamiento.")
    assert post("{")["message"].startswith("El cuerpo no es JSON válido: ")


def test_401_in_spanish(client: FlaskClient) -> None:
    visitor = _error(client.get("/api/v1/me", headers=ES), 401, "es")
    assert visitor["code"] == "unauthorized"
    assert visitor["message"].startswith("Inicie sesión o envíe un token de la API")
    bad_token = _error(client.get("/api/v1/me", headers=_bearer("dir_nothing", **ES)), 401, "es")
    assert bad_token["message"] == "Este token de la API no existe, venció o fue revocado."


def test_403_and_404_in_spanish(client: FlaskClient, token: str,
                                partner: Organization) -> None:
    refused = _error(client.patch(f"/api/v1/organizations/{partner.slug}",
                                  json={"description": "Nueva"},
                                  headers=_bearer(token, **ES)), 403, "es")
    assert refused["code"] == "forbidden"
    assert refused["message"] == "Usted inició sesión, pero no tiene permiso para hacer esto."
    missing = _error(client.get("/api/v1/organizations/no-such-partner",
                                headers=_bearer(token, **ES)), 404, "es")
    assert missing["code"] == "not_found"
    assert missing["message"] == "Eso no existe, o no es algo que usted pueda conocer."
    english = _error(client.get("/api/v1/organizations/no-such-partner",
                                headers=_bearer(token)), 404, "en")
    assert english["message"] == "There is no such thing, or not one you may know of."


def test_429_in_spanish(client: FlaskClient, app: Flask, token: str,
                        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(app.config, "API_RATE_LIMIT", "1 per minute")
    assert client.get("/api/v1/me", headers=_bearer(token)).status_code == 200
    limited = _error(client.get("/api/v1/me", headers=_bearer(token, **ES)), 429, "es")
    assert limited["code"] == "rate_limited"
    assert limited["message"] == "Demasiadas solicitudes: espere un momento y vuelva a intentarlo."


def _switch(client: FlaskClient, app: Flask, language: str | None) -> None:
    """The header's language switch, as its cookie."""
    host = app.config["SERVER_NAME"]
    if language is None:
        client.delete_cookie(LANGUAGE_COOKIE, domain=host)
    else:
        client.set_cookie(LANGUAGE_COOKIE, language, domain=host)


def test_a_token_whose_owner_reads_spanish_gets_spanish_without_a_header(
        client: FlaskClient, app: Flask, db: Session, member: User, token: str) -> None:
    member.language = "es"
    db.flush()
    error = _error(client.get("/api/v1/referrals", headers=_bearer(token)), 400, "es")
    assert error["fields"] == {"box": ["Falta este campo obligatorio."]}
    # The owner's setting beats the browser's and the switch's.
    also = _error(client.get("/api/v1/referrals", headers=_bearer(
        token, **{"Accept-Language": "en"})), 400, "es")
    assert also["fields"] == error["fields"]
    _switch(client, app, "en")
    assert _error(client.get("/api/v1/referrals", headers=_bearer(token)), 400, "es")


def test_without_a_setting_the_cookie_then_accept_language_decide(
        client: FlaskClient, app: Flask, token: str) -> None:
    _switch(client, app, "es")
    cookie = _error(client.get("/api/v1/referrals", headers=_bearer(
        token, **{"Accept-Language": "en"})), 400, "es")
    assert cookie["fields"] == {"box": ["Falta este campo obligatorio."]}
    _switch(client, app, None)
    header = _error(client.get("/api/v1/referrals", headers=_bearer(token, **ES)), 400, "es")
    assert header["fields"] == cookie["fields"]


def test_english_is_the_default(client: FlaskClient, token: str) -> None:
    error = _error(client.get("/api/v1/referrals", headers=_bearer(token)), 400, "en")
    assert error["fields"] == {"box": ["Missing data for required field."]}
    visitor = _error(client.get("/api/v1/me", headers={"Accept-Language": "fr"}), 401, "en")
    assert visitor["message"].startswith("Sign in, or send an API token")


def _placeholders(text: str) -> set[str]:
    return set(re.findall(r"\{[^{}]*\}", text))


def test_every_marshmallow_message_reads_in_spanish_with_its_placeholders(app: Flask) -> None:
    messages: list[Message] = [*SCHEMA_MESSAGES.values(), *RANGE_SENTENCES]
    for group in (*FIELD_MESSAGES.values(), *VALIDATOR_MESSAGES.values()):
        messages += group.values()
    with app.test_request_context(), force_locale(locale_of("es")):
        for message in messages:
            spanish = message.translated()
            assert spanish != message, message
            assert _placeholders(spanish) == _placeholders(message), message
