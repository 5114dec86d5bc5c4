"""The coordinators' pages in Spanish: headings, tables, forms, their errors and flashes, for a
browser that asks for Spanish and for a coordinator whose setting is Spanish; and the
membership mails in each recipient's language, whatever the coordinator reads."""

from __future__ import annotations

import io
import re

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from directory.accounts.models import MemberRole, MembershipApplication, User
from directory.admin import operations as admin_operations
from directory.audit.models import AuditEvent
from directory.datakey import DataKeyError
from directory.orgs.models import MembershipStatus, Organization
from tests.admin.test_views import APPLICANT, submit
from tests.conftest import AuthActions
from tests.factories import Factory
from tests.hsds.test_spreadsheet import MAPPING, SPREADSHEET
from tests.mail.helpers import last_mail_to

ES = {"Accept-Language": "es"}
MONTH = r"(ene|feb|mar|abr|may|jun|jul|ago|sept?|oct|nov|dic)"


@pytest.fixture()
def coordinator(factory: Factory, auth: AuthActions) -> User:
    user = factory.user(coordinator=True)
    auth.login(user.email)
    return user


def _page(client: FlaskClient, path: str) -> str:
    response = client.get(path, headers=ES)
    assert response.status_code == 200, path
    return response.get_data(as_text=True)


def _spanish_and_not_english(page: str, spanish: list[str], english: list[str]) -> None:
    missing = [text for text in spanish if text not in page]
    left = [text for text in english if text in page]
    assert not missing and not left, (missing, left)


def test_the_overview_and_its_navigation(client: FlaskClient, coordinator: User) -> None:
    submit()
    page = _page(client, "/admin/")
    _spanish_and_not_english(
        page, ["<h1>Coordinación</h1>", "solicitudes abiertas", "organizaciones activas",
               "fichas activas nunca verificadas", "cuentas de usuario", "Registro de auditoría",
               ">Solicitudes<", ">Personas usuarias<", ">Importar<"],
        ["open applications", "active organizations", "user accounts", "Audit log",
         ">Applications<", ">Users<"])


def test_the_application_queue_and_an_application(client: FlaskClient,
                                                  coordinator: User) -> None:
    application = submit(email_verified=False)
    queue = _page(client, "/admin/applications")
    _spanish_and_not_english(
        queue, ["Esperando una decisión", ">Solicitante<", "correo sin confirmar",
                "Lighthouse Legal Aid"],
        ["Waiting for a decision", ">Applicant<", "email not confirmed"])
    detail = _page(client, f"/admin/applications/{application.id}")
    _spanish_and_not_english(
        detail, ["Solicitud de Lighthouse Legal Aid", "Por qué quieren unirse",
                 "Pedir más información", "Registrar la decisión",
                 "Pregunta o motivo (se envía al solicitante)"],
        ["Why they want to join", "Ask for more information", "Record the decision",
         "Question or reason"])
    assert re.search(rf"enviada el <time[^>]*>\d{{1,2}} {MONTH} \d{{4}}, ", detail)


def test_a_decision_s_validation_error_and_an_error_of_the_operation_in_spanish(
        client: FlaskClient, coordinator: User) -> None:
    application = submit(email_verified=False)
    unchosen = client.post(f"/admin/applications/{application.id}/decision", headers=ES,
                           data={"decision": "", "message": ""})
    assert unchosen.status_code == 400
    assert "Elija una decisión." in unchosen.text and "Choose a decision" not in unchosen.text
    unconfirmed = client.post(f"/admin/applications/{application.id}/decision", headers=ES,
                              data={"decision": "approve"})
    assert unconfirmed.status_code == 400
    assert f"{APPLICANT} todavía no ha confirmado su dirección de correo" in unconfirmed.text
    assert "has not confirmed" not in unconfirmed.text
    empty = client.post(f"/admin/applications/{application.id}/decision", headers=ES,
                        data={"decision": "decline", "message": " "})
    assert empty.status_code == 400 and "El motivo" in empty.text


def test_an_approval_flashes_in_spanish_and_mails_the_applicant_in_english(
        client: FlaskClient, coordinator: User, db: Session) -> None:
    application = submit()
    response = client.post(f"/admin/applications/{application.id}/decision", headers=ES,
                           data={"decision": "approve"}, follow_redirects=True)
    assert "Lighthouse Legal Aid ahora es miembro activo de la red." in response.text
    assert "is now an active member" not in response.text
    # The applicant has no setting (their application was made in English): English mail.
    mail = last_mail_to(db, APPLICANT)
    assert mail.subject == "Lighthouse Legal Aid is a member of the Partner Directory"
    assert "Welcome: Lighthouse Legal Aid is now a member" in mail.text_body
    assert "Hola" not in mail.text_body


@pytest.mark.parametrize(("decision", "message", "subject", "body"), [
    ("approve", "", "Lighthouse Legal Aid es miembro del Directorio de aliados",
     "Bienvenida: Lighthouse Legal Aid ahora es miembro del Directorio de aliados."),
    ("decline", "Fuera de la zona de la red.", "Su solicitud para Lighthouse Legal Aid",
     "Los coordinadores de la red rechazaron la solicitud de Lighthouse Legal Aid por este "
     "motivo:"),
    ("request_info", "¿Atienden a menores?",
     "Una pregunta sobre su solicitud para Lighthouse Legal Aid",
     "Los coordinadores de la red tienen una pregunta sobre la solicitud de Lighthouse Legal "
     "Aid:"),
])
def test_a_spanish_applicant_gets_the_decision_in_spanish_from_an_english_coordinator(
        client: FlaskClient, coordinator: User, db: Session, decision: str, message: str,
        subject: str, body: str) -> None:
    application = submit()
    application.applicant.language = "es"
    db.flush()
    response = client.post(f"/admin/applications/{application.id}/decision",
                           headers={"Accept-Language": "en"},
                           data={"decision": decision, "message": message},
                           follow_redirects=True)
    assert response.status_code == 200
    assert "Hola" not in response.text  # the coordinator's page stays English
    mail = last_mail_to(db, APPLICANT)
    assert mail.subject == subject
    assert mail.text_body.startswith("Hola:")
    assert body in mail.text_body and (message or "Inicie sesión") in mail.text_body
    assert "Hello" not in mail.text_body and "coordinators" not in mail.text_body


def test_suspension_and_reinstatement_mail_each_admin_in_their_language(
        client: FlaskClient, coordinator: User, factory: Factory, db: Session) -> None:
    organization = factory.organization(name="Casa Segura")
    spanish_admin = factory.user(organization=organization, role=MemberRole.ADMIN)
    spanish_admin.language = "es"
    english_admin = factory.user(organization=organization, role=MemberRole.ADMIN)
    db.flush()
    client.post(f"/admin/organizations/{organization.slug}/status", headers=ES,
                data={"action": "suspend", "reason": "Datos sin revisar."})
    spanish = last_mail_to(db, spanish_admin.email)
    english = last_mail_to(db, english_admin.email)
    assert spanish.subject == "Casa Segura está suspendida en el Directorio de aliados"
    assert "suspendieron a Casa Segura del Directorio de aliados" in spanish.text_body
    assert "no se pierde ninguno de sus datos" in spanish.text_body
    assert english.subject == "Casa Segura is suspended from the Partner Directory"
    assert "While suspended, your organization" in english.text_body
    page = client.post(f"/admin/organizations/{organization.slug}/status", headers=ES,
                       data={"action": "reinstate"}, follow_redirects=True).text
    assert "Casa Segura ahora está activa." in page and "is now active" not in page
    assert last_mail_to(db, spanish_admin.email).subject == \
        "Casa Segura vuelve al Directorio de aliados"
    assert last_mail_to(db, english_admin.email).subject == \
        "Casa Segura is back in the Partner Directory"


def test_the_organizations_and_an_organization(client: FlaskClient, coordinator: User,
                                               factory: Factory) -> None:
    organization = factory.organization(name="Refugio Norte")
    factory.user(organization=organization, role=MemberRole.ADMIN)
    listing = _page(client, "/admin/organizations")
    _spanish_and_not_english(
        listing, ["Cualquier estado", ">Activa<", ">Suspendida<", ">Filtrar<", "1 organización<",
                  ">Verificación<"],
        ["Any status", ">Active<", ">Filter<", ">Verification<"])
    record = _page(client, f"/admin/organizations/{organization.slug}")
    _spanish_and_not_english(
        record, ["Acuerdo de colaboración (MOU)", "Todavía no hay nada registrado.",
                 "Situación en la red", "Suspender Refugio Norte", "Miembros e invitaciones",
                 "Revisé esta ficha hoy: marcarla como verificada", "Sí, en archivo"],
        ["Partnership agreement (MOU)", "Nothing recorded yet", "Standing in the network",
         "Suspend Refugio Norte", "I checked this listing today"])


def test_an_organization_s_form_errors_and_flashes_in_spanish(
        client: FlaskClient, coordinator: User, factory: Factory) -> None:
    organization = factory.organization(name="Refugio Norte")
    path = f"/admin/organizations/{organization.slug}"
    future = client.post(f"{path}/agreement", headers=ES,
                         data={"on_file": "yes", "signed_on": "2999-01-01", "note": ""})
    assert future.status_code == 400
    assert "La fecha del acuerdo está en el futuro." in future.text
    assert "in the future" not in future.text
    unsaid = client.post(f"{path}/agreement", headers=ES, data={"note": ""})
    assert "Indique si hay un acuerdo en archivo." in unsaid.text
    recorded = client.post(f"{path}/agreement", headers=ES, follow_redirects=True,
                           data={"on_file": "yes", "signed_on": "2025-11-03", "note": ""}).text
    assert "El acuerdo de colaboración con Refugio Norte quedó registrado." in recorded
    assert "En archivo, firmado el 2025-11-03." in recorded
    verified = client.post(f"{path}/verify", headers=ES, follow_redirects=True).text
    assert "La ficha de Refugio Norte queda verificada con fecha de hoy." in verified
    assert re.search(rf"Verificada el <time[^>]*>\d{{1,2}} {MONTH} \d{{4}}, ", verified)
    assert "is verified as of today" not in verified


def test_an_operation_s_refusal_in_spanish(client: FlaskClient, coordinator: User,
                                           factory: Factory, db: Session) -> None:
    organization = factory.organization(name="Refugio Norte")
    organization.status = MembershipStatus.DECLINED
    db.flush()
    refused = client.post(f"/admin/organizations/{organization.slug}/verify", headers=ES)
    assert refused.status_code == 400
    assert "No se puede verificar la ficha de una organización rechazada." in refused.text
    assert "Membresía rechazada." in refused.text


def test_the_users_and_a_user(client: FlaskClient, coordinator: User, factory: Factory,
                              db: Session) -> None:
    someone = factory.user(organization=factory.organization())
    listing = _page(client, "/admin/users")
    _spanish_and_not_english(
        listing, ["Nombre o correo", "Coordinador(a) de la red", ">Dos pasos<", ">Activa<",
                  "personas usuarias"],
        ["Name or email", "Network coordinator", ">Two-factor<", ">Active<"])
    detail = _page(client, f"/admin/users/{someone.id}")
    _spanish_and_not_english(
        detail, ["Correo confirmado", "Verificación en dos pasos: desactivada",
                 "Sesiones abiertas: 0", "Lo que hizo esta persona", "Suspender esta cuenta"],
        ["Email confirmed", "Two-factor sign-in: off", "Open sessions", "What this user did",
         "Suspend this account"])


def test_a_user_s_flashes_and_refusals_in_spanish(client: FlaskClient, coordinator: User,
                                                  factory: Factory) -> None:
    someone = factory.user(organization=factory.organization())
    own = client.post(f"/admin/users/{coordinator.id}/status", headers=ES,
                      data={"action": "suspend", "reason": "Prueba."})
    assert own.status_code == 400 and "No puede suspender su propia cuenta." in own.text
    suspended = client.post(f"/admin/users/{someone.id}/status", headers=ES,
                            follow_redirects=True,
                            data={"action": "suspend", "reason": "Teléfono perdido."}).text
    assert f"{someone.email} está suspendida." in suspended and "is suspended" not in suspended
    assert "Reactivar esta cuenta" in suspended
    ended = client.post(f"/admin/users/{someone.id}/sessions/end", headers=ES,
                        follow_redirects=True).text
    assert f"Todas las sesiones de {someone.email} terminaron." in ended


def test_a_coordinator_whose_setting_is_spanish_reads_spanish_without_asking(
        client: FlaskClient, coordinator: User, db: Session) -> None:
    coordinator.language = "es"
    db.flush()
    page = client.get("/admin/applications", headers={"Accept-Language": "en"}).text
    assert "Esperando una decisión" in page and "Waiting for a decision" not in page
    audit = client.get("/admin/audit", headers={"Accept-Language": "en"}).text
    assert "<h1>Registro de auditoría</h1>" in audit and "Any action" not in audit


def test_the_import_pages(client: FlaskClient, coordinator: User) -> None:
    upload = _page(client, "/admin/import-csv")
    _spanish_and_not_english(
        upload, ["Importar una hoja de cálculo",
                 "Suba un archivo CSV con una organización por fila",
                 "Archivo de correspondencia (TOML o JSON)",
                 "Ver la vista previa de la importación"],
        ["Import a spreadsheet", "Upload a CSV file", "Preview the import"])
    missing = client.post("/admin/import-csv/preview", headers=ES, data={"mapping": ""},
                          content_type="multipart/form-data")
    assert missing.status_code == 400
    assert "Elija el archivo CSV que desea importar." in missing.text
    preview = client.post("/admin/import-csv/preview", headers=ES, data={
        "spreadsheet": (io.BytesIO(SPREADSHEET.read_bytes()), "partners.csv"),
        "mapping": MAPPING.read_text()}, content_type="multipart/form-data")
    assert preview.status_code == 200
    _spanish_and_not_english(
        preview.text, ["Vista previa: partners.csv", "Todavía no se ha guardado nada.",
                       "3 organizaciones — se crearían 3", "Las primeras filas",
                       "Importar 3 organizaciones", "Empezar de nuevo"],
        ["Nothing has been written yet", "would be created", "The first rows", "Start again"])
    altered = client.post("/admin/import-csv/confirm", headers=ES,
                          data={"content": "not base64!", "name": "x.csv", "mapping": "{}"})
    assert "El formulario de importación fue alterado" in altered.text


def test_an_english_reader_keeps_english(client: FlaskClient, coordinator: User,
                                         db: Session) -> None:
    application: MembershipApplication = submit()
    page = client.get(f"/admin/applications/{application.id}").text
    assert "Why they want to join" in page and "Por qué" not in page
    organization = db.get(Organization, application.organization_id)
    assert organization is not None
    assert "Standing in the network" in client.get(
        f"/admin/organizations/{organization.slug}").text


def test_the_unavailable_page_in_spanish(client: FlaskClient, coordinator: User,
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    def unreadable() -> None:
        raise DataKeyError("the data key cannot open stored data")

    monkeypatch.setattr(admin_operations, "network_overview", unreadable)
    response = client.get("/admin/", headers=ES)
    assert response.status_code == 503
    page = response.get_data(as_text=True)
    assert '<html lang="es"' in page and "503 · No disponible por un momento" in page
    assert "Volver a la página de inicio" in page
    assert "Unavailable for a moment" not in page and "Back to the start page" not in page
    assert "Cerrar sesión" not in page  # no navigation: it would ask the database again


BAD_SHEET = (b"Agency,Type,Lat,Lon\n"
             b"Casa Segura,Nonprofit,,\n"
             b"Refugio Norte,Nonprofit,95,-97.7\n"
             b",Nonprofit,,\n")
BAD_SHEET_MAPPING = ('[columns]\nname = "Agency"\nkind = "Type"\nlatitude = "Lat"\n'
                     'longitude = "Lon"\n')
ENGLISH_PROBLEMS = ["bad coordinates", "is outside -90..90", "location not imported",
                    "name is required", "Unknown listing fields", "is not a .csv file",
                    "Spreadsheet (CSV with a column mapping)"]


def _upload(client: FlaskClient, content: bytes, name: str, mapping: str) -> tuple[int, str]:
    response = client.post("/admin/import-csv/preview", headers=ES, data={
        "spreadsheet": (io.BytesIO(content), name), "mapping": mapping},
        content_type="multipart/form-data")
    return response.status_code, response.get_data(as_text=True)


def test_a_spreadsheet_s_problems_in_spanish(client: FlaskClient, coordinator: User,
                                             db: Session) -> None:
    status, page = _upload(client, BAD_SHEET, "partners.csv", BAD_SHEET_MAPPING)
    assert status == 200, page
    _spanish_and_not_english(page, [
        "Hoja de cálculo (CSV con correspondencia de columnas)",
        "ubicación no importada (su organización sí, sin ella): coordenadas incorrectas: la "
        "latitud 95 está fuera de -90..90", "name es obligatorio"], ENGLISH_PROBLEMS)
    form = {name: re.search(rf'name="{name}" type="hidden" value="([^"]*)"', page)
            for name in ("content", "name", "mapping")}
    assert all(form.values()), form
    report = client.post("/admin/import-csv/confirm", headers=ES, data={
        name: match.group(1).replace("&#34;", '"').replace("&quot;", '"').replace("&amp;", "&")
        for name, match in form.items() if match})
    _spanish_and_not_english(report.text, ["2 creadas", "name es obligatorio",
                                           "coordenadas incorrectas"], ENGLISH_PROBLEMS)
    audit = db.scalars(select(AuditEvent).where(AuditEvent.action == "listings_imported")).one()
    assert audit.details["format"] == "spreadsheet"  # not the uploader's words
    status, page = _upload(client, BAD_SHEET, "partners.csv",
                           BAD_SHEET_MAPPING + 'nombre = "Agency"\n')
    assert status == 400
    _spanish_and_not_english(page, ["Campos de la ficha desconocidos en la correspondencia: "
                                    "nombre."], ENGLISH_PROBLEMS)
    status, page = _upload(client, BAD_SHEET, "partners.xlsx", BAD_SHEET_MAPPING)
    assert status == 400
    _spanish_and_not_english(page, ["partners.xlsx no es un archivo .csv: guarde la hoja de "
                                    "cálculo como CSV."], ENGLISH_PROBLEMS)
    status, page = _upload(client, b"\x00\x01PK", "partners.csv", BAD_SHEET_MAPPING)
    assert status == 400
    _spanish_and_not_english(page, ["partners.csv no es un archivo CSV (contiene datos "
                                    "binarios)"], ["is not a CSV file"])
