"""The coverage-gaps page and the public transparency page over HTTP."""

from __future__ import annotations

import csv
import datetime as dt
import io
import re

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from directory.accounts.models import MemberRole
from directory.db import utcnow
from directory.referrals.models import ReferralStatus
from tests.conftest import AuthActions
from tests.factories import Factory
from tests.reports.fixture import add_referral
from tests.reports.gaps_fixture import GapNetwork, build


@pytest.fixture()
def network(factory: Factory) -> GapNetwork:
    return build(factory)


@pytest.fixture()
def public_on(app: Flask, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(app.config, "PUBLIC_REPORT", True)


def _rows(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text)))


def _coordinator(auth: AuthActions, factory: Factory) -> None:
    auth.login(factory.user(coordinator=True).email)


def test_a_coordinator_sees_the_gap_map_and_its_tables(client: FlaskClient, auth: AuthActions,
                                                       factory: Factory,
                                                       network: GapNetwork) -> None:
    _coordinator(auth, factory)
    page = client.get("/reports/gaps?service=shelter")
    assert page.status_code == 200
    assert "5 of 8 counties (62%)" in page.text
    hatched = set(re.findall(r'data-fips="(\d{5})" data-covered="false"', page.text))
    assert hatched == {"10005", "44001", "44003"}
    assert 'aria-hidden="true"' in page.text and "Hatched: no member covers it" in page.text
    assert "not of people" in page.text
    rows = _rows(client.get("/reports/gaps/gap_counties.csv?service=shelter").text)
    assert rows[0] == ["County", "State", "FIPS code"]
    assert rows[1] == ["measure", "state postal code", "county FIPS code"]
    assert rows[2:] == [["Sussex County", "DE", "10005"], ["Bristol County", "RI", "44001"],
                        ["Kent County", "RI", "44003"]]
    by_state = _rows(client.get("/reports/gaps/gaps_by_state.csv?service=shelter").text)
    assert by_state[2] == ["Delaware", "3", "1", str(round(2 / 3, 4))]
    assert by_state[-1] == ["All the network's states", "8", "3", "0.625"]


def test_the_population_narrows_the_page(client: FlaskClient, auth: AuthActions,
                                         factory: Factory, network: GapNetwork) -> None:
    _coordinator(auth, factory)
    page = client.get("/reports/gaps?service=shelter&population=adolescents")
    assert page.status_code == 200 and "1 of 8 counties" in page.text
    assert "for Adolescents (12-17)" in page.text  # the label as listed, not lowered


def test_without_a_service_the_page_asks_for_one(client: FlaskClient, auth: AuthActions,
                                                 factory: Factory, network: GapNetwork) -> None:
    _coordinator(auth, factory)
    page = client.get("/reports/gaps")
    assert page.status_code == 200 and "Choose a service" in page.text
    assert "data-fips" not in page.text


@pytest.mark.parametrize("query", ["service=nothing.here", "service=shelter&population=elves",
                                   "population=adults"])
def test_bad_questions_are_refused_with_400(client: FlaskClient, auth: AuthActions,
                                            factory: Factory, query: str) -> None:
    _coordinator(auth, factory)
    assert client.get(f"/reports/gaps/gap_counties.csv?{query}").status_code == 400
    if "service=" in query:
        page = client.get(f"/reports/gaps?{query}")
        assert page.status_code == 400
        assert "Unknown" in page.text


def test_an_unknown_gap_table_is_404(client: FlaskClient, auth: AuthActions,
                                     factory: Factory) -> None:
    _coordinator(auth, factory)
    assert client.get("/reports/gaps/secrets.csv?service=shelter").status_code == 404


@pytest.mark.parametrize("role", ["admin", "referrer", "anonymous"])
def test_only_coordinators_see_the_gaps(client: FlaskClient, auth: AuthActions,
                                        factory: Factory, network: GapNetwork,
                                        role: str) -> None:
    if role != "anonymous":
        member = factory.user(organization=network.members["a"],
                              role=MemberRole.ADMIN if role == "admin" else MemberRole.REFERRER)
        auth.login(member.email)
    for url in ("/reports/gaps?service=shelter", "/reports/gaps/gap_counties.csv?service=shelter"):
        answer = client.get(url)
        assert answer.status_code == (302 if role == "anonymous" else 403), url
        assert "Sussex" not in answer.text


# --- the public page ---------------------------------------------------------------------------

def test_the_public_page_is_off_by_default(client: FlaskClient, auth: AuthActions,
                                           factory: Factory) -> None:
    for url in ("/reports/public", "/reports/public/tables/quarters.csv",
                "/reports/public/tables/gap_counties.csv?service=shelter"):
        assert client.get(url).status_code == 404
    _coordinator(auth, factory)
    assert client.get("/reports/public").status_code == 404


def test_the_public_page_opens_to_visitors_when_switched_on(
        client: FlaskClient, network: GapNetwork, public_on: None) -> None:
    page = client.get("/reports/public?service=shelter")
    assert page.status_code == 200
    assert page.headers["Cache-Control"] == "public, max-age=900"
    assert "Cookie" in page.headers["Vary"] and "Set-Cookie" not in page.headers
    assert "Sign out" not in page.text and "csrf_token" not in page.text
    assert "5 of 8 counties" in page.text
    rows = _rows(client.get("/reports/public/tables/gap_counties.csv?service=shelter").text)
    assert [row[0] for row in rows[2:]] == ["Sussex County", "Bristol County", "Kent County"]
    assert client.get("/reports/public/tables/nothing.csv").status_code == 404
    assert client.get("/reports/public?service=nothing").status_code == 400


def test_a_signed_in_reader_of_the_public_page_is_not_cached(
        client: FlaskClient, auth: AuthActions, factory: Factory, public_on: None) -> None:
    _coordinator(auth, factory)
    page = client.get("/reports/public")
    assert page.status_code == 200 and page.headers["Cache-Control"] == "no-store"


def test_the_public_network_size_is_suppressed_with_its_complement(
        client: FlaskClient, network: GapNetwork, public_on: None, app: Flask) -> None:
    # Eight active members: five in Rhode Island (d to h: d does not accept referrals but is
    # a member), three in Delaware (a, b, i); c is suspended. All nonprofits.
    rows = _rows(client.get("/reports/public/tables/network_size.csv").text)
    assert rows[0] == ["State", "Nonprofit", "Total"]
    by_state = {row[0]: row[1:] for row in rows[2:]}
    assert by_state["Delaware"] == ["fewer than 5", "fewer than 5"]
    # Rhode Island's 5 is hidden too, or the total's 8 - 5 would give Delaware's 3 back.
    assert by_state["Rhode Island"] == ["fewer than 5", "fewer than 5"]
    assert by_state["All states"] == ["8", "8"]
    app.config["REPORT_MIN_COUNT"] = 1
    try:
        rows = _rows(client.get("/reports/public/tables/network_size.csv").text)
    finally:
        app.config["REPORT_MIN_COUNT"] = 5
    assert {row[0]: row[1:] for row in rows[2:]} == {
        "Delaware": ["3", "3"], "Rhode Island": ["5", "5"], "All states": ["8", "8"]}


def test_public_referral_figures_are_suppressed_and_name_no_organization(
        client: FlaskClient, db: Session, network: GapNetwork, public_on: None,
        app: Flask) -> None:
    m = network.members
    today = utcnow().date()
    quarter_start = dt.date(today.year, 3 * ((today.month - 1) // 3) + 1, 1)
    sent = dt.datetime.combine(quarter_start, dt.time(0), dt.UTC)
    # Six referrals this quarter: four from a to e answered in 2 h and completed, two declined.
    for _ in range(4):
        add_referral(db, m["a"], m["e"], sent, ReferralStatus.COMPLETED, answered=2)
    for _ in range(2):
        add_referral(db, m["f"], m["e"], sent, ReferralStatus.DECLINED, answered=6)
    db.flush()
    page = client.get("/reports/public")
    assert page.status_code == 200
    for organization in m.values():
        assert organization.name not in page.text
    rows = _rows(client.get("/reports/public/tables/quarters.csv").text)
    assert rows[0] == ["Quarter", "Referrals sent", "Time to an answer, median", "Closed loop"]
    assert len(rows) == 2 + 8
    current = rows[-1]
    assert current[0].endswith("(to date)")
    # 6 sent, median answer (rank 3 of 6) 2 h; 4 closed the loop: fewer than 5, not shown.
    assert current[1:] == ["6", "2.0", ""]
    assert all(row[1:] == ["0", "", ""] for row in rows[2:-1])
    app.config["REPORT_MIN_COUNT"] = 10
    try:
        rows = _rows(client.get("/reports/public/tables/quarters.csv").text)
    finally:
        app.config["REPORT_MIN_COUNT"] = 5
    assert rows[-1][1:] == ["fewer than 10", "", ""]


def test_the_public_page_reads_in_spanish(client: FlaskClient, network: GapNetwork,
                                          public_on: None) -> None:
    page = client.get("/reports/public?service=shelter", headers={"Accept-Language": "es"})
    assert page.status_code == 200
    assert "Cómo le va a la red" in page.text and "Mostrar cobertura" in page.text
    assert "How the network is doing" not in page.text
    assert "Accept-Language" in page.headers["Vary"]
    english = client.get("/reports/public?service=shelter", headers={"Accept-Language": "en"})
    assert "How the network is doing" in english.text
