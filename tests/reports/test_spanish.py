"""The reports in Spanish: a coordinator whose browser asks for Spanish reads every report page
(the dashboard by each breakdown, an organization's own figures, coverage gaps, partners,
listing freshness, grants, the public page), its charts' titles, its CSV files and its errors
in Spanish, with the period's dates in Spanish; the same pages in English are unchanged."""

from __future__ import annotations

import csv
import html
import io
import re
from collections.abc import Iterable

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from directory.accounts.models import MemberRole
from directory.orgs.models import Organization
from tests.conftest import AuthActions
from tests.factories import Factory
from tests.reports import gaps_fixture, partners_fixture
from tests.reports.fixture import Network, build

ES = {"Accept-Language": "es"}
RANGE = "start=2026-01-01&end=2026-01-31"
SPANISH_RANGE = "del 1 ene 2026 al 31 ene 2026"

# What the report pages printed in English before they were translated: none may be left on a
# Spanish page (stored data, such as organization and county names, is taken out first).
ENGLISH = [
    "Counts and timings", "compared with", "No client detail appears here", "fewer than",
    "Whole network", "Receiving organization", "By receiving", "By service", "By urgency",
    "Referrals by current status", "Answers, outcomes and waiting times", "Total sent",
    "Total received", "Time to an answer", "Time to first view", "Time to acceptance",
    "90th pct.", "Overdue now", "Closed loop", "Accepted within", "Decline reasons",
    "Completed: the client", "Closed: ", "Referral flows", "From \\ to", "Other (", " to ",
    "Rates are shares", "Referrals sent over time", "This organization and the network",
    "Received by this organization", "Sent by this organization", "Received over time",
    "Received, by service", "Times are in hours", "Referrals sent or received",
    "Your own counts", "Where no member covers", "counties (", "in the network's",
    "have an active member", "no member covers it", ": covered", "The share is of counties",
    "Counties covered, by state", "Counties no member covers", "Without coverage",
    "Share covered", "All the network's states", "FIPS code", "Shares are of counties",
    "Counties of the network's states", "For a service", "Partners by kind",
    "Partners by state", "New in the range", "No MOU on file", "Share with an MOU",
    "All partners", "All kinds", "No location on file", "Partners are active members",
    "A partner counts", "Member organizations active today", "The chart splits each kind",
    "Active listings by", "Under 30 days", "days or more", "All listings", "Never",
    "own word that its listing", "check of the listing", "stale listings",
    "Member organizations by kind", "All states", "Each member is counted", "Quarter",
    "(to date)", "Referrals sent", "The chart draws the referrals", "Choose a service to see",
    "Figures about the partner network", "Day", "Month", "Unknown", "some <",
]


def _readable(page: str, stored: Iterable[str] = ()) -> str:
    """What a reader of ``page`` reads: its text, its charts' titles and its labels for
    screen readers, without scripts and without the ``stored`` data (names)."""
    page = re.sub(r"<(script|style)\b.*?</\1>", " ", page, flags=re.S)
    labels = re.findall(r'(?:aria-label|title|placeholder)="([^"]*)"', page)
    text = html.unescape(" ".join([re.sub(r"<[^>]+>", " ", page), *labels]))
    for value in sorted(stored, key=len, reverse=True):
        text = text.replace(value, " ")
    return re.sub(r"\s+", " ", text)


def _spanish(client: FlaskClient, path: str, stored: Iterable[str] = ()) -> str:
    response = client.get(path, headers=ES)
    assert response.status_code == 200, path
    assert '<html lang="es"' in response.text
    return _readable(response.text, stored)


def _english(client: FlaskClient, path: str) -> str:
    response = client.get(path)
    assert response.status_code == 200, path
    return html.unescape(response.text)


def _check(text: str, spanish: list[str], english: list[str] = ENGLISH) -> None:
    missing = [phrase for phrase in spanish if phrase not in text]
    left = [phrase for phrase in english if phrase in text]
    assert not missing and not left, (missing, left)


def _names(organizations: Iterable[Organization]) -> list[str]:
    return [organization.name for organization in organizations]


def _rows(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text)))


@pytest.fixture()
def network(factory: Factory, db: Session) -> Network:
    return build(factory, db)


@pytest.fixture()
def coordinator(factory: Factory, auth: AuthActions) -> None:
    auth.login(factory.user(coordinator=True).email)


HEADINGS = {"network": "<h2 id=\"breakdown-title\">Toda la red</h2>",
            "organization": "Por organización receptora",
            "kind": "Por tipo de organización receptora", "service": "Por servicio",
            "urgency": "Por urgencia"}


@pytest.mark.parametrize("by", list(HEADINGS))
def test_the_dashboard_by_each_breakdown(client: FlaskClient, coordinator: None,
                                         network: Network, by: str) -> None:
    response = client.get(f"/reports/?{RANGE}&by={by}", headers=ES)
    assert response.status_code == 200
    assert HEADINGS[by] in response.text
    text = _readable(response.text, _names([network.a, network.b, network.c]))
    _check(text, [
        f"Conteos y tiempos de las derivaciones enviadas {SPANISH_RANGE} (UTC), comparados "
        "con los 31 días anteriores.", 'se muestran como «menos de 5»',
        "Del 1 ene 2026 al 31 ene 2026", "31 días anteriores", "Derivaciones enviadas a lo largo "
        "del tiempo, por estado actual", "Derivaciones por estado actual", "Día",
        "Respuestas, resultados y tiempos de espera", "Tiempo hasta una respuesta, mediana",
        "Tiempo hasta la aceptación, percentil 90", "Aceptadas en 48 h", "Ciclo cerrado",
        "Vencidas sin respuesta ahora", "Total enviadas", "Motivos de rechazo",
        "Completada: la persona atendida recibió el servicio", "Cerrada: no se pudo contactar",
        "Flujos de derivaciones entre tipos de organización", "De \\ a", "Total recibidas",
        "menos de 5", "Las tasas son proporciones"])


def test_the_dashboard_in_english_is_unchanged(client: FlaskClient, coordinator: None,
                                               network: Network) -> None:
    page = _english(client, f"/reports/?{RANGE}&by=kind")
    assert ("Counts and timings of referrals sent from Jan 1, 2026 to Jan 31, 2026 (UTC), "
            "compared with the 31 days before.") in page
    for phrase in ["By receiving organization's kind", "Referrals by current status",
                   "Answers, outcomes and waiting times", "Time to an answer, median",
                   "Closed: could not contact", "Completed: the client got the service",
                   "Referral flows between kinds of organization", "From \\ to",
                   "Jan 1, 2026 to Jan 31, 2026", "Previous 31 days", "fewer than 5"]:
        assert phrase in page, phrase
    assert "Conteos" not in page and "Derivaciones" not in page


def test_a_csv_file_follows_the_page_s_language(client: FlaskClient, coordinator: None,
                                                network: Network) -> None:
    spanish = _rows(client.get(f"/reports/tables/kind_flows.csv?{RANGE}", headers=ES).text)
    assert spanish[0] == ["De \\ a", "Fuerzas del orden", "Sin fines de lucro", "Total enviadas"]
    assert spanish[1][0] == "medida" and spanish[1][-1] == "derivaciones hechas"
    by_sender = {row[0]: row[1:] for row in spanish[2:]}
    assert by_sender["Sin fines de lucro"] == ["menos de 5", "0", "menos de 5"]
    assert spanish[-1][0] == "Total recibidas"
    performance = _rows(client.get(f"/reports/tables/performance.csv?{RANGE}&by=network",
                                   headers=ES).text)
    assert performance[0][:4] == ["Toda la red", "Enviadas", "Aceptación", "Rechazo"]
    assert "Tiempo hasta una respuesta, percentil 90" in performance[0]
    assert "HHS: asignadas a un proveedor en 48 horas" in performance[1]
    assert performance[2][0] == "Toda la red"
    english = _rows(client.get(f"/reports/tables/kind_flows.csv?{RANGE}").text)
    assert english[0] == ["From \\ to", "Law enforcement", "Nonprofit", "Total sent"]
    assert english[1] == ["measure", "referrals received by Law enforcement",
                          "referrals received by Nonprofit", "referrals made"]


def test_an_organization_s_own_report(client: FlaskClient, auth: AuthActions,
                                      factory: Factory, network: Network) -> None:
    auth.login(factory.user(organization=network.a, role=MemberRole.ADMIN).email)
    path = f"/reports/organizations/{network.a.slug}?{RANGE}"
    text = _spanish(client, path, _names([network.a, network.b, network.c]))
    _check(text, [f"Derivaciones enviadas o recibidas {SPANISH_RANGE} (UTC).",
                  "Sus propios conteos se muestran completos", "Esta organización y la red",
                  "Recibidas por esta organización", "Enviadas por esta organización",
                  "Toda la red", "Recibidas a lo largo del tiempo",
                  "Recibidas, por servicio y estado actual", "Motivos de rechazo indicados",
                  "Los tiempos se expresan en horas desde el envío"])
    english = _english(client, path)
    assert "Referrals sent or received from Jan 1, 2026 to Jan 31, 2026 (UTC)." in english
    assert "This organization and the network" in english


def test_bad_dates_and_ranges_are_explained_in_spanish(client: FlaskClient, coordinator: None
                                                       ) -> None:
    for query, spanish, english in [
            ("start=2026-13-01", "La fecha de inicio debe tener la forma 2026-01-31; se "
             "recibió '2026-13-01'.", "The start date must look like"),
            ("end=31/01/2026", "La fecha de fin debe tener la forma 2026-01-31",
             "The end date must look like"),
            ("start=2026-02-01&end=2026-01-01", "El fin del intervalo es anterior a su inicio.",
             "comes before its start"),
            ("start=2000-01-01&end=2026-01-01",
             "Un intervalo puede abarcar como máximo 3660 días.", "may span at most"),
            ("by=planet", "Desglose las cifras por uno de estos valores: network, organization",
             "Break the figures down")]:
        response = client.get(f"/reports/?{query}", headers=ES)
        assert response.status_code == 400, query
        text = html.unescape(response.text)
        assert spanish in text and english not in text, query
    english = client.get("/reports/?start=2026-02-01&end=2026-01-01")
    assert "The end of the range comes before its start." in english.text


def test_coverage_gaps_for_a_service_and_a_population(client: FlaskClient, coordinator: None,
                                                      factory: Factory) -> None:
    gaps = gaps_fixture.build(factory)
    stored = [*_names(gaps.members.values()), "Sussex County", "Bristol County", "Kent County",
              "New Castle County", "Providence County", "Newport County", "Washington County",
              "Delaware", "Rhode Island"]
    text = _spanish(client, "/reports/gaps?service=shelter", stored)
    _check(text, [
        "Dónde ningún miembro cubre Refugio y vivienda",
        "5 de 8 condados (62%) de los 2 estados de la red tienen un miembro activo",
        "3 no tienen ninguno.", ": ningún miembro lo cubre", ": cubierto",
        "Condados cubiertos, por estado", "Sin cobertura", "Proporción cubierta",
        "Todos los estados de la red", "Condados que ningún miembro cubre", "Código FIPS",
        "Las proporciones son de condados"])
    narrowed = _spanish(client, "/reports/gaps?service=shelter&population=adolescents", stored)
    _check(narrowed, ["Dónde ningún miembro cubre Refugio y vivienda para Adolescentes",
                      "para este servicio y esta población"])
    rows = _rows(client.get("/reports/gaps/gap_counties.csv?service=shelter", headers=ES).text)
    assert rows[0] == ["Condado", "Estado", "Código FIPS"]
    assert rows[1] == ["medida", "código postal del estado", "código FIPS del condado"]
    unknown = client.get("/reports/gaps?service=nothing", headers=ES)
    assert unknown.status_code == 400
    assert "Servicio desconocido: 'nothing'." in html.unescape(unknown.text)
    english = _english(client, "/reports/gaps?service=shelter")
    assert "Where no member covers Shelter and housing" in english
    assert "5 of 8 counties (62%) in the network's 2 states have an active member" in english


def test_partners_and_listing_freshness(client: FlaskClient, coordinator: None,
                                        factory: Factory, db: Session) -> None:
    partners_fixture.build(factory, db)
    stored = _names(db.query(Organization).all())
    path = "/reports/partners?start=2026-01-01&end=2026-03-31"
    text = _spanish(client, path, stored)
    _check(text, ["Organizaciones miembro activas hoy, y las que se hicieron miembros del 1 ene "
                  "2026 al 31 mar 2026 (UTC).", "Organizaciones aliadas por tipo",
                  "Nuevas en el intervalo", "Sin MOU en archivo", "Proporción con MOU",
                  "Todas las organizaciones aliadas", "Organizaciones aliadas por estado",
                  "Todos los tipos", "El gráfico divide las organizaciones aliadas"])
    rows = _rows(client.get("/reports/partners/tables/partners_by_kind.csv", headers=ES).text)
    assert rows[0][:3] == ["Tipo", "Organizaciones aliadas", "Nuevas en el intervalo"]
    freshness = _spanish(client, "/reports/freshness", stored)
    _check(freshness, ["Fichas activas según la antigüedad de su última confirmación",
                       "Fichas activas según la antigüedad de su última verificación",
                       "Menos de 30 días", "De 30 a 89 días", "365 días o más", "Nunca",
                       "Todas las fichas", "Antigüedad", "fichas desactualizadas"])
    english = _english(client, "/reports/freshness")
    assert "Active listings by age of their last confirmation" in english
    assert "Under 30 days" in english and "stale listings" in english


def test_the_network_s_grant_report(client: FlaskClient, coordinator: None,
                                    network: Network) -> None:
    text = _spanish(client, f"/reports/grants?{RANGE}", _names([network.a, network.b,
                                                                  network.c]))
    _check(text, [f"para las derivaciones enviadas {SPANISH_RANGE} (UTC).",
                  "Asignadas a un proveedor en 48 horas",
                  "Derivaciones Enviadas Aceptadas Aceptadas en 48 h Proporción en 48 h",
                  "menos de 5", "Toda la red"])


@pytest.fixture()
def public_on(app: Flask, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(app.config, "PUBLIC_REPORT", True)


def test_the_public_page(client: FlaskClient, factory: Factory, public_on: None) -> None:
    gaps = gaps_fixture.build(factory)
    stored = [*_names(gaps.members.values()), "Delaware", "Rhode Island", "County"]
    text = _spanish(client, "/reports/public?service=shelter", stored)
    _check(text, ["Cifras de la red de organizaciones aliadas en su conjunto",
                  'se muestran como «menos de 5»', "Organizaciones miembro por tipo y estado",
                  "Todos los estados", "Cada miembro se cuenta una vez",
                  "Derivaciones por trimestre", "Trimestre", "Derivaciones enviadas",
                  "Tiempo hasta una respuesta, mediana", "El gráfico muestra las derivaciones",
                  "Elija un servicio para ver los condados",
                  "Dónde ningún miembro cubre Refugio y vivienda"])
    assert re.search(r"T[1-4] \d{4} \(hasta la fecha\)", text)
    english = _english(client, "/reports/public?service=shelter")
    assert "Member organizations by kind and state" in english
    assert re.search(r"\d{4} Q[1-4] \(to date\)", english)
