"""Input no field can hold is refused before it reaches the database, on every backend."""

from __future__ import annotations

import pytest
from flask.testing import FlaskClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from directory.accounts.models import User
from tests.conftest import AuthActions
from tests.factories import Factory


@pytest.mark.parametrize("url", [
    "/organizations?q=a%00b", "/organizations/a%00b", "/admin/organizations?q=a%00b",
    "/admin/users?q=a%00b", "/admin/audit?actor=a%00b", "/admin/audit?a%00=b",
    "/organizations/x%00/members",
])
def test_nul_characters_in_urls_are_refused(url: str, client: FlaskClient, auth: AuthActions,
                                            factory: Factory) -> None:
    auth.login(factory.user(coordinator=True).email)
    response = client.get(url)
    assert response.status_code == 400
    assert "NUL character" in response.get_data(as_text=True)


@pytest.mark.parametrize("field", ["name", "description", "city", "admin_name", "statement"])
def test_nul_characters_in_forms_are_refused(field: str, client: FlaskClient,
                                             db: Session) -> None:
    before = db.scalar(select(func.count()).select_from(User))
    response = client.post("/apply", data={field: "Riverbend\x00Shelter"})
    assert response.status_code == 400
    assert "NUL character" in response.get_data(as_text=True)
    assert db.scalar(select(func.count()).select_from(User)) == before
