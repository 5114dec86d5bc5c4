"""The referral pages' flash messages and status labels in Spanish."""

from __future__ import annotations

import re

from flask.testing import FlaskClient

from tests.conftest import AuthActions
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
