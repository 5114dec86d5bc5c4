"""Referral fixtures: a sending and a receiving organization, a third one, a coordinator."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from directory.accounts.models import MemberRole, User
from directory.orgs.models import Organization
from tests.factories import Factory


@dataclass
class Partners:
    sender: Organization
    receiver: Organization
    third: Organization
    referrer: User  # a referrer of the sending organization
    receiver_user: User
    receiver_admin: User
    third_user: User
    coordinator: User

    def actor(self, kind: str) -> User:
        return {"sender": self.referrer, "receiver": self.receiver_user,
                "third": self.third_user, "coordinator": self.coordinator}[kind]


@pytest.fixture()
def partners(factory: Factory) -> Partners:
    sender = factory.organization(name="Sending Outreach")
    receiver = factory.organization(name="Receiving Shelter")
    third = factory.organization(name="Third Partner")
    return Partners(
        sender=sender, receiver=receiver, third=third,
        referrer=factory.user(organization=sender),
        receiver_user=factory.user(organization=receiver),
        receiver_admin=factory.user(organization=receiver, role=MemberRole.ADMIN),
        third_user=factory.user(organization=third),
        coordinator=factory.user(coordinator=True))
