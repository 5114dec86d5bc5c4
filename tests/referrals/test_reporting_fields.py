"""The coded grant-reporting fields: stored, refused when unknown, shown to the receiver only
where the consent names them, and the client's population compared with the listing."""

from __future__ import annotations

import pytest
from flask.testing import FlaskClient

from directory.referrals import operations as ops
from directory.referrals.disclosure import reporting_view
from directory.referrals.errors import MismatchWarning
from directory.referrals.schemas import ReferralSchema
from tests.conftest import AuthActions
from tests.factories import Factory
from tests.referrals.conftest import Partners

CODED = {"trafficking_type": "labor", "gender": "female", "nationality": "foreign",
         "population": "foreign_nationals"}


def test_the_fields_are_stored_and_the_receiver_sees_only_what_consent_names(
        partners: Partners) -> None:
    data = Factory.referral_data(partners.receiver, **CODED,
                                 consent={"items": ["gender"]})
    referral = ops.create_referral(partners.referrer, ReferralSchema().load(data))
    assert (referral.trafficking_type, referral.gender, referral.nationality,
            referral.population) == ("labor", "female", "foreign", "foreign_nationals")
    assert reporting_view(partners.referrer, referral) == CODED
    assert reporting_view(partners.receiver_user, referral) == {"gender": "female"}


def test_omitted_fields_are_not_recorded(partners: Partners) -> None:
    referral = ops.create_referral(partners.referrer, ReferralSchema().load(
        Factory.referral_data(partners.receiver)))
    assert referral.gender is None and referral.population is None


@pytest.mark.parametrize("field,value", [("gender", "woman"), ("trafficking_type", "forced"),
                                         ("nationality", "mars"), ("population", "adults"),
                                         ("population", "free text")])
def test_the_api_refuses_unknown_codes_with_a_400(client: FlaskClient, auth: AuthActions,
                                                  partners: Partners, field: str,
                                                  value: str) -> None:
    auth.login(partners.referrer.email)
    response = client.post("/api/v1/referrals", json=Factory.referral_data(
        partners.receiver, **{field: value}))
    assert response.status_code == 400, response.text
    assert field in response.get_json()["error"]["fields"]


@pytest.mark.parametrize("value", ["not_asked", "declined"])
def test_not_asked_and_declined_are_always_allowed(client: FlaskClient, auth: AuthActions,
                                                   partners: Partners, value: str) -> None:
    auth.login(partners.referrer.email)
    response = client.post("/api/v1/referrals", json=Factory.referral_data(
        partners.receiver, **dict.fromkeys(CODED, value)))
    assert response.status_code == 201, response.text
    assert response.get_json()["client"]["reporting"] == dict.fromkeys(CODED, value)


def test_a_population_outside_the_listing_is_warned(partners: Partners,
                                                    factory: Factory) -> None:
    women = factory.organization(name="Women Only House", populations=["women"])
    data = Factory.referral_data(women, population="men")
    with pytest.raises(MismatchWarning) as warned:
        ops.create_referral(partners.referrer, ReferralSchema().load(data))
    assert "Women Only House lists the populations it serves as Women" in warned.value.message
    referral = ops.create_referral(partners.referrer, ReferralSchema().load(
        {**data, "acknowledge_mismatch": True}))
    assert "mismatch_acknowledged" in [event.kind for event in referral.events]
    for fits in ("women", "not_asked", "declined"):
        ops.create_referral(partners.referrer, ReferralSchema().load(
            Factory.referral_data(women, population=fits)))


def test_the_api_answers_409_for_a_population_mismatch(client: FlaskClient, auth: AuthActions,
                                                       partners: Partners,
                                                       factory: Factory) -> None:
    women = factory.organization(name="Women Only House", populations=["women"])
    auth.login(partners.referrer.email)
    data = Factory.referral_data(women, population="men")
    warned = client.post("/api/v1/referrals", json=data)
    assert warned.status_code == 409 and warned.get_json()["error"]["code"] == "mismatch"
    sent = client.post("/api/v1/referrals", json={**data, "acknowledge_mismatch": True})
    assert sent.status_code == 201, sent.text


def test_the_empty_form_says_the_population_mismatch(client: FlaskClient, auth: AuthActions,
                                                     partners: Partners,
                                                     factory: Factory) -> None:
    women = factory.organization(name="Women Only House", populations=["women"])
    auth.login(partners.referrer.email)
    page = client.get(f"/referrals/new?to={women.slug}&population=men")
    assert page.status_code == 200
    assert "is not among them" in page.text and 'name="acknowledge_mismatch"' in page.text
    fine = client.get(f"/referrals/new?to={women.slug}&population=women")
    assert "is not among them" not in fine.text
    assert 'name="gender"' in fine.text and 'value="declined"' in fine.text
