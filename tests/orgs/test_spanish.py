"""The organizations area in Spanish: the search page and its results, a profile, the edit form
and its errors, the coverage and location pages, flashes, the labels of kinds, populations,
languages and services, and the review reminder in its recipient's language. English stays
the default."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from flask_babel import force_locale
from sqlalchemy import event
from sqlalchemy.orm import Session

from directory.accounts.models import MemberRole, User
from directory.orgs.models import (
    KIND_LABELS,
    LANGUAGES,
    POPULATION_LABELS,
    SHIPPED_CATEGORY_LABELS,
    TRANSLATED_KIND_LABELS,
    TRANSLATED_LANGUAGES,
    TRANSLATED_POPULATION_LABELS,
    Organization,
    OrganizationKind,
    Population,
    category_label,
)
from tests.conftest import AuthActions
from tests.factories import Factory
from tests.mail.helpers import last_mail_to

ES = {"Accept-Language": "es"}
SEED_TAXONOMY = Path(__file__).resolve().parents[2] / "seed" / "taxonomy.csv"


@pytest.fixture()
def partner(factory: Factory) -> Organization:
    return factory.organization(
        name="Refugio Bayou", kind=OrganizationKind.FAITH_BASED, services=["shelter.youth"],
        languages=["en", "vi"], populations=["adolescents"], min_age=12, max_age=17,
        locations=[{"name": "Office", "address": "900 Main St", "city": "Houston",
                    "state": "TX", "postal_code": "77002",
                    "hours": [{"days": ["mon", "tue"], "opens": "09:00", "closes": "17:00"}]}])


@pytest.fixture()
def admin(factory: Factory, partner: Organization) -> User:
    return factory.user(organization=partner, role=MemberRole.ADMIN)


def _page(client: FlaskClient, url: str, headers: dict[str, str] | None = ES) -> str:
    response = client.get(url, headers=headers)
    assert response.status_code == 200, response.status_code
    return response.get_data(as_text=True)


# --- labels ------------------------------------------------------------------------------------

def test_labels_read_in_english_by_default_and_in_spanish_when_asked(app: Flask) -> None:
    with app.test_request_context():
        assert OrganizationKind.LAW_ENFORCEMENT.label == "Law enforcement"
        assert Population.SEX_TRAFFICKING.label == "Survivors of sex trafficking"
        assert category_label("shelter.safe_house", "Safe house") == "Safe house"
        with force_locale("es_US"):
            assert OrganizationKind.LAW_ENFORCEMENT.label == "Fuerzas del orden"
            assert OrganizationKind.FAITH_BASED.label == "Organización religiosa"
            assert Population.SEX_TRAFFICKING.label == "Sobrevivientes de trata sexual"
            assert str(TRANSLATED_LANGUAGES["vi"]) == "Vietnamita"
            assert category_label("shelter.safe_house", "Safe house") == "Casa de acogida"
            # A category the shipped taxonomy does not have keeps its own name.
            assert category_label("imported.thing", "Imported thing") == "Imported thing"


def test_the_translated_labels_say_in_english_what_the_data_names_say(app: Flask) -> None:
    """The English names (data files, exports) and the translated labels are one list."""
    with app.test_request_context():
        assert {kind: str(label) for kind, label in TRANSLATED_KIND_LABELS.items()} == KIND_LABELS
        assert {population: str(label) for population, label
                in TRANSLATED_POPULATION_LABELS.items()} == POPULATION_LABELS
        assert {code: str(label) for code, label in TRANSLATED_LANGUAGES.items()} == LANGUAGES
        with SEED_TAXONOMY.open(newline="", encoding="utf-8") as handle:
            shipped = {row["code"]: row["name"] for row in csv.DictReader(handle)}
        assert {code: str(label) for code, label in SHIPPED_CATEGORY_LABELS.items()} == shipped


def test_the_apply_form_offers_kinds_languages_and_populations_in_spanish(
        client: FlaskClient) -> None:
    page = _page(client, "/apply")
    for spanish in ("Fuerzas del orden", "Organización religiosa", "Vietnamita",
                    "Lengua de señas americana", "Sobrevivientes de trata laboral",
                    "Casa de acogida"):
        assert spanish in page
    for english in ("Law enforcement", "Faith-based", "Vietnamese", "Survivors of labor"):
        assert english not in page


def test_the_home_page_names_the_kinds_in_spanish(client: FlaskClient, auth: AuthActions,
                                                  admin: User, partner: Organization) -> None:
    auth.login(admin.email)
    page = _page(client, "/")
    assert "Organización religiosa" in page and "Faith-based" not in page
    assert "Faith-based" in _page(client, "/", headers=None)


# --- search ------------------------------------------------------------------------------------

def test_the_search_page_and_its_results_in_spanish(client: FlaskClient, auth: AuthActions,
                                                    factory: Factory,
                                                    partner: Organization) -> None:
    auth.login(factory.user(coordinator=True).email)
    form = _page(client, "/search")
    for spanish in ("Buscar una organización aliada", "Usar mi ubicación", "Cualquier servicio",
                    "Refugio para jóvenes", "Organización religiosa", "Vietnamita",
                    "en los últimos 3 meses", "25 millas",
                    'data-locating="Buscando su ubicación…"'):
        assert spanish in form
    for english in ("Find a partner", "Use my location", "Any service", "Youth shelter",
                    "in the last 3 months", "25 miles", "Locating…"):
        assert english not in form

    page = _page(client, "/search?near=77002&radius=10")
    for spanish in ("a menos de 10 mi de", "0.0 mi", "Acepta derivaciones",
                    "Idiomas: Inglés, Vietnamita", "Refugio para jóvenes", "Sin verificar",
                    "Punto de búsqueda", "Leyenda", "la lista de resultados",
                    'data-cluster="{count} organizaciones aquí: seleccione para acercar"',
                    'data-distance="{miles} mi"'):
        assert spanish in page, spanish
    for english in ("Accepting referrals", "Languages:", "Youth shelter", "Not verified",
                    "Search point", "the list of results", "organizations here"):
        assert english not in page, english
    map_data = json.loads(page.split('id="map-data">')[1].split("</script>")[0])
    assert map_data["results"][0]["name"] == "Refugio Bayou"  # data, not words, in the JSON


def test_a_refused_search_explains_itself_in_spanish(client: FlaskClient, auth: AuthActions,
                                                     factory: Factory,
                                                     partner: Organization) -> None:
    auth.login(factory.user(coordinator=True).email)
    response = client.get("/search?near=77002&service=teleportation", headers=ES)
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert "No se pudo hacer la búsqueda" in page and "could not run" not in page


def test_a_spanish_search_asks_the_database_no_more_than_an_english_one(
        client: FlaskClient, auth: AuthActions, factory: Factory, db: Session) -> None:
    for number in range(6):
        factory.organization(name=f"Partner {number}", services=["shelter.youth", "legal.civil"],
                             languages=["en", "es", "vi"])
    auth.login(factory.user(coordinator=True).email)
    url = "/search?near=77002&radius=10"
    _page(client, url, headers=None)  # warm the caches
    with _statements(db) as english:
        _page(client, url, headers=None)
    with _statements(db) as spanish:
        _page(client, url)
    assert len(spanish) == len(english)


@contextmanager
def _statements(db: Session) -> Iterator[list[str]]:
    seen: list[str] = []
    engine = db.get_bind().engine

    def count(_conn: object, _cursor: object, statement: str, *_args: object) -> None:
        seen.append(statement)

    event.listen(engine, "before_cursor_execute", count)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", count)


# --- the profile and the listing's pages -------------------------------------------------------

def test_a_profile_in_spanish(client: FlaskClient, auth: AuthActions, admin: User,
                              partner: Organization) -> None:
    auth.login(admin.email)
    page = _page(client, f"/organizations/{partner.slug}")
    for spanish in ("Organización religiosa", "Refugio para jóvenes", "Adolescentes (12-17)",
                    "Edades: 12–17", "Vietnamita", "Editar la ficha", "Zonas de cobertura",
                    "Todavía sin confirmar por la organización;", "sin verificar por la red.",
                    "lun–mar", "Horarios en America/Chicago", "Servicios", "Ubicaciones"):
        assert spanish in page, spanish
    for english in ("Faith-based", "Youth shelter", "Adolescents", "Ages 12", "Vietnamese",
                    "Edit listing", "Not yet confirmed", "Mon–Tue", "Times in", "Locations"):
        assert english not in page, english


def test_english_stays_the_default(client: FlaskClient, auth: AuthActions, admin: User,
                                   partner: Organization) -> None:
    auth.login(admin.email)
    page = _page(client, f"/organizations/{partner.slug}", headers=None)
    for english in ("Faith-based", "Youth shelter", "Adolescents (12-17)", "Ages 12–17",
                    "Vietnamese", "Edit listing", "Mon–Tue"):
        assert english in page
    assert "Organización religiosa" not in page and "Vietnamita" not in page


def test_a_users_setting_gives_spanish_pages_and_flashes(client: FlaskClient,
                                                         auth: AuthActions, admin: User,
                                                         partner: Organization,
                                                         db: Session) -> None:
    admin.language = "es"
    db.flush()
    auth.login(admin.email)
    response = client.post(f"/organizations/{partner.slug}/edit", data={
        "description": "Refugio juvenil.", "services": ["shelter.youth"], "languages": ["es"],
        "populations": ["adolescents"], "min_age": "12", "max_age": "17",
        "accepting_referrals": "y"})
    assert response.status_code == 302
    page = _page(client, f"/organizations/{partner.slug}", headers=None)
    assert "Guardado: descripción, idiomas." in page and "Saved:" not in page


def test_the_edit_form_and_its_errors_in_spanish(client: FlaskClient, auth: AuthActions,
                                                 admin: User, partner: Organization) -> None:
    auth.login(admin.email)
    form = _page(client, f"/organizations/{partner.slug}/edit")
    for spanish in ("Editar la ficha de Refugio Bayou", "Edad mínima atendida",
                    "Capacidad actual", "A quién se atiende", "Sobrevivientes de trata sexual",
                    "Lengua de señas americana", "Refugio y vivienda", "Casa de acogida",
                    "Nombre del contacto 1", "Guardar la ficha"):
        assert spanish in form, spanish
    for english in ("Edit the listing of", "Youngest age served", "Capacity now",
                    "Who is served", "Survivors of sex trafficking", "American Sign Language",
                    "Shelter and housing", "of contact 1", "Save the listing"):
        assert english not in form, english

    response = client.post(f"/organizations/{partner.slug}/edit", headers=ES, data={
        "description": "x", "min_age": "18", "max_age": "12"})
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert "La edad mínima atendida no debe ser mayor que la máxima." in page
    assert "youngest age served must not be above" not in page


def test_toggle_and_confirm_flash_in_spanish(client: FlaskClient, auth: AuthActions,
                                             admin: User, partner: Organization) -> None:
    auth.login(admin.email)
    page = _page(client, f"/organizations/{partner.slug}")
    token = page.split('name="csrf_token" value="')[1].split('"')[0]
    client.post(f"/organizations/{partner.slug}/accepting", headers=ES,
                data={"csrf_token": token, "accepting": "no"})
    page = _page(client, f"/organizations/{partner.slug}")
    assert "Ya no acepta derivaciones." in page and "No longer accepting" not in page
    assert "Empezar a aceptar derivaciones" in page


def test_the_coverage_page_in_spanish(client: FlaskClient, auth: AuthActions, admin: User,
                                      partner: Organization) -> None:
    auth.login(admin.email)
    url = f"/organizations/{partner.slug}/coverage"
    added = client.post(url, headers=ES, data={
        "kind": "radius", "radius_mi": "25", "location_id": str(partner.locations[0].id),
        "services": ["shelter.youth"]})
    assert added.status_code == 302
    page = _page(client, url)
    for spanish in ("Dónde atiende Refugio Bayou", "Agregar una zona de cobertura",
                    "Tipo de zona", "Zona dibujada", "Código postal",
                    "Zona de cobertura agregada: A menos de 25 mi de Houston, TX.",
                    "A menos de 25 mi de Houston, TX", "solo Refugio para jóvenes",
                    "Mapa de las zonas de cobertura"):
        assert spanish in page, spanish
    for english in ("Where Refugio Bayou serves", "Add a coverage area", "Kind of area",
                    "Within 25 mi", "only Youth shelter", "Coverage area added"):
        assert english not in page, english

    refused = client.post(url, headers=ES, data={"kind": "county", "county": "Harris",
                                                 "state": "OH"})
    assert refused.status_code == 400
    assert "No hay ningún condado llamado “Harris” en Ohio." in refused.get_data(as_text=True)


def test_the_location_page_in_spanish(client: FlaskClient, auth: AuthActions, admin: User,
                                      partner: Organization) -> None:
    auth.login(admin.email)
    url = f"/organizations/{partner.slug}/locations/{partner.locations[0].id}"
    page = _page(client, url)
    for spanish in ("Editar Office", "Dónde está", "Ubicar según la dirección",
                    "El marcador de la ubicación", "Horario semanal", "Lunes", "Domingo",
                    'placeholder="cerrado"', "Guardar la ubicación", "Dirección"):
        assert spanish in page, spanish
    for english in ("Where it is", "Place from the address", "The location's marker",
                    "Weekly hours", "Monday", 'placeholder="closed"', "Save the location"):
        assert english not in page, english

    refused = client.post(url, headers=ES, data={
        "name": "Office", "city": "Houston", "state": "TX", "postal_code": "77002",
        "mon": "9 to 5", "closures": "2026-12-24 a 2026-12-26 Fiestas"})
    assert refused.status_code == 400
    text = refused.get_data(as_text=True)
    assert "Escriba los horarios como 09:00-17:00" in text and "Write times as" not in text


def test_a_spanish_closure_range_is_read_and_written_back(client: FlaskClient,
                                                          auth: AuthActions, admin: User,
                                                          partner: Organization,
                                                          db: Session) -> None:
    auth.login(admin.email)
    url = f"/organizations/{partner.slug}/locations/{partner.locations[0].id}"
    saved = client.post(url, headers=ES, data={
        "name": "Office", "city": "Houston", "state": "TX", "postal_code": "77002",
        "mon": "09:00-17:00", "tue": "cerrado",
        "closures": "2026-12-24 a 2026-12-26 Fiestas"})
    assert saved.status_code == 302, saved.get_data(as_text=True)
    db.expire_all()
    location = partner.locations[0]
    assert [(c.starts_on.isoformat(), c.ends_on.isoformat(), c.note)
            for c in location.closures] == [("2026-12-24", "2026-12-26", "Fiestas")]
    assert [h.weekday for h in location.hours] == [0]
    assert "2026-12-24 a 2026-12-26 Fiestas" in _page(client, url)
    assert "2026-12-24 to 2026-12-26 Fiestas" in _page(client, url, headers=None)


def test_the_stale_list_and_the_reminders_each_in_its_readers_language(
        client: FlaskClient, auth: AuthActions, factory: Factory, admin: User,
        partner: Organization, db: Session) -> None:
    english_admin = factory.user(organization=partner, role=MemberRole.ADMIN)
    admin.language = "es"
    db.flush()
    auth.login(factory.user(coordinator=True).email)
    page = _page(client, "/listings/stale")
    assert "Fichas sin confirmar desde hace" in page and "Listings not confirmed" not in page
    assert client.post(f"/listings/{partner.slug}/remind", headers=ES).status_code == 302
    page = _page(client, "/listings/stale")
    assert "Recordatorio enviado a 2 administradores(as) de Refugio Bayou." in page
    # The coordinator reads Spanish; each admin gets the mail in their own language.
    spanish_mail = last_mail_to(db, admin.email)
    english_mail = last_mail_to(db, english_admin.email)
    assert spanish_mail.subject == "¿Sigue al día la ficha de Refugio Bayou?"
    assert "Hace más de 180 días" in spanish_mail.text_body
    assert "has not been confirmed" not in spanish_mail.text_body
    assert english_mail.subject == "Is the listing of Refugio Bayou still current?"
    assert "has not been confirmed as current for more than 180 days" in english_mail.text_body
    assert "Hola" not in english_mail.text_body
