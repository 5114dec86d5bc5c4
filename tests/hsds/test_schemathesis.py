"""Schemathesis against Open Referral's HSDS 3.0 API reference itself (the shipped copy, its
``$ref``s resolved to the shipped schemas), with the application as the target: no server
error, no answer that breaks the standard's schema, no content type it does not name.

Defects of the reference that make some checks impossible, and what is done about each:

- It documents no answer but 200 (no 400 for a bad parameter, no 404 for an unknown id, no
  401), so ``status_code_conformance`` would fail every correct refusal: it is not run. The
  refusals themselves are tested in test_api.py.
- ``GET /service_at_locations/{id}`` names ``compiled/service.json`` as its schema, which
  requires a ``name`` and ``status`` that a service at a location does not have; its own
  description says "fully nested service_at_location". The check uses
  ``compiled/service_at_location.json`` for that answer (replaced below, and nowhere else).
- The reference's ``operationId``s of the two taxonomy-term operations are swapped
  (``getTaxonomyTermById`` lists, ``getPaginatedListOfTaxonomyTerms`` gets one by id):
  harmless to these checks, noted for readers of the test ids.
"""

from __future__ import annotations

from typing import Any

import pytest
import schemathesis
from flask import Flask
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
)

from tests.factories import Factory
from tests.hsds import standard

CHECKS = [not_a_server_error, response_schema_conformance, content_type_conformance]
SAL_BY_ID = "/service_at_locations/{id}"


def _reference() -> dict[str, Any]:
    document = standard.reference()
    answer = document["paths"][SAL_BY_ID]["get"]["responses"]["200"]["content"][
        "application/json"]["schema"]
    answer["$ref"] = answer["$ref"].replace("compiled/service.json",
                                            "compiled/service_at_location.json")
    return standard.inlined(document)


@pytest.fixture()
def published(factory: Factory, app: Flask, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(app.config, "PUBLIC_HSDS_API", True)
    monkeypatch.setitem(app.config, "API_RATE_LIMIT", "100000 per minute")
    factory.organization(name="Schemathesis Partner", services=["shelter", "legal"], locations=[
        {"name": "Residence", "address": "1 Hidden Way", "city": "Houston", "state": "TX",
         "postal_code": "77002", "confidential": True},
        {"name": "Office", "address": "2 Open Way", "city": "Houston", "state": "TX",
         "postal_code": "77002"}])


schema = schemathesis.openapi.from_dict(_reference())


@schema.parametrize()
@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
def test_the_api_answers_by_the_hsds_reference(case: schemathesis.Case, app: Flask,
                                               published: None) -> None:
    case.call_and_validate(base_url="http://localhost/hsds", checks=CHECKS, app=app)
