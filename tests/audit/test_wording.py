"""The audit log in words: every action filterable, details read as labels and values."""

from __future__ import annotations

import re

import pytest
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from directory.accounts.models import User
from directory.audit.models import AuditAction, action_label
from directory.audit.operations import action_choices, record
from directory.audit.wording import details_text
from directory.referrals import operations as ops
from directory.referrals.models import FINAL_STATUSES, ReferralStatus
from tests.audit.test_audit import coordinator  # noqa: F401 (the signed-in coordinator)
from tests.conftest import AuthActions
from tests.factories import Factory


@pytest.mark.parametrize("action,details,words", [
    ("sign_in", {"remember": False, "second_factor": "totp"},
     "Remember me: no; Second factor: authenticator code"),
    ("sign_in", {"remember": True, "second_factor": None, "renewal": True},
     "Remember me: yes; Second factor: none; Renewed session: yes"),
    ("referral_client_details_viewed",
     {"referral": "abc", "items": ["alias", "safety_concerns", "name"], "notes": 2},
     "Referral: abc; Client details shown: alias, safety concerns, name; Notes read: 2"),
    ("referral_client_details_viewed", {"items": []}, "Client details shown: none"),
    ("role_changed", {"from": "referrer", "to": "admin"},
     "Role before: Referrer; Role after: Organization admin"),
    ("access_denied", {"permission": "view_audit_log", "path": "/admin/audit"},
     "Permission: view audit log; Page: /admin/audit"),
    ("listing_updated", {"fields": ["description", "accepting_referrals"]},
     "Fields changed: description, accepting referrals"),
    ("something_new", {"odd_key": 3}, "Odd key: 3"),
])
def test_details_read_in_words(action: str, details: dict, words: str) -> None:
    assert details_text(action, details) == words


def test_no_detail_reads_like_python() -> None:
    text = details_text("referral_client_details_viewed",
                        {"items": ["alias"], "remember": False, "x": None})
    assert not re.search(r"\[|\]|'|False|True|None", text)


def test_every_final_status_has_a_referral_action() -> None:
    for status in [*FINAL_STATUSES, ReferralStatus.ACCEPTED, ReferralStatus.SENT]:
        assert AuditAction(f"referral_{status.value}")


def test_labels_are_words() -> None:
    assert action_label("referral_client_details_viewed") == "Referral: client details viewed"
    assert action_label("referral_accepted") == "Referral accepted"
    assert action_label("api_token_created") == "API token created"
    assert action_label("made_up_thing") == "Made up thing"


def test_the_filter_lists_known_and_recorded_actions(db: Session) -> None:
    record("custom_domain_event")
    values = [value for value, _label in action_choices()]
    assert "custom_domain_event" in values
    assert {"referral_sent", "referral_accepted", "referral_client_details_viewed",
            "referral_mismatch_acknowledged", "sign_in"} <= set(values)
    assert len(values) == len(set(values))


def test_referral_events_are_recorded_and_filterable(
        client: FlaskClient, coordinator: User, factory: Factory,  # noqa: F811
        db: Session, auth: AuthActions) -> None:
    sender = factory.organization(name="Sender Org")
    receiver = factory.organization(name="Receiver Org")
    referrer = factory.user(organization=sender)
    answerer = factory.user(organization=receiver)
    referral = factory.referral(referrer, receiver, alias="Secret Alias")
    ops.transition(answerer, referral, {"to": "accepted", "version": referral.version})
    page = client.get("/admin/audit").text
    assert '<option value="referral_accepted">Referral accepted</option>' in page
    sent = client.get("/admin/audit?action=referral_sent").text
    assert ">Referral sent</td>" in sent and ">Referral accepted</td>" not in sent
    assert f"Referral: {referral.public_id}" in sent
    accepted = client.get("/admin/audit?action=referral_accepted").text
    assert ">Referral accepted</td>" in accepted and "Status before: sent" in accepted
    assert "Receiver Org" in accepted
    assert "Secret Alias" not in page  # never client details
