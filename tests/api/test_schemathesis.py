"""Property-based testing: schemathesis generates requests from /api/v1/openapi.json and runs
them in-process with a token; no answer may be a server error or break the document's schema."""

from __future__ import annotations

import tempfile
from typing import Any

import pytest
import schemathesis
from flask import Flask
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from directory import create_app
from directory.api.openapi import build_document
from directory.api.operations import create_token
from directory.orgs.models import Organization
from tests.factories import Factory

CHECKS = [not_a_server_error, response_schema_conformance, status_code_conformance,
          content_type_conformance]



def _document() -> dict[str, Any]:
    """The document as the application serves it (built without a database)."""
    with tempfile.TemporaryDirectory() as instance:
        app = create_app({"ENV": "testing", "INSTANCE_PATH": instance,
                          "DATABASE_URL": "sqlite://"})
        return build_document(app)


@pytest.fixture()
def bearer(factory: Factory, monkeypatch: pytest.MonkeyPatch, app: Flask) -> dict[str, str]:
    monkeypatch.setitem(app.config, "API_RATE_LIMIT", "100000 per minute")
    home: Organization = factory.organization(name="Schemathesis Partner", locations=[{
        "name": "Residence", "address": "1 Hidden Way", "city": "Houston", "state": "TX",
        "postal_code": "77002", "confidential": True}])
    _, secret = create_token(factory.user(organization=home), "schemathesis", None)
    return {"Authorization": f"Bearer {secret}"}


schema = schemathesis.openapi.from_dict(_document())


@schema.parametrize()
@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
def test_api_answers_by_its_own_document(case: schemathesis.Case, app: Flask,
                                         bearer: dict[str, str]) -> None:
    case.call_and_validate(headers=bearer, checks=CHECKS, app=app)
