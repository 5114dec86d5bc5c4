"""The audit log in Spanish: every known action's label, the details' labels and words, stored
moments in the reader's zone and language, and the page with its filters."""

from __future__ import annotations

import re

import pytest
from flask import Flask
from flask.testing import FlaskClient
from flask_babel import force_locale
from sqlalchemy.orm import Session

from directory.accounts.models import User
from directory.audit.models import AuditAction, action_label
from directory.audit.operations import record
from directory.audit.wording import details_text
from directory.referrals import operations as ops
from tests.audit.test_audit import coordinator  # noqa: F401 (the signed-in coordinator)
from tests.factories import Factory

ES = {"Accept-Language": "es"}
MONTH = r"(ene|feb|mar|abr|may|jun|jul|ago|sept?|oct|nov|dic)"


@pytest.mark.parametrize("action,details,words", [
    ("sign_in", {"remember": False, "second_factor": "totp"},
     "Recordarme: no; Segundo factor: código de la aplicación de autenticación"),
    ("sign_in", {"remember": True, "second_factor": None, "renewal": True},
     "Recordarme: sí; Segundo factor: ninguno; Sesión renovada: sí"),
    ("referral_client_details_viewed",
     {"referral": "abc", "items": ["alias", "safety_concerns", "name"], "notes": 2},
     "Derivación: abc; Datos de la persona atendida mostrados: alias, riesgos de seguridad, "
     "nombre; Notas leídas: 2"),
    ("role_changed", {"from": "referrer", "to": "admin"},
     "Rol antes: Persona que deriva; Rol después: Administrador(a) de la organización"),
    ("referral_accepted", {"from": "sent"}, "Estado anterior: enviada"),
    ("access_denied", {"permission": "view_audit_log", "path": "/admin/audit"},
     "Permiso: ver el registro de auditoría; Página: /admin/audit"),
    ("listing_updated", {"fields": ["description", "accepting_referrals", "min_age"]},
     "Campos cambiados: descripción, reciben derivaciones, edad mínima atendida"),
    ("user_created", {"via": "command line", "coordinator": True},
     "Hecho por: línea de comandos; Coordinador(a) de la red: sí"),
    ("api_token_revoked", {"reason": "account suspended"}, "Motivo: cuenta suspendida"),
    ("partnership_agreement_updated", {"on_file": True, "signed_on": "2025-11-03"},
     "MOU en archivo: sí; Firmado el: 3 nov 2025"),
    ("listings_imported", {"file": "a.csv", "created": 3, "rejected": 0},
     "Archivo: a.csv; Creado: 3; Rechazadas: 0"),
])
def test_details_read_in_spanish(app: Flask, action: str, details: dict, words: str) -> None:
    with app.test_request_context(), force_locale("es_US"):
        assert details_text(action, details) == words


def test_stored_moments_read_in_the_reader_s_language(app: Flask) -> None:
    details = {"hour": "2026-12-02T15:00:00+00:00", "count": 4,
               "last_at": "2026-12-02T15:42:10+00:00"}
    with app.test_request_context():
        english = details_text("access_denied_repeated", details)
        with force_locale("es_US"):
            spanish = details_text("access_denied_repeated", details)
    assert re.fullmatch(r"Hour: Dec 2, 2026, 3:00\sPM UTC; Refusals: 4; "
                        r"Last at: Dec 2, 2026, 3:42\sPM UTC", english), english
    assert re.fullmatch(r"Hora: 2 dic 2026, 3:00\sp\.\s?m\. UTC; Rechazos: 4; "
                        r"Última vez: 2 dic 2026, 3:42\sp\.\s?m\. UTC", spanish), spanish
    with app.test_request_context():
        assert details_text("x", {"hour": "not a moment"}) == "Hour: not a moment"


def test_every_known_action_has_a_label_of_its_own_in_spanish(app: Flask) -> None:
    with app.test_request_context():
        english = {action: action_label(action) for action in AuditAction}
        with force_locale("es_US"):
            spanish = {action: action_label(action) for action in AuditAction}
    same = [action for action in AuditAction if english[action] == spanish[action]]
    assert not same
    assert spanish[AuditAction.REFERRAL_ACCEPTED] == "Derivación aceptada"
    assert spanish[AuditAction.ORGANIZATION_SUSPENDED] == "Organización suspendida"
    assert (english[AuditAction.SIGN_IN], spanish[AuditAction.SIGN_IN]) == (
        "Sign in", "Inicio de sesión")  # an event, not the button's command
    # An action recorded by a domain with no label here reads as its code, in any language.
    with app.test_request_context(), force_locale("es_US"):
        assert action_label("made_up_thing") == "Made up thing"


def test_the_audit_page_in_spanish(client: FlaskClient, coordinator: User,  # noqa: F811
                                   factory: Factory, db: Session) -> None:
    sender = factory.organization(name="Sender Org")
    receiver = factory.organization(name="Receiver Org")
    referrer = factory.user(organization=sender)
    answerer = factory.user(organization=receiver)
    referral = factory.referral(referrer, receiver, alias="Secret Alias")
    ops.transition(answerer, referral, {"to": "accepted", "version": referral.version})
    record("listings_imported", actor=coordinator, details={"file": "a.csv", "created": 2})
    page = client.get("/admin/audit", headers=ES).text
    for spanish in ("<h1>Registro de auditoría</h1>", "Cualquier acción", ">Filtrar<",
                    "Correo de quien actuó", '<option value="referral_accepted">Derivación '
                    "aceptada</option>", ">Cuándo<", ">Detalles<", "Archivo: a.csv; Creado: 2",
                    ">Fichas importadas</td>"):
        assert spanish in page, spanish
    for english in ("Audit log", "Any action", "Actor email", ">When<", ">Referral accepted<",
                    "Listings imported"):
        assert english not in page, english
    assert re.search(rf"<time[^>]*>\d{{1,2}} {MONTH} \d{{4}}, \d{{1,2}}:\d\d", page)
    accepted = client.get("/admin/audit?action=referral_accepted", headers=ES).text
    assert "Estado anterior: enviada" in accepted and "1 evento<" in accepted
    assert "Status before" not in accepted
    assert "Secret Alias" not in page


def test_wrong_filters_are_refused_in_spanish(client: FlaskClient,
                                              coordinator: User) -> None:  # noqa: F811
    response = client.get("/admin/audit?since=yesterday", headers=ES)
    assert response.status_code == 400
    assert "Corrija los filtros de arriba." in response.text
    assert "Correct the filters" not in response.text
