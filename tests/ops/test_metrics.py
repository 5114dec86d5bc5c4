"""/metrics: who may read it, and what it counts (routes by their rule, never a raw path)."""

from __future__ import annotations

import ipaddress
import re
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from directory import create_app
from directory.config import ConfigError
from directory.db import get_database, transaction, upgrade
from directory.mail.operations import queue_mail
from directory.ops.access import parse_allow_list
from directory.ops.metrics import REGISTRY, record_sweep
from tests.api.test_referrals import bearer, people  # noqa: F401 (a fixture)
from tests.factories import Factory
from tests.referrals.conftest import Partners

TOKEN = "a-scraper-token-of-some-length"
SCRAPER = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture()
def with_token(app: Flask, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(app.config, "METRICS_TOKEN", TOKEN)


def _scrape(client: FlaskClient) -> str:
    response = client.get("/metrics", headers=SCRAPER)
    assert response.status_code == 200
    assert response.mimetype == "text/plain"
    return response.get_data(as_text=True)


def test_metrics_do_not_exist_until_configured(client: FlaskClient) -> None:
    assert client.get("/metrics").status_code == 404
    assert client.get("/metrics", headers=SCRAPER).status_code == 404


@pytest.mark.usefixtures("with_token")
@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer wrong-token-wrong-token"},
                                     {"Authorization": f"Basic {TOKEN}"}])
def test_metrics_refuse_anyone_without_the_token(client: FlaskClient,
                                                 headers: dict[str, str]) -> None:
    assert client.get("/metrics", headers=headers).status_code == 403


def test_an_allowed_address_needs_no_token(app: Flask, client: FlaskClient,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(app.config, "METRICS_NETWORKS", parse_allow_list("10.0.0.0/8, ::1"))
    assert client.get("/metrics", environ_base={"REMOTE_ADDR": "10.1.2.3"}).status_code == 200
    assert client.get("/metrics", environ_base={"REMOTE_ADDR": "192.0.2.7"}).status_code == 403


def test_a_bad_allow_list_stops_the_start() -> None:
    assert parse_allow_list("127.0.0.1") == (ipaddress.ip_network("127.0.0.1/32"),)
    with pytest.raises(ConfigError, match="not an address"):
        parse_allow_list("127.0.0.1, localhost")


@pytest.mark.usefixtures("with_token")
def test_requests_are_counted_by_route_rule_and_status(client: FlaskClient,
                                                       factory: Factory) -> None:
    slug = factory.organization(name="Counted Shelter").slug
    labels = {"route": "/organizations/<slug>", "method": "GET", "status": "302"}
    before = REGISTRY.get_sample_value("directory_http_requests_total", labels) or 0
    client.get(f"/organizations/{slug}?near=77002")  # anonymous: sent to the sign-in
    client.get("/no/such/place/77002")
    text = _scrape(client)
    assert REGISTRY.get_sample_value("directory_http_requests_total", labels) == before + 1
    assert 'route="<unmatched>"' in text
    # In the labels, that is: a sample's value or timestamp may hold any digits.
    labels_text = " ".join(re.findall(r"\{[^}]*\}", text))
    assert slug not in text and "no/such" not in text and "77002" not in labels_text
    assert "directory_http_request_duration_seconds_bucket" in text


@pytest.mark.usefixtures("with_token")
def test_committed_transitions_are_counted(client: FlaskClient, factory: Factory,
                                           people: Partners) -> None:  # noqa: F811
    labels = {"from_status": "sent", "to_status": "accepted"}
    before = REGISTRY.get_sample_value("directory_referral_transitions_total", labels) or 0
    created = client.post("/api/v1/referrals", json=factory.referral_data(people.receiver),
                          headers=bearer(people.referrer)).get_json()
    receiver = bearer(people.receiver_user)
    refused = client.post(f"/api/v1/referrals/{created['id']}/transitions", headers=receiver,
                          json={"to": "accepted", "version": created["version"] + 5})
    assert refused.status_code == 409  # rolled back: not counted
    accepted = client.post(f"/api/v1/referrals/{created['id']}/transitions", headers=receiver,
                           json={"to": "accepted", "version": created["version"]})
    assert accepted.status_code == 200
    assert REGISTRY.get_sample_value("directory_referral_transitions_total",
                                     labels) == before + 1
    assert 'directory_referral_transitions_total{from_status="sent",to_status="accepted"}' \
        in _scrape(client)


def test_the_outbox_backlog_and_the_last_sweep(settings: dict[str, Any],
                                               tmp_path: Path) -> None:
    app = create_app(settings | {"DATABASE_URL": f"sqlite:///{tmp_path / 'outbox.db'}",
                                 "INSTANCE_PATH": str(tmp_path / "instance"),
                                 "METRICS_TOKEN": TOKEN, "MAIL_SERVER": None})
    upgrade(get_database(app))
    with app.app_context(), transaction():
        for number in range(3):
            queue_mail(f"someone{number}@test.example", "Subject", "Body")
    record_sweep(app.instance_path, {"expired": ["A"], "due_soon": [], "identifying_purged": [],
                                     "purged": ["B", "C"], "deleted": {"sessions": 4}})
    text = _scrape(app.test_client())
    assert "directory_mail_outbox_backlog 3.0" in text
    assert "directory_mail_outbox_oldest_age_seconds" in text
    assert 'directory_sweep_last_items{kind="purged"} 2.0' in text
    assert 'directory_sweep_last_items{kind="deleted"} 4.0' in text
    assert "directory_sweep_last_finished_timestamp_seconds" in text
    get_database(app).engine.dispose()
