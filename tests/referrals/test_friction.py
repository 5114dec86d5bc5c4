"""The referral work without friction: referable for what search finds, the age warning,
the partner picker, wording, and service names instead of codes on every page and mail."""

from __future__ import annotations

import re
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from directory.audit.models import AuditEvent
from directory.mail.models import OutboxMessage
from directory.orgs.models import Organization, ServiceCategory
from directory.orgs.operations import offers_service, referable_services, within_service
from directory.referrals import crypto, eligibility
from directory.referrals import operations as ops
from directory.referrals.errors import InvalidReferral, MismatchWarning
from directory.referrals.models import Referral
from directory.referrals.schemas import PlacementSchema, ReferralSchema
from directory.seeding import SeedReport, load_organizations
from tests.conftest import AuthActions
from tests.factories import Factory
from tests.referrals.conftest import Partners
from tests.referrals.test_views import form


def _count(db: Session) -> int:
    return db.scalar(select(func.count()).select_from(Referral)) or 0


# --- one rule for search and referral -------------------------------------------------------

def test_within_service_is_the_taxonomy_prefix_rule() -> None:
    assert within_service("shelter.youth", "shelter")
    assert within_service("shelter", "shelter")
    assert not within_service("shelter", "shelter.youth")
    assert not within_service("shelterx", "shelter")


def test_a_youth_shelter_is_referable_for_shelter_and_housing(factory: Factory) -> None:
    youth = factory.organization(services=["shelter.youth"])
    codes = [category.code for category in referable_services(youth)]
    assert "shelter" in codes and "shelter.youth" in codes
    assert "shelter.safe_house" not in codes
    assert offers_service(youth, "shelter") and not offers_service(youth, "legal")


def test_a_referral_for_the_broader_service_reaches_a_sub_service(partners: Partners,
                                                                  factory: Factory) -> None:
    youth = factory.organization(services=["shelter.youth"])
    referral = factory.referral(partners.referrer, youth, service="shelter")
    assert referral.service == "shelter" and referral.service_name == "Shelter and housing"


def test_a_service_the_partner_lacks_is_said_on_the_empty_form(
        client: FlaskClient, auth: AuthActions, partners: Partners) -> None:
    auth.login(partners.referrer.email)
    page = client.get(f"/referrals/new?to={partners.receiver.slug}&service=legal.immigration")
    assert page.status_code == 200
    assert "does not offer Immigration" in page.text and 'aria-invalid="true"' in page.text
    fine = client.get(f"/referrals/new?to={partners.receiver.slug}&service=case_management")
    assert "does not offer" not in fine.text
    assert re.search(r'value="case_management" selected', fine.text)


def test_the_placement_form_says_a_mismatch_before_it_is_filled(
        client: FlaskClient, auth: AuthActions, partners: Partners, factory: Factory) -> None:
    legal = factory.organization(name="Only Legal", services=["legal.immigration"])
    auth.login(partners.referrer.email)
    page = client.get(f"/referrals/placements/new?to={partners.receiver.slug}&to={legal.slug}"
                      "&service=case_management")
    assert page.status_code == 200
    assert "Only Legal does not offer Case management" in page.text
    assert 'value="Only Legal"' in page.text  # the picker shows names, not addresses


def _search_slugs(client: FlaskClient, near: str, service: str) -> list[str]:
    page = client.get("/search", query_string={"near": near, "service": service,
                                               "radius": 25})
    assert page.status_code == 200, page.text
    return re.findall(r'name="to" value="([^"]+)" form="placement-form"', page.text)


def test_the_placement_from_a_shelter_search_for_columbus_reaches_both_partners(
        client: FlaskClient, auth: AuthActions, factory: Factory, db: Session) -> None:
    load_organizations(SeedReport())
    outreach = factory.organization(name="Columbus Street Outreach",
                                    locations=[{"name": "Office", "address": "1 Broad St",
                                                "city": "Columbus", "state": "OH",
                                                "postal_code": "43215", "hours": []}])
    referrer = factory.user(organization=outreach)
    auth.login(referrer.email)
    found = _search_slugs(client, "Columbus, OH", "shelter")
    assert len(found) == 2, found
    names = [db.scalar(select(Organization.name).where(Organization.slug == slug))
             for slug in found]
    opened = client.get("/referrals/placements/new",
                        query_string={"to": found, "service": "shelter"})
    assert opened.status_code == 200 and "does not offer" not in opened.text
    assert 'value="shelter" selected' in opened.text
    for name in names:  # the picker shows the partners ticked in the search, by name
        assert f'value="{name}"' in opened.text
    data = {**form(service="shelter", urgency="urgent", age_range="12-17",
                   consent_minor_basis="guardian"), "partner": names}
    sent = client.post("/referrals/placements/new", data=data)
    assert sent.status_code == 302, sent.text
    referrals = db.scalars(select(Referral).where(Referral.sender_org_id == outreach.id)).all()
    assert sorted(r.receiver.slug for r in referrals) == sorted(found)
    assert {r.service for r in referrals} == {"shelter"}


# --- the age warning ------------------------------------------------------------------------

@pytest.fixture()
def adults_only(factory: Factory) -> Organization:
    return factory.organization(name="Adult Safe House", services=["shelter.safe_house"],
                                populations=["adults", "women"])


def _minor(receiver: Organization, **changes: Any) -> dict[str, Any]:
    return Factory.referral_data(receiver, service="shelter", age_range="12-17",
                                 consent={"minor_basis": "guardian"}, **changes)


def test_a_minor_to_an_adults_only_house_is_warned_and_not_sent(
        partners: Partners, adults_only: Organization, db: Session) -> None:
    before = _count(db)
    with pytest.raises(MismatchWarning) as warned:
        ops.create_referral(partners.referrer, ReferralSchema().load(_minor(adults_only)))
    assert "Adult Safe House lists only Adults" in warned.value.message
    assert "acknowledge_mismatch" in warned.value.fields
    db.rollback()
    assert _count(db) == before


def test_going_ahead_is_on_the_timeline_and_in_the_audit_log(
        partners: Partners, adults_only: Organization, db: Session) -> None:
    referral = ops.create_referral(partners.referrer, ReferralSchema().load(
        _minor(adults_only, acknowledge_mismatch=True)))
    kinds = [event.kind for event in referral.events]
    assert "mismatch_acknowledged" in kinds
    audit = db.scalars(select(AuditEvent).where(
        AuditEvent.action == "referral_mismatch_acknowledged")).all()
    assert [event.details["referral"] for event in audit] == [referral.public_id]
    assert audit[0].details["age_range"] == "12-17"


@pytest.mark.parametrize("age_range,populations", [
    ("18-24", ["adults"]), ("12-17", ["adolescents", "adults"]), ("12-17", ["women"]),
    ("60+", []), ("0-11", ["children"])])
def test_no_warning_when_the_client_fits_or_no_age_group_is_listed(
        age_range: str, populations: list[str], partners: Partners, factory: Factory) -> None:
    receiver = factory.organization(populations=populations)
    consent = {"minor_basis": "guardian"} if age_range in ("0-11", "12-17") else {}
    referral = factory.referral(partners.referrer, receiver, age_range=age_range,
                                consent=consent)
    assert "mismatch_acknowledged" not in [event.kind for event in referral.events]


def test_the_form_re_shows_with_the_warning_and_a_send_anyway_box(
        client: FlaskClient, auth: AuthActions, partners: Partners,
        adults_only: Organization, db: Session) -> None:
    auth.login(partners.referrer.email)
    data = form(service="shelter", age_range="12-17", consent_minor_basis="guardian")
    before = _count(db)
    warned = client.post(f"/referrals/new?to={adults_only.slug}", data=data)
    assert warned.status_code == 409
    assert 'name="acknowledge_mismatch"' in warned.text and "Adult Safe House lists" in warned.text
    assert 'value="Zed"' in warned.text  # nothing typed is lost
    assert _count(db) == before
    sent = client.post(f"/referrals/new?to={adults_only.slug}",
                       data={**data, "acknowledge_mismatch": "1"})
    assert sent.status_code == 302
    page = client.get(sent.headers["Location"]).text
    assert "sent it anyway" in page


def test_the_timeline_words_the_warning_in_each_reader_s_language(
        client: FlaskClient, auth: AuthActions, partners: Partners,
        adults_only: Organization, db: Session) -> None:
    referral = ops.create_referral(partners.referrer, ReferralSchema().load(
        _minor(adults_only, acknowledge_mismatch=True)))
    event = next(event for event in referral.events if event.kind == "mismatch_acknowledged")
    stored = crypto.decrypt_text(event.note)
    assert "lists" not in stored and '"listed_ages": ["adults"]' in stored  # codes, not words
    db.commit()
    auth.login(partners.referrer.email)
    english = client.get(f"/referrals/{referral.public_id}").text
    assert "Adult Safe House lists only Adults: a client aged 12-17 is outside" in english
    spanish = client.get(f"/referrals/{referral.public_id}",
                         headers={"Accept-Language": "es"}).text
    assert "Adult Safe House solo indica Personas adultas" in spanish
    assert "lists only" not in spanish


def test_a_warning_stored_as_words_is_shown_as_written(partners: Partners,
                                                      adults_only: Organization) -> None:
    written = "Adult Safe House lists only Adults: a client aged 12-17 is outside what it serves."
    assert eligibility.stored_warning_text(written) == written
    assert eligibility.stored_warning_text("{not json") == "{not json"


def test_the_api_warns_with_409_and_sends_with_acknowledge_mismatch(
        client: FlaskClient, auth: AuthActions, partners: Partners,
        adults_only: Organization) -> None:
    auth.login(partners.referrer.email)
    data = _minor(adults_only)
    warned = client.post("/api/v1/referrals", json=data)
    assert warned.status_code == 409, warned.text
    error = warned.get_json()["error"]
    assert error["code"] == "mismatch" and "acknowledge_mismatch" in error["fields"]
    sent = client.post("/api/v1/referrals", json={**data, "acknowledge_mismatch": True})
    assert sent.status_code == 201, sent.text


# --- the partner picker ---------------------------------------------------------------------

def test_the_picker_lists_only_active_partners_taking_referrals(
        client: FlaskClient, auth: AuthActions, partners: Partners, factory: Factory) -> None:
    from directory.orgs.models import MembershipStatus

    factory.organization(name="Pending Harbor", status=MembershipStatus.PENDING)
    factory.organization(name="Closed Harbor", accepting_referrals=False)
    factory.organization(name="Open Harbor")
    auth.login(partners.referrer.email)
    found = client.get("/referrals/partners.json?q=harbor").get_json()["partners"]
    assert [partner["name"] for partner in found] == ["Open Harbor"]
    own = client.get("/referrals/partners.json?q=sending").get_json()["partners"]
    assert own == []  # one's own organization is no partner


def test_the_picker_is_for_members_only(client: FlaskClient, auth: AuthActions,
                                        partners: Partners) -> None:
    assert client.get("/referrals/partners.json?q=a").status_code in (302, 401, 403)
    auth.login(partners.coordinator.email)
    assert client.get("/referrals/partners.json?q=a").status_code == 403


def test_partners_are_picked_by_name(client: FlaskClient, auth: AuthActions,
                                     partners: Partners, db: Session) -> None:
    auth.login(partners.referrer.email)
    page = client.get("/referrals/placements/new").text
    assert 'list="partner-options"' in page and '<option value="Receiving Shelter">' in page
    data = {**form(consent_minor_basis=None), "partner": ["receiving shelter", "Third Partner"]}
    sent = client.post("/referrals/placements/new", data=data)
    assert sent.status_code == 302, sent.text
    receivers = db.scalars(select(Referral.receiver_org_id).where(
        Referral.sender_org_id == partners.sender.id)).all()
    assert sorted(receivers) == sorted([partners.receiver.id, partners.third.id])


def test_an_unknown_partner_name_is_refused_and_kept(client: FlaskClient, auth: AuthActions,
                                                     partners: Partners) -> None:
    auth.login(partners.referrer.email)
    data = {**form(), "partner": ["Receiving Shelter", "Nobody Anywhere"]}
    refused = client.post("/referrals/placements/new", data=data)
    assert refused.status_code == 400 and "Unknown organization." in refused.text
    assert 'value="Nobody Anywhere"' in refused.text


# --- wording --------------------------------------------------------------------------------

def test_each_side_reads_the_referral_from_its_side(client: FlaskClient, auth: AuthActions,
                                                    partners: Partners, factory: Factory) -> None:
    referral = factory.referral(partners.referrer, partners.receiver)
    auth.login(partners.receiver_user.email)
    page = client.get(f"/referrals/{referral.public_id}").text
    assert "<h1>Referral from Sending Outreach</h1>" in page
    auth.logout()
    auth.login(partners.referrer.email)
    page = client.get(f"/referrals/{referral.public_id}").text
    assert "<h1>Referral to Receiving Shelter</h1>" in page and 'id="answer-due"' in page


def test_answer_due_is_not_shown_once_the_referral_is_final(
        client: FlaskClient, auth: AuthActions, partners: Partners, factory: Factory) -> None:
    referral = factory.referral(partners.referrer, partners.receiver)
    ops.transition(partners.referrer, referral, {"to": "withdrawn", "version": referral.version})
    auth.login(partners.referrer.email)
    assert 'id="answer-due"' not in client.get(f"/referrals/{referral.public_id}").text


def test_both_forms_propose_the_same_urgency(client: FlaskClient, auth: AuthActions,
                                             partners: Partners) -> None:
    auth.login(partners.referrer.email)
    single = client.get(f"/referrals/new?to={partners.receiver.slug}").text
    placement = client.get("/referrals/placements/new").text
    for page in (single, placement):
        assert re.search(r'<option value="routine" selected', page)
        assert not re.search(r'<option value="urgent" selected', page)


# --- service names, not codes ---------------------------------------------------------------

def _codes(db: Session) -> list[str]:
    """Every code of the taxonomy that does not read as a word of plain English."""
    return [code for code in db.scalars(select(ServiceCategory.code))
            if "_" in code or "." in code]


def test_no_service_code_appears_in_any_page_or_mail_of_the_referral_flow(
        client: FlaskClient, auth: AuthActions, partners: Partners, factory: Factory,
        db: Session) -> None:
    basic = factory.organization(name="Basic Needs Pantry",
                                 services=["basic_needs", "shelter.youth"])
    basic_user = factory.user(organization=basic)
    pages: list[str] = []
    auth.login(partners.referrer.email)
    pages.append(client.get(f"/referrals/new?to={basic.slug}&service=shelter.youth").text)
    sent = client.post(f"/referrals/new?to={basic.slug}", data=form(service="basic_needs"))
    assert sent.status_code == 302, sent.text
    second = client.post(f"/referrals/new?to={basic.slug}",
                         data=form(service="shelter.youth", alias="Y"))
    assert second.status_code == 302, second.text
    detail = sent.headers["Location"]
    pages += [client.get(detail).text, client.get("/referrals/outbox").text, client.get("/").text]
    auth.logout()
    auth.login(basic_user.email)
    pages += [client.get("/").text, client.get("/referrals/inbox").text,
              client.get("/referrals/notifications").text, client.get(detail).text]
    version = int(re.search(r'name="version" value="(\d+)"', pages[-1]).group(1))
    assert client.post(f"{detail}/transitions",
                       data={"to": "accepted", "version": version}).status_code == 302
    assert client.post(f"{detail}/notes", data={"body": "Ready."}).status_code == 302
    assert client.post(f"{detail}/transitions", data={
        "to": "completed", "version": version + 1, "note": "Done."}).status_code == 302
    auth.logout()
    auth.login(partners.referrer.email)
    pages += [client.get("/referrals/notifications").text, client.get(detail).text,
              client.get("/referrals/outbox").text]
    mails = [f"{mail.subject}\n{mail.text_body}" for mail in db.scalars(select(OutboxMessage))]
    assert len(mails) >= 4 and any("Basic needs" in mail for mail in mails)
    assert any("Youth shelter" in page for page in pages)
    for code in ["basic_needs", *_codes(db)]:
        for text in [*pages, *mails]:
            assert not re.search(rf"(?<![\w.=\"']){re.escape(code)}(?![\w\"'])", text), code


def test_the_referral_page_names_the_service(client: FlaskClient, auth: AuthActions,
                                             partners: Partners, factory: Factory) -> None:
    referral = factory.referral(partners.referrer, partners.receiver)
    auth.login(partners.referrer.email)
    page = client.get(f"/referrals/{referral.public_id}").text
    assert "<dd>Case management</dd>" in page


def test_an_unknown_service_is_refused_by_name(partners: Partners) -> None:
    with pytest.raises(InvalidReferral) as refused:
        ops.create_referral(partners.referrer, ReferralSchema().load(
            Factory.referral_data(partners.receiver, service="nothing")))
    assert refused.value.fields["service"] == "Choose a service from the list."


def test_a_placement_warns_of_the_partners_the_client_is_outside(
        partners: Partners, adults_only: Organization, factory: Factory, db: Session) -> None:
    youth = factory.organization(name="Youth Harbor", services=["shelter.youth"],
                                 populations=["adolescents"])
    data = {**_minor(adults_only), "to": [adults_only.slug, youth.slug]}
    data.pop("name", None)
    with pytest.raises(MismatchWarning) as warned, db.begin_nested():
        ops.create_placement_request(partners.referrer, PlacementSchema().load(data))
    assert "Adult Safe House" in warned.value.message and "Youth Harbor" not in \
        warned.value.message
    placement = ops.create_placement_request(partners.referrer, PlacementSchema().load(
        {**data, "acknowledge_mismatch": True}))
    marked = {referral.receiver.name: "mismatch_acknowledged" in
              [event.kind for event in referral.events] for referral in placement.referrals}
    assert marked == {"Adult Safe House": True, "Youth Harbor": False}
