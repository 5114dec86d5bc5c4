"""The interface in English and Spanish: how the language is chosen, the switch, the account's
language and time zone, mail in the recipient's language, and Spanish validation messages."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import pytest
from babel.messages.pofile import read_po
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from directory.accounts.models import MemberRole
from directory.i18n import LANGUAGE_COOKIE, TRANSLATIONS
from tests.conftest import PASSWORD, AuthActions
from tests.factories import Factory
from tests.mail.helpers import last_mail_to

ES = {"Accept-Language": "es"}


def _lang(html: str) -> str:
    match = re.search(r'<html lang="([a-z]+)"', html)
    assert match, html[:200]
    return match.group(1)


class _Text(HTMLParser):
    """The text a reader sees (and hears: labels, alt and aria-label), scripts left out."""

    def __init__(self) -> None:
        super().__init__()
        self.parts: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("script", "style"):
            self._skip += 1
        for name, value in attrs:
            if name in ("alt", "aria-label", "placeholder", "data-label") and value:
                self.parts.append(value)

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style"):
            self._skip -= 1

    def handle_data(self, data: str) -> None:
        if not self._skip and data.strip():
            self.parts.append(" ".join(data.split()))


def visible_text(html: str) -> list[str]:
    parser = _Text()
    parser.feed(html)
    return parser.parts


def catalogue_ids() -> set[str]:
    with open(TRANSLATIONS / "es/LC_MESSAGES/messages.po", "rb") as source:
        catalogue = read_po(source, locale="es")
    ids = set()
    for message in catalogue:
        if message.id:
            ids.update(message.id if isinstance(message.id, tuple) else (message.id,))
    return ids


# --- which language ---------------------------------------------------------------------------

@pytest.mark.parametrize(("path", "english", "spanish"), [
    ("/login", "Sign in", "Iniciar sesión"),
    ("/apply", "Apply to join the network", "Solicite unirse a la red"),
    ("/password/forgot", "Forgot your password?", "¿Olvidó su contraseña?"),
    ("/no/such/page", "There is no page at this address",
     "No hay ninguna página en esta dirección"),
])
def test_accept_language_es_gives_spanish_pages(client: FlaskClient, path: str, english: str,
                                                spanish: str) -> None:
    english_page = client.get(path).get_data(as_text=True)
    spanish_page = client.get(path, headers=ES).get_data(as_text=True)
    assert _lang(english_page) == "en" and english in english_page
    assert _lang(spanish_page) == "es" and spanish in spanish_page
    assert english not in spanish_page
    assert "Saltar al contenido principal" in spanish_page  # the page furniture too


def test_the_404_page_is_spanish_with_its_status(client: FlaskClient) -> None:
    response = client.get("/no/such/page", headers=ES)
    assert response.status_code == 404
    assert "404 · No encontrado" in response.get_data(as_text=True)


def test_the_account_page_in_spanish(client: FlaskClient, auth: AuthActions,
                                     factory: Factory) -> None:
    user = factory.user(organization=factory.organization())
    auth.login(user.email)
    page = client.get("/account", headers=ES).get_data(as_text=True)
    assert _lang(page) == "es"
    for spanish in ("Su cuenta", "Cambie su contraseña", "Verificación en dos pasos",
                    "Dónde tiene sesiones iniciadas", "Persona que deriva", "Cerrar sesión"):
        assert spanish in page
    for english in ("Your account", "Change your password", "Where you are signed in",
                    "Sign out"):
        assert english not in page


@pytest.mark.parametrize("path", ["/login", "/apply"])
def test_no_wrapped_english_is_left_on_the_spanish_page(client: FlaskClient, path: str) -> None:
    """Every visible text of the page that is one of our English messages differs under es:
    a string that was wrapped but not translated, or not wrapped at all, shows here."""
    english = visible_text(client.get(path).get_data(as_text=True))
    spanish = set(visible_text(client.get(path, headers=ES).get_data(as_text=True)))
    ours = catalogue_ids()
    assert len(english) > 15
    # The English page's texts that are ours (our messages, or sentences of several words):
    # none may appear unchanged on the Spanish page, but for names that are the same in both.
    same_in_both = {"English", "Español", "Email", "Website", "https://",
                    "Tribal", "Hmong"}  # an organization kind and a language, alike in Spanish
    leftovers = [text for text in english
                 if text in spanish and text not in same_in_both
                 and (text in ours or (len(text.split()) >= 3 and path == "/login"))]
    assert not leftovers, leftovers


def test_the_switch_sets_the_cookie_and_goes_back(client: FlaskClient) -> None:
    response = client.post("/language", data={"language": "es", "next": "/password/forgot"})
    assert response.status_code == 302 and response.headers["Location"] == "/password/forgot"
    assert f"{LANGUAGE_COOKIE}=es" in response.headers["Set-Cookie"]
    page = client.get("/password/forgot").get_data(as_text=True)
    assert _lang(page) == "es" and "¿Olvidó su contraseña?" in page
    # The switch offers the way back, named in its own language.
    assert 'value="en" lang="en"' in page and ">English</button>" in page


@pytest.mark.parametrize("outside", ["https://evil.example/", "//evil.example/x", "/\\evil"])
def test_the_switch_never_sends_anyone_to_another_site(client: FlaskClient, outside: str) -> None:
    response = client.post("/language", data={"language": "es", "next": outside})
    assert response.status_code == 302 and response.headers["Location"] == "/"


def test_an_unknown_language_is_a_400_with_a_message(client: FlaskClient) -> None:
    response = client.post("/language", data={"language": "fr", "next": "/login"})
    assert response.status_code == 400
    assert "Choose English or Spanish." in response.get_data(as_text=True)
    assert LANGUAGE_COOKIE not in response.headers.get("Set-Cookie", "")
    spanish = client.post("/language", data={"language": "xx"}, headers=ES)
    assert spanish.status_code == 400
    assert "Elija inglés o español." in spanish.get_data(as_text=True)


def test_a_users_setting_beats_accept_language_and_the_switch_saves_it(
        client: FlaskClient, auth: AuthActions, factory: Factory, db: Session) -> None:
    user = factory.user(organization=factory.organization())
    user.language = "es"
    db.flush()
    auth.login(user.email)
    assert _lang(client.get("/account", headers={"Accept-Language": "en"}).get_data(
        as_text=True)) == "es"
    response = client.post("/language", data={"language": "en", "next": "/account"}, headers=ES)
    assert response.status_code == 302
    db.refresh(user)
    assert user.language == "en"
    assert _lang(client.get("/account", headers=ES).get_data(as_text=True)) == "en"


# --- the account's language and time zone ------------------------------------------------------

def test_preferences_save_language_and_time_zone(client: FlaskClient, auth: AuthActions,
                                                 factory: Factory, db: Session) -> None:
    user = factory.user(organization=factory.organization())
    auth.login(user.email)
    response = client.post("/account/preferences", data={
        "preferences-language": "es", "preferences-time_zone": "America/Los_Angeles"})
    assert response.status_code == 302
    db.refresh(user)
    assert (user.language, user.time_zone) == ("es", "America/Los_Angeles")
    page = client.get("/account").get_data(as_text=True)
    assert "Su idioma y su zona horaria quedan guardados." in page


@pytest.mark.parametrize(("field", "data", "english", "spanish"), [
    ("preferences-time_zone",
     {"preferences-language": "", "preferences-time_zone": "Mars/Olympus_Mons"},
     "Time zone: Choose a time zone from the list.",
     "Zona horaria: Elija una zona horaria de la lista."),
    ("preferences-language", {"preferences-language": "fr", "preferences-time_zone": ""},
     "Language: Not a valid choice.", "Idioma: Opción inválida."),
])
def test_preferences_refuse_an_unknown_zone_or_language(
        client: FlaskClient, auth: AuthActions, factory: Factory, db: Session, field: str,
        data: dict[str, str], english: str, spanish: str) -> None:
    user = factory.user(organization=factory.organization())
    auth.login(user.email)
    response = client.post("/account/preferences", data=data)
    page = response.get_data(as_text=True)
    assert response.status_code == 400
    assert english in page  # the error summary names the field
    spanish_page = client.post("/account/preferences", data=data, headers=ES).get_data(
        as_text=True)
    assert spanish in spanish_page
    assert field in spanish_page
    db.refresh(user)
    assert (user.language, user.time_zone) == (None, None)


def test_times_on_the_account_page_show_in_the_chosen_zone_and_language(
        client: FlaskClient, auth: AuthActions, factory: Factory, db: Session) -> None:
    user = factory.user(organization=factory.organization())
    user.time_zone = "America/Los_Angeles"
    db.flush()
    auth.login(user.email)
    english = client.get("/account").get_data(as_text=True)
    assert re.search(r"\d{1,2}:\d\d\s?[AP]M PST", english), "a session's time in PST"
    user.language = "es"
    db.flush()
    spanish = client.get("/account").get_data(as_text=True)
    month = r"(ene|feb|mar|abr|may|jun|jul|ago|sept?|oct|nov|dic)"
    assert re.search(rf"\d{{1,2}} {month} \d{{4}}, \d{{1,2}}:\d\d\s?[ap]\.\s?m\. PST", spanish)


# --- mail in the recipient's language ----------------------------------------------------------

def test_a_password_reset_mail_is_in_the_recipients_language(
        client: FlaskClient, factory: Factory, db: Session) -> None:
    spanish_user = factory.user()
    spanish_user.language = "es"
    english_user = factory.user()
    db.flush()
    # The request is in English: the Spanish reader still gets Spanish, and the reverse.
    client.post("/password/forgot", data={"email": spanish_user.email})
    client.post("/password/forgot", data={"email": english_user.email}, headers=ES)
    spanish_mail = last_mail_to(db, spanish_user.email)
    english_mail = last_mail_to(db, english_user.email)
    assert spanish_mail.subject == "Restablezca su contraseña del Directorio de aliados"
    assert f"Hola, {spanish_user.name}:" in spanish_mail.text_body
    assert "funciona una sola vez, durante 60 minutos" in spanish_mail.text_body
    assert "Reset your" not in spanish_mail.text_body
    assert english_mail.subject == "Reset your Partner Directory password"
    assert f"Hello {english_user.name}," in english_mail.text_body
    assert "Hola" not in english_mail.text_body


def test_an_email_change_writes_to_both_addresses_in_spanish(
        client: FlaskClient, auth: AuthActions, factory: Factory, db: Session) -> None:
    user = factory.user(organization=factory.organization())
    user.language = "es"
    db.flush()
    auth.login(user.email)
    response = client.post("/account/email", data={
        "email-new_email": "nuevo@test.example", "email-current_password": PASSWORD})
    assert response.status_code == 302
    confirm = last_mail_to(db, "nuevo@test.example")
    notice = last_mail_to(db, user.email)
    assert confirm.subject == "Confirme su nueva dirección de correo para el Directorio de aliados"
    assert "Pidió usar nuevo@test.example" in confirm.text_body
    assert notice.subject == "Se pidió cambiar su dirección de correo en el Directorio de aliados"
    assert "pidió cambiar su dirección de correo a nuevo@test.example" in notice.text_body


def test_an_invitation_to_a_new_address_is_in_the_language_of_the_inviting_page(
        client: FlaskClient, auth: AuthActions, factory: Factory, db: Session) -> None:
    organization = factory.organization()
    admin = factory.user(organization=organization, role=MemberRole.ADMIN)
    auth.login(admin.email)
    client.post(f"/organizations/{organization.slug}/invitations",
                data={"email": "nueva@test.example", "role": "referrer"}, headers=ES)
    client.post(f"/organizations/{organization.slug}/invitations",
                data={"email": "new@test.example", "role": "referrer"})
    assert "lo invita al Directorio de aliados" in last_mail_to(db, "nueva@test.example").subject
    assert "invites you to the Partner Directory" in last_mail_to(db, "new@test.example").subject


# --- validation in Spanish ---------------------------------------------------------------------

def test_sign_in_errors_are_spanish(client: FlaskClient, factory: Factory) -> None:
    empty = client.post("/login", data={"email": "", "password": ""}, headers=ES)
    page = empty.get_data(as_text=True)
    assert empty.status_code == 400
    assert "Hay un problema" in page and "Este campo es obligatorio." in page
    assert "This field is required." not in page
    user = factory.user()
    wrong = client.post("/login", data={"email": user.email, "password": "not it at all!"},
                        headers=ES)
    assert wrong.status_code == 401
    assert "Ese correo y esa contraseña no corresponden a ninguna cuenta." in wrong.get_data(
        as_text=True)


def test_application_errors_are_spanish(client: FlaskClient) -> None:
    response = client.post("/apply", data={"password": "short", "confirm": "other",
                                           "admin_email": "not an address"}, headers=ES)
    page = response.get_data(as_text=True)
    assert response.status_code == 400
    for spanish in ("Este campo es obligatorio.", "Elija un tipo.", "Elija un estado.",
                    "Ingrese una dirección de correo válida.", "Use al menos 12 caracteres",
                    "Las dos contraseñas no coinciden.", "Confírmelo, por favor."):
        assert spanish in page, spanish
    for english in ("This field is required.", "Choose a kind.", "The two passwords differ."):
        assert english not in page

