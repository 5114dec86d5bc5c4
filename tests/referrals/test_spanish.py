"""The referral pages in Spanish: the forms and their errors, the referral page and its
timeline, the inbox and outbox, the API's refusals; referral mail in its recipient's language."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from directory.api.operations import create_token
from directory.db import utcnow
from directory.referrals.models import Referral
from directory.referrals.sweep import sweep
from tests.conftest import AuthActions
from tests.factories import Factory
from tests.mail.helpers import last_mail_to
from tests.referrals.conftest import Partners
from tests.referrals.test_views import _public_id, form

ES = {"Accept-Language": "es"}


def test_a_spanish_reader_gets_spanish_flashes_and_status(client: FlaskClient, auth: AuthActions,
                                                          partners: Partners) -> None:
    auth.login(partners.referrer.email)
    sent = client.post(f"/referrals/new?to={partners.receiver.slug}", headers=ES,
                       data=form(name="Zed Q", consent_items="name"))
    assert sent.status_code == 302, sent.text
    public_id = _public_id(sent.headers["Location"])
    page = client.get(f"/referrals/{public_id}", headers=ES).text
    assert "Derivación enviada a Receiving Shelter." in page
    assert "Referral sent to" not in page
    assert 'id="status">Enviada<' in page
    auth.logout()

    auth.login(partners.receiver_user.email)
    page = client.get(f"/referrals/{public_id}", headers=ES).text
    version = int(re.search(r'name="version" value="(\d+)"', page).group(1))
    client.post(f"/referrals/{public_id}/transitions", headers=ES,
                data={"to": "accepted", "version": version})
    assert client.post(f"/referrals/{public_id}/notes", headers=ES,
                       data={"body": "Cama 4."}).status_code == 302
    page = client.get(f"/referrals/{public_id}", headers=ES).text
    assert "Estado de la derivación: Aceptada." in page and "Nota agregada." in page
    assert 'id="status">Aceptada<' in page and "is now" not in page


def _send(client: FlaskClient, auth: AuthActions, partners: Partners, **changes: Any) -> str:
    """A referral sent by the referrer, in English; its public id."""
    auth.login(partners.referrer.email)
    sent = client.post(f"/referrals/new?to={partners.receiver.slug}", data=form(**changes))
    assert sent.status_code == 302, sent.text
    auth.logout()
    return _public_id(sent.headers["Location"])


def _version(page: str) -> int:
    return int(re.search(r'name="version" value="(\d+)"', page).group(1))


def test_the_referral_form_in_spanish(client: FlaskClient, auth: AuthActions,
                                      partners: Partners) -> None:
    auth.login(partners.referrer.email)
    page = client.get(f"/referrals/new?to={partners.receiver.slug}", headers=ES).text
    for spanish in ("Derivar a una persona atendida a Receiving Shelter",
                    "Comparta lo mínimo necesario.", "Servicio solicitado",
                    "Iniciales o seudónimo", "Rango de edad", "Necesidades",
                    "Riesgos para la seguridad", "Plan de traspaso", "Su persona de contacto",
                    "Datos identificatorios (opcionales, solo con consentimiento)",
                    "<strong>Consentimiento</strong> (obligatorio:",
                    "Propósito de compartir los datos", "Cómo se dio el consentimiento",
                    "El consentimiento termina el", "Enviar la derivación",
                    '<option value="written" >Escrito</option>',
                    '<option value="verbal" >Verbal</option>',
                    '<option value="guardian" >El tutor dio su consentimiento</option>',
                    '<option value="">No es menor de edad</option>',
                    '<option value="">Elija…</option>', "Urgente (respuesta en 24 h)",
                    "<strong>Para los informes de subvenciones</strong>",
                    '<option value="">No registrado</option>'):
        assert spanish in page, spanish
    for english in ("Refer a client", "Share the minimum necessary", "Service requested",
                    "Initials or alias", "How consent was given", ">Written<",
                    "The guardian consented", "Not a minor", "Choose…", "answer within",
                    "Send referral", "Hand-off plan", "Identifying details"):
        assert english not in page, english


def test_the_referral_form_s_errors_in_spanish(client: FlaskClient, auth: AuthActions,
                                               partners: Partners) -> None:
    auth.login(partners.referrer.email)
    refused = client.post(f"/referrals/new?to={partners.receiver.slug}", headers=ES,
                          data=form(alias="", consent_method=None, needs="x" * 2001,
                                    language="Klingon"))
    assert refused.status_code == 400
    page = refused.text
    assert "No se envió nada: corrija lo siguiente y vuelva a enviar la derivación." in page
    assert 'id="alias-error">Este campo es obligatorio.<' in page
    assert 'id="consent_method-error">Elija una de las opciones.<' in page
    assert 'id="needs-error">Use como máximo 2000 caracteres.<' in page
    assert 'id="language-error">Elija un idioma de la lista.<' in page
    for english in ("This field is required.", "Choose one of the options.",
                    "Use at most", "Choose a language from the list.", "Nothing was sent"):
        assert english not in page, english

    # The operation's own refusals, past the schema: the consent's end date, a minor's basis.
    past = client.post(f"/referrals/new?to={partners.receiver.slug}", headers=ES,
                       data=form(age_range="12-17", consent_expires_on="2020-01-01",
                                 name="Zed Q"))
    assert past.status_code == 400
    assert "El consentimiento debe terminar después de hoy." in past.text
    assert "registre el consentimiento del tutor o la base legal" in past.text
    assert "agregue nombre o no los incluya" in past.text
    assert "The consent must end after today." not in past.text
    assert "add name" not in past.text


def test_the_referral_page_and_its_timeline_in_spanish(client: FlaskClient, auth: AuthActions,
                                                       partners: Partners) -> None:
    public_id = _send(client, auth, partners, name="Zed Q", consent_items="name")
    auth.login(partners.receiver_user.email)
    page = client.get(f"/referrals/{public_id}", headers=ES).text  # viewed
    assert client.post(f"/referrals/{public_id}/transitions", headers=ES, data={
        "to": "accepted", "version": _version(page)}).status_code == 302
    client.post(f"/referrals/{public_id}/notes", headers=ES, data={"body": "Cama 4."})
    auth.logout()
    auth.login(partners.referrer.email)
    assert client.post(f"/referrals/{public_id}/consent/revoke").status_code == 302

    page = client.get(f"/referrals/{public_id}", headers=ES).text
    user = partners.referrer.name
    receiver = partners.receiver_user.name
    timeline = page[page.index('id="timeline"'):page.index('id="notes"')]
    assert f"{user} creó la derivación." in timeline
    assert f"{user}: Borrador → <strong>Enviada</strong>" in timeline
    assert f"{receiver} la abrió por primera vez." in timeline
    assert f"{receiver}: Enviada → <strong>Aceptada</strong>" in timeline
    assert f"{user} revocó el consentimiento de la persona atendida." in timeline
    for spanish in ("Derivación a Receiving Shelter", "Historial", "Notas seguras",
                    "Cama 4.", "<dt>Para</dt><dd>Receiving Shelter</dd>",
                    "<dt>Vista por la organización aliada</dt>", "<strong>Revocado</strong> el ",
                    "Forma: Escrito.", "Se comparte: Nombre.", "Registrado el ",
                    "Próximos pasos", "Retirar la derivación", "Agregar nota"):
        assert spanish in page, spanish
    # The moments are the reader's: Spanish months, never an ISO date or a raw timestamp.
    assert re.search(r"\d{1,2} (ene|feb|mar|abr|may|jun|jul|ago|sept?|oct|nov|dic) \d{4}",
                     timeline)
    assert not re.search(r"\d{4}-\d\d-\d\d", re.sub(r'datetime="[^"]*"', "", timeline))
    for english in ("created the referral", "opened it for the first time", "Timeline",
                    "revoked the client", "Secure notes", "Referral to", "Viewed by",
                    "Recorded", "Written consent", "draft →", "sent →", "Next steps"):
        assert english not in page, english

    english = client.get(f"/referrals/{public_id}").text  # English stays the default
    assert f"{user} created the referral." in english and "Timeline" in english
    assert f"{receiver}: Sent → <strong>Accepted</strong>" in english
    assert f"{user} revoked the client's consent." in english
    assert "How it was given: Written." in english and "Historial" not in english


def test_the_automatic_expiry_and_a_decline_read_in_spanish(
        client: FlaskClient, auth: AuthActions, partners: Partners, db: Session) -> None:
    public_id = _send(client, auth, partners)
    referral = db.scalar(select(Referral).where(Referral.public_id == public_id))
    referral.response_due_at = utcnow() - dt.timedelta(minutes=1)
    db.flush()
    sweep()
    auth.login(partners.referrer.email)
    page = client.get(f"/referrals/{public_id}", headers=ES).text
    assert "El directorio (automático): Enviada → <strong>Vencida</strong>" in page
    assert "the directory (automatic)" not in page and "automatic" not in page

    declined = _send(client, auth, partners)
    auth.login(partners.receiver_user.email)
    page = client.get(f"/referrals/{declined}", headers=ES).text
    assert "Rechazar la derivación" in page and "Motivo" in page
    assert '<option value="no_capacity" >Sin plazas disponibles</option>' in page
    missing = client.post(f"/referrals/{declined}/transitions", headers=ES,
                          data={"to": "declined", "version": _version(page)})
    assert missing.status_code == 400
    assert "Falta información obligatoria." in missing.text
    assert 'id="reason-error">Este campo es obligatorio.<' in missing.text
    assert "Some required information is missing." not in missing.text


def test_the_inbox_and_the_outbox_in_spanish(client: FlaskClient, auth: AuthActions,
                                             partners: Partners) -> None:
    _send(client, auth, partners)
    auth.login(partners.receiver_user.email)
    inbox = client.get("/referrals/inbox", headers=ES).text
    for spanish in ("Recibidas: derivaciones recibidas", "Filtros", "Cualquier fecha",
                    ">1 día<", ">7 días<", "<th>De</th>", "<th>Estado</th>",
                    "<th>Respuesta antes de</th>", 'data-label="De">Sending Outreach<',
                    ">Enviada", ">no<", "Nueva solicitud de cupo"):
        assert spanish in inbox, spanish
    for english in ("Inbox: referrals received", "Any time", "7 days", "Answer due",
                    "<th>From</th>", "Filter<", ">Sent"):
        assert english not in inbox, english
    empty = client.get("/referrals/inbox?status=declined", headers=ES).text
    assert "No hay derivaciones con estos filtros." in empty
    auth.logout()

    auth.login(partners.referrer.email)
    outbox = client.get("/referrals/outbox", headers=ES).text
    assert "Enviadas: derivaciones enviadas" in outbox and "<th>Para</th>" in outbox
    assert 'data-label="Para">Receiving Shelter<' in outbox
    assert "Outbox: referrals sent" not in outbox and "<th>To</th>" not in outbox
    english = client.get("/referrals/outbox").text
    assert "Outbox: referrals sent" in english and "<th>To</th>" in english


def test_referral_mail_is_in_each_recipient_s_language(
        client: FlaskClient, auth: AuthActions, partners: Partners, db: Session) -> None:
    partners.receiver_user.language = "es"
    db.flush()
    # The sender reads the site in English: the Spanish reader is told in Spanish, the
    # receiving admin with no setting in English.
    public_id = _send(client, auth, partners)
    spanish = last_mail_to(db, partners.receiver_user.email)
    assert spanish.subject == "Nueva derivación para Receiving Shelter"
    assert "Nueva derivación para Receiving Shelter (urgente, " in spanish.text_body
    assert "Ábrala en el directorio (debe iniciar sesión):" in spanish.text_body
    assert f"/referrals/{public_id}" in spanish.text_body
    assert "New referral" not in spanish.text_body and "Open it" not in spanish.text_body
    english = last_mail_to(db, partners.receiver_admin.email)
    assert english.subject == "New referral for Receiving Shelter"
    assert "Open it in the directory (sign-in required):" in english.text_body
    assert "Nueva" not in english.text_body

    # The reverse: the receiver answers in Spanish, the sender with no setting hears English.
    auth.login(partners.receiver_user.email)
    page = client.get(f"/referrals/{public_id}", headers=ES).text
    client.post(f"/referrals/{public_id}/transitions", headers=ES,
                data={"to": "accepted", "version": _version(page)})
    notices = client.get("/referrals/notifications", headers=ES).text
    assert "Nueva derivación para Receiving Shelter (urgente, " in notices
    assert "Marcar todo como leído" in notices
    auth.logout()
    answer = last_mail_to(db, partners.referrer.email)
    assert answer.subject == "Referral accepted by Receiving Shelter"
    assert "Referral accepted by Receiving Shelter (urgent, " in answer.text_body
    assert "aceptada" not in answer.text_body


def test_an_api_refusal_reads_in_the_request_s_language(
        client: FlaskClient, factory: Factory, partners: Partners) -> None:
    _, secret = create_token(partners.referrer, "test", None)
    headers = {"Authorization": f"Bearer {secret}"}
    data = factory.referral_data(partners.receiver, alias="",
                                 consent={"expires_on": "2020-01-01"})
    spanish = client.post("/api/v1/referrals", json=data, headers={**headers, **ES})
    english = client.post("/api/v1/referrals", json=data, headers=headers)
    assert spanish.status_code == english.status_code == 400
    assert spanish.get_json()["error"]["code"] == english.get_json()["error"]["code"]
    assert spanish.get_json()["error"]["fields"]["alias"] == ["Este campo es obligatorio."]
    assert english.get_json()["error"]["fields"]["alias"] == ["This field is required."]

    late = factory.referral_data(partners.receiver, consent={"expires_on": "2020-01-01"})
    refused = client.post("/api/v1/referrals", json=late, headers={**headers, **ES})
    assert refused.status_code == 400
    error = refused.get_json()["error"]
    assert error["message"] == "El registro de consentimiento no está completo."
    assert error["fields"]["consent.expires_on"] == [
        "El consentimiento debe terminar después de hoy."]
