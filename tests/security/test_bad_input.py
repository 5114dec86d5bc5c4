"""Bad input is a clean 400, never a 500, and stores nothing (issue 10): lone surrogates and
deep nesting in JSON, integers past any column's range in paths, query strings and bodies, and
the bidirectional control characters that make text read differently from what is stored."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session
from werkzeug.routing import IntegerConverter

from directory.accounts.models import MemberRole, Membership, User
from directory.api.models import ApiToken
from directory.inputs import MAX_INT, MAX_JSON_DEPTH, IntConverter
from directory.orgs.models import Organization
from directory.referrals.models import Referral, ReferralStatus
from directory.text import BIDI_CONTROLS, MARKS, REORDERING, bidi_problem
from tests.accounts.test_applications import application
from tests.factories import Factory
from tests.hsds.conftest import edit_csv, export_to, import_path, read_csv
from tests.security.conftest import Network, StoredData, bearer, sign_in

HUGE = "99999999999999999999999"  # beyond 64 bits
ENORMOUS = "9" * 5000  # beyond what Python's int() converts from text
DEEP = "[" * 100_000 + "]" * 100_000
RLO = "\u202e"  # right-to-left override: "555-0100" displays as "0010-555"


def _api_error(response: Any, status: int = 400) -> dict[str, Any]:
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == "application/json"
    error = response.get_json()["error"]
    assert error["code"] and error["message"] and isinstance(error["fields"], dict)
    return error


def _html_error(response: Any, text: str) -> str:
    assert response.status_code == 400, response.get_data(as_text=True)[:500]
    page = response.get_data(as_text=True)
    assert response.mimetype == "text/html" and text in page and "Traceback" not in page
    return page


def _api_requests(network: Network) -> dict[str, tuple[str, str, dict[str, str], str]]:
    """(method, path, headers, body template) of each API request that stores text; the
    template's PLACEHOLDER is where the bad text goes."""
    referral = network.a_to_b
    receiver, sender = bearer(network.b_referrer), bearer(network.a_referrer)
    new = Factory.referral_data(network.b, needs="PLACEHOLDER")
    return {
        "listing": ("PATCH", f"/api/v1/organizations/{network.a.slug}", bearer(network.a_admin),
                    json.dumps({"description": "PLACEHOLDER"})),
        "contact": ("PATCH", f"/api/v1/organizations/{network.a.slug}",
                    bearer(network.a_admin),
                    json.dumps({"contacts": [{"name": "PLACEHOLDER", "phone": "555-0100"}]})),
        "referral": ("POST", "/api/v1/referrals", sender, json.dumps(new)),
        "note": ("POST", f"/api/v1/referrals/{referral.public_id}/notes", sender,
                 json.dumps({"body": "PLACEHOLDER"})),
        "transition": ("POST", f"/api/v1/referrals/{referral.public_id}/transitions", receiver,
                       json.dumps({"to": "accepted", "version": referral.version,
                                   "note": "PLACEHOLDER"})),
    }


FIELD_OF = {"listing": ["description"], "contact": ["contacts", "0", "name"],
            "referral": ["needs"], "note": ["body"], "transition": ["note"]}


def _send(client: FlaskClient, method: str, path: str, headers: dict[str, str],
          body: str) -> Any:
    return client.open(path, method=method, data=body, headers=headers,
                       content_type="application/json")


def _dig(fields: dict[str, Any], path: list[str]) -> Any:
    for part in path:
        fields = fields[part]
    return fields


# --- JSON: lone surrogates ------------------------------------------------------------------

@pytest.mark.parametrize("request_name", sorted(FIELD_OF))
@pytest.mark.parametrize("escape", ["\\ud800", "\\udfff", "\\ude00\\ud83d"])
def test_a_lone_surrogate_in_json_is_a_400_naming_the_field(
        client: FlaskClient, network: Network, stored: StoredData, request_name: str,
        escape: str) -> None:
    method, path, headers, template = _api_requests(network)[request_name]
    before = stored.snapshot()
    response = _send(client, method, path, headers,
                     template.replace('"PLACEHOLDER"', f'"a{escape}b"'))
    error = _api_error(response)
    assert error["code"] == "validation_error"
    assert "surrogate" in " ".join(_dig(error["fields"], FIELD_OF[request_name]))
    stored.assert_unchanged(before)


def test_a_lone_surrogate_in_a_key_is_refused(client: FlaskClient, network: Network,
                                              stored: StoredData) -> None:
    headers = bearer(network.a_admin)
    before = stored.snapshot()
    response = _send(client, "PATCH", f"/api/v1/organizations/{network.a.slug}", headers,
                     '{"description": "x", "\\ud800": 1}')
    assert "surrogate" in _api_error(response)["fields"]["_schema"][0]
    stored.assert_unchanged(before)


def test_a_surrogate_pair_is_one_character_and_is_stored(client: FlaskClient,
                                                         network: Network, db: Session) -> None:
    response = _send(client, "PATCH", f"/api/v1/organizations/{network.a.slug}",
                     bearer(network.a_admin), '{"description": "Open 24/7 \\ud83d\\ude00"}')
    assert response.status_code == 200, response.get_json()
    db.expire_all()
    assert db.get(Organization, network.a.id).description == "Open 24/7 \U0001f600"


# --- JSON: nesting --------------------------------------------------------------------------

@pytest.mark.parametrize("request_name", sorted(FIELD_OF))
@pytest.mark.parametrize("shape", ["whole body", "one field"])
def test_json_nested_100000_deep_is_a_400(client: FlaskClient, network: Network,
                                          stored: StoredData, request_name: str,
                                          shape: str) -> None:
    method, path, headers, template = _api_requests(network)[request_name]
    body = DEEP if shape == "whole body" else template.replace('"PLACEHOLDER"', DEEP)
    before = stored.snapshot()
    error = _api_error(_send(client, method, path, headers, body))
    assert "nested" in error["message"] and error["fields"] == {"_schema": [error["message"]]}
    stored.assert_unchanged(before)


def test_nesting_up_to_the_limit_is_parsed_and_left_to_the_schema(
        client: FlaskClient, network: Network, stored: StoredData) -> None:
    nested = "[" * (MAX_JSON_DEPTH - 1) + "]" * (MAX_JSON_DEPTH - 1)
    headers = bearer(network.a_admin)
    before = stored.snapshot()
    response = _send(client, "PATCH", f"/api/v1/organizations/{network.a.slug}", headers,
                     '{"description": ' + nested + "}")
    assert "description" in _api_error(response)["fields"]  # "Not a valid string."
    stored.assert_unchanged(before)


def test_a_deeply_nested_geojson_area_is_refused(client: FlaskClient, network: Network,
                                                 stored: StoredData) -> None:
    sign_in(client, network.a_admin)
    before = stored.snapshot()
    response = client.post(f"/organizations/{network.a.slug}/coverage",
                           data={"kind": "polygon", "geojson": "[" * 50_000 + "]" * 50_000})
    assert response.status_code == 400
    assert "nested more than" in response.get_data(as_text=True)
    stored.assert_unchanged(before)


# --- integers in paths ----------------------------------------------------------------------

def test_every_int_route_uses_the_bounded_converter(app: Flask) -> None:
    int_rules = [rule for rule in app.url_map.iter_rules()
                 if any(isinstance(c, IntegerConverter) for c in rule._converters.values())]
    assert len(int_rules) >= 12
    for rule in int_rules:
        assert all(isinstance(converter, IntConverter)
                   for converter in rule._converters.values()
                   if isinstance(converter, IntegerConverter)), rule.rule


def _int_route_urls(app: Flask, slug: str, number: str) -> list[tuple[str, str]]:
    """(method, URL) of every route with an ``<int:...>`` part, that part set to ``number``."""
    urls = []
    for rule in app.url_map.iter_rules():
        names = [name for name, converter in rule._converters.items()
                 if isinstance(converter, IntegerConverter)]
        if not names:
            continue
        path = rule.rule.replace("<slug>", slug)
        for name in names:
            path = path.replace(f"<int:{name}>", number)
        method = "POST" if "POST" in (rule.methods or ()) else "GET"
        urls.append((method, path))
    return sorted(urls)


@pytest.fixture()
def everyone(factory: Factory, network: Network) -> User:
    """A coordinator who is also organization A's admin: no route refuses them before it
    reads its path."""
    return factory.user(organization=network.a, role=MemberRole.ADMIN, coordinator=True)


@pytest.mark.parametrize("number", [HUGE, ENORMOUS, str(MAX_INT + 1)])
def test_an_integer_beyond_range_in_any_path_is_a_400(app: Flask, client: FlaskClient,
                                                      network: Network, everyone: User,
                                                      stored: StoredData, number: str) -> None:
    sign_in(client, everyone)
    before = stored.snapshot()
    urls = _int_route_urls(app, network.a.slug, number)
    assert ("POST", f"/account/tokens/{number}/revoke") in urls
    assert ("POST", f"/organizations/{network.a.slug}/members/{number}/role") in urls
    for method, url in urls:
        response = client.open(url, method=method, data={"role": "admin", "reason": "x",
                                                          "decision": "approve"})
        _html_error(response, "out of range")
    stored.assert_unchanged(before)


def test_the_largest_id_is_looked_up_and_not_found(client: FlaskClient, network: Network,
                                                   stored: StoredData) -> None:
    sign_in(client, network.a_admin)
    before = stored.snapshot()
    assert client.post(f"/account/tokens/{MAX_INT}/revoke").status_code == 404
    stored.assert_unchanged(before, refusals_audited=True)


def test_a_huge_token_id_revokes_nothing(client: FlaskClient, network: Network,
                                         db: Session) -> None:
    bearer(network.a_admin, "kept")
    sign_in(client, network.a_admin)
    _html_error(client.post(f"/account/tokens/{HUGE}/revoke"), "out of range")
    db.expire_all()
    tokens = db.scalars(select(ApiToken).where(ApiToken.user_id == network.a_admin.id)).all()
    assert tokens and all(token.revoked_at is None for token in tokens)


def test_a_huge_membership_id_changes_no_role(client: FlaskClient, network: Network,
                                              db: Session) -> None:
    sign_in(client, network.a_admin)
    response = client.post(f"/organizations/{network.a.slug}/members/{HUGE}/role",
                           data={"role": "admin"})
    _html_error(response, "out of range")
    db.expire_all()
    roles = {m.user_id: m.role for m in db.scalars(
        select(Membership).where(Membership.organization_id == network.a.id))}
    assert roles == {network.a_admin.id: MemberRole.ADMIN,
                     network.a_referrer.id: MemberRole.REFERRER}


# --- integers in query strings --------------------------------------------------------------

WEB_QUERIES = [
    "/search?near=77002&page={n}", "/search?near=77002&mode=covering&page={n}",
    "/organizations?page={n}", "/admin/organizations?page={n}", "/admin/users?page={n}",
    "/admin/audit?page={n}", "/referrals/inbox?age={n}",
    "/referrals/outbox?age={n}",
]


@pytest.mark.parametrize("number", [HUGE, ENORMOUS])
@pytest.mark.parametrize("query", WEB_QUERIES)
def test_an_integer_beyond_range_in_a_web_query_is_a_400(client: FlaskClient,
                                                         everyone: User, stored: StoredData,
                                                         query: str, number: str) -> None:
    sign_in(client, everyone)
    before = stored.snapshot()
    _html_error(client.get(query.format(n=number)), "out of range")
    stored.assert_unchanged(before)


@pytest.mark.parametrize("query", WEB_QUERIES)
@pytest.mark.parametrize("value", ["-3", "0", "two", "\u00b2", "\u0661"])
def test_a_web_query_number_that_is_no_number_is_ignored(client: FlaskClient, everyone: User,
                                                         query: str, value: str) -> None:
    """As before: a stale or hand-edited link still shows the first page, or no age filter
    (superscript and Arabic-Indic digits used to reach int() and fail)."""
    sign_in(client, everyone)
    assert client.get(query.format(n=value)).status_code == 200


@pytest.mark.parametrize("query", WEB_QUERIES)
def test_the_largest_number_in_a_web_query_is_answered(client: FlaskClient, everyone: User,
                                                       query: str) -> None:
    """The bound itself reaches the database (an OFFSET of 25 × 2147483646 rows, a date
    before any referral) and answers an empty page."""
    sign_in(client, everyone)
    number = "36500" if "age=" in query else str(MAX_INT)
    assert client.get(query.format(n=number)).status_code == 200


API_QUERIES = [
    ("/api/v1/search?near=77002&limit={n}", "limit"),
    ("/api/v1/search?near=77002&verified_within={n}", "verified_within"),
    ("/api/v1/search?near=77002&radius={n}", "radius"),
    ("/api/v1/referrals?box=inbox&limit={n}", "limit"),
]


@pytest.mark.parametrize("number", [HUGE, ENORMOUS, "1e400"])
@pytest.mark.parametrize(("query", "field"), API_QUERIES)
def test_an_integer_beyond_range_in_an_api_query_is_a_400(
        client: FlaskClient, network: Network, stored: StoredData, query: str, field: str,
        number: str) -> None:
    headers = bearer(network.a_referrer)
    before = stored.snapshot()
    error = _api_error(client.get(query.format(n=number), headers=headers))
    assert error["code"] == "validation_error" and field in error["fields"]
    stored.assert_unchanged(before)


@pytest.mark.parametrize("version", [HUGE, str(MAX_INT + 1), "-1"])
def test_a_version_beyond_range_is_a_400_and_moves_nothing(
        client: FlaskClient, network: Network, stored: StoredData, db: Session,
        version: str) -> None:
    referral = network.a_to_b
    headers = bearer(network.b_referrer)
    before = stored.snapshot()
    response = _send(client, "POST", f"/api/v1/referrals/{referral.public_id}/transitions",
                     headers, '{"to": "accepted", "version": ' + version + "}")
    assert "version" in _api_error(response)["fields"]
    stored.assert_unchanged(before)
    db.expire_all()
    assert db.get(Referral, referral.id).status == ReferralStatus.SENT


# --- bidirectional control characters -------------------------------------------------------

def test_the_rule_one_line_fields_refuse_all_free_text_keeps_the_marks() -> None:
    assert len(BIDI_CONTROLS) == 12
    for char, name in BIDI_CONTROLS.items():
        problem = bidi_problem(f"555{char}0100")
        assert problem and str(name) in problem and f"U+{ord(char):04X}" in problem
    for char in REORDERING:
        assert bidi_problem(f"Shelter {char}beds", prose=True)
    for char in MARKS:
        assert bidi_problem(f"مأوى {char}24/7", prose=True) is None
    assert bidi_problem("Riverbend 24/7 — José Nguyễn 李, مأوى", prose=False) is None


LISTING_PATCHES = [
    ({"phone": f"555{RLO}0100"}, ["phone"]),
    ({"phone": "555\u20660100\u2069"}, ["phone"]),
    ({"email": f"intake@test{RLO}.example"}, ["email"]),
    ({"website": f"https://shelter.example/{RLO}"}, ["website"]),
    ({"contacts": [{"name": "Intake\u200f desk"}]}, ["contacts", "0", "name"]),
    ({"contacts": [{"name": "Intake", "title": "Lead\u061c"}]}, ["contacts", "0", "title"]),
    ({"contacts": [{"name": "Intake", "phone": f"{RLO}555-0100"}]},
     ["contacts", "0", "phone"]),
    ({"description": f"Beds for youth {RLO}dlihc"}, ["description"]),
    ({"description": "Beds \u2067for\u2069 youth"}, ["description"]),
]


@pytest.mark.parametrize(("body", "field"), LISTING_PATCHES)
def test_bidi_controls_in_a_listing_patch_are_refused_by_field(
        client: FlaskClient, network: Network, stored: StoredData, body: dict[str, Any],
        field: list[str]) -> None:
    headers = bearer(network.a_admin)
    before = stored.snapshot()
    response = client.patch(f"/api/v1/organizations/{network.a.slug}", json=body,
                            headers=headers)
    error = _api_error(response)
    assert error["code"] == "validation_error"
    messages = " ".join(_dig(error["fields"], field))
    assert "U+" in messages or "Not a valid email" in messages  # the email check comes first
    stored.assert_unchanged(before)


def test_a_description_keeps_right_to_left_marks(client: FlaskClient, network: Network,
                                                 db: Session) -> None:
    description = "Arabic-speaking staff: مأوى\u200f 24/7, \u061cمساعدة\u200e."
    response = client.patch(f"/api/v1/organizations/{network.a.slug}",
                            json={"description": description}, headers=bearer(network.a_admin))
    assert response.status_code == 200, response.get_json()
    db.expire_all()
    assert db.get(Organization, network.a.id).description == description


REFERRAL_CHANGES = [
    ({"contact_person": f"Ana {RLO}at intake"}, ["contact_person"]),
    ({"alias": "J.D.\u200e"}, ["alias"]),
    ({"handoff_time": "Tomorrow \u202a10am"}, ["handoff_time"]),
    ({"needs": "Safe \u2068housing"}, ["needs"]),
    ({"consent": {"purpose": f"Housing {RLO}referral"}}, ["consent", "purpose"]),
]


@pytest.mark.parametrize(("changes", "field"), REFERRAL_CHANGES)
def test_bidi_controls_in_a_new_referral_are_refused_by_field(
        client: FlaskClient, factory: Factory, network: Network, stored: StoredData,
        changes: dict[str, Any], field: list[str]) -> None:
    headers = bearer(network.a_referrer)
    before = stored.snapshot()
    response = client.post("/api/v1/referrals", headers=headers,
                           json=factory.referral_data(network.b, **changes))
    assert "U+" in " ".join(_dig(_api_error(response)["fields"], field))
    stored.assert_unchanged(before)


def test_a_note_refuses_an_override_and_keeps_a_mark(client: FlaskClient, network: Network,
                                                     stored: StoredData) -> None:
    url = f"/api/v1/referrals/{network.a_to_b.public_id}/notes"
    headers = bearer(network.a_referrer)
    before = stored.snapshot()
    error = _api_error(client.post(url, json={"body": f"Call {RLO}5550100"}, headers=headers))
    assert "right-to-left override" in error["fields"]["body"][0]
    stored.assert_unchanged(before)
    kept = client.post(url, json={"body": "Intake booked: مأوى\u200f."}, headers=headers)
    assert kept.status_code == 201 and kept.get_json()["body"] == "Intake booked: مأوى\u200f."


def test_a_search_for_a_place_with_bidi_controls_is_refused(
        client: FlaskClient, network: Network, stored: StoredData) -> None:
    headers = bearer(network.a_referrer)
    before = stored.snapshot()
    error = _api_error(client.get(f"/api/v1/search?near=Houston{RLO}, TX", headers=headers))
    assert "near" in error["fields"]
    stored.assert_unchanged(before)


@pytest.mark.parametrize(("changes", "message"), [
    ({"phone": f"(713) 555{RLO}-0150"}, "U+202E"),
    ({"city": "Houston\u2066"}, "U+2066"),
    ({"name": "Riverbend\u200f Youth Shelter"}, "U+200F"),
    ({"postal_code": "77002\u200e"}, "U+200E"),
    ({"description": f"Emergency shelter {RLO}htuoy rof"}, "U+202E"),
])
def test_bidi_controls_in_an_application_are_refused(client: FlaskClient, factory: Factory,
                                                     stored: StoredData,
                                                     changes: dict[str, str],
                                                     message: str) -> None:
    factory.user(coordinator=True)
    before = stored.snapshot()
    response = client.post("/apply", data=application(**changes))
    assert response.status_code == 400
    assert message in response.get_data(as_text=True)
    stored.assert_unchanged(before)


def test_free_text_in_an_application_keeps_right_to_left_marks(
        client: FlaskClient, factory: Factory, db: Session) -> None:
    factory.user(coordinator=True)
    description = "Shelter for youth; Arabic-speaking staff: مأوى\u200f 24/7."
    response = client.post("/apply", data=application(description=description,
                                                      statement="مساعدة\u061c قانونية"))
    assert response.status_code == 302, response.get_data(as_text=True)[:500]
    stored = db.scalar(select(Organization).where(
        Organization.name == application()["name"]))
    assert stored is not None and stored.description == description


def test_bidi_controls_in_web_forms_are_refused(client: FlaskClient, network: Network,
                                                stored: StoredData) -> None:
    sign_in(client, network.a_admin)
    before = stored.snapshot()
    cases = [
        ("/account/tokens", {"name": f"Backup {RLO}script", "expires_in_days": "30"}),
        (f"/organizations/{network.a.slug}/invitations",
         {"email": f"new{RLO}@test.example", "role": "referrer"}),
        (f"/organizations/{network.a.slug}/coverage",
         {"kind": "state", "state": "TX", "label": f"All of {RLO}Texas"}),
        (f"/referrals/new?to={network.b.slug}",
         {"service": "case_management", "urgency": "urgent", "age_range": "18-24",
          "alias": "Zed", "language": "Tagalog", "needs": "Shelter tonight.",
          "contact_instructions": "Call first.", "contact_person": f"Ana {RLO}at intake",
          "handoff_time": "Today 3pm", "consent_purpose": "Shelter",
          "consent_method": "written", "consent_expires_on": "2099-01-01"}),
    ]
    for url, form in cases:
        response = client.post(url, data=form)
        assert response.status_code == 400, url
        assert "U+202E" in response.get_data(as_text=True), url
    stored.assert_unchanged(before)


def test_an_hsds_import_rejects_bidi_controls_in_names_and_phones(
        factory: Factory, db: Session, tmp_path: Path) -> None:
    organization = factory.organization(name="Steady Import Partner", phone="555-0100")
    package = export_to(tmp_path / "package")
    phones = [row for row in read_csv(package / "phones.csv")
              if row["organization_id"] == organization.hsds_id]
    assert phones, "the export lists the organization's phone"
    edit_csv(package / "phones.csv", {"id": phones[0]["id"]}, {"number": f"555{RLO}0199"})
    edit_csv(package / "organizations.csv", {"id": organization.hsds_id},
             {"name": "Steady\u200f Import Partner"})
    report = import_path(package)
    assert report.organizations_rejected >= 1
    messages = " ".join(item.message for item in report.rejected)
    assert "U+202E" in messages and "U+200F" in messages
    db.expire_all()
    kept = db.get(Organization, organization.id)
    assert (kept.name, kept.phone) == ("Steady Import Partner", "555-0100")
