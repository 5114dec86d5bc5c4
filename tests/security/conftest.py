"""Fixtures of the attack suite: the stored state of every table, to show that a refused
attack changed nothing, and the people and referrals the attacks aim at.

Every case of the suite sends what an attacker would send, checks the answer, then compares
``stored.snapshot()`` taken before the attack with the state after it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from directory import create_app
from directory.accounts.models import MemberRole, User
from directory.api.operations import create_token
from directory.audit.models import AuditAction
from directory.db import Base, get_database
from directory.orgs.models import Organization
from directory.referrals.models import Referral
from tests.conftest import PASSWORD
from tests.factories import Factory

# Columns that record activity rather than data: every request may touch them.
NOISY_COLUMNS = frozenset({"last_used_at", "last_seen_at", "last_seen"})
AUDIT_TABLE = "audit_events"
# Audit actions that record a change or a disclosure; any other action (access_denied,
# rate_limited, failed sign-ins, a refusal kind added later) is the trace of a refusal.
CHANGE_ACTIONS = frozenset(
    {action.value for action in AuditAction}
    - {AuditAction.ACCESS_DENIED.value, AuditAction.ACCESS_DENIED_REPEATED.value,
       AuditAction.RATE_LIMITED.value, AuditAction.SIGN_IN_FAILED.value,
       AuditAction.TWO_FACTOR_FAILED.value}
) | {"referral_client_details_viewed"}

Row = tuple[Any, ...]
Snapshot = dict[str, list[Row]]


def _sort_key(row: Row) -> str:
    return repr(row)


class StoredData:
    """The rows of every table of ``Base.metadata``, less the activity columns."""

    def __init__(self, db: Session) -> None:
        self.db = db

    def columns(self, table: str) -> list[str]:
        return [column.name for column in Base.metadata.tables[table].columns
                if column.name not in NOISY_COLUMNS]

    def snapshot(self) -> Snapshot:
        self.db.flush()
        self.db.expire_all()
        state: Snapshot = {}
        for table in Base.metadata.sorted_tables:
            columns = [column for column in table.columns if column.name not in NOISY_COLUMNS]
            rows = self.db.execute(select(*columns)).all()
            state[table.name] = sorted((tuple(row) for row in rows), key=_sort_key)
        return state

    def added(self, before: Snapshot, table: str) -> list[dict[str, Any]]:
        """The rows of ``table`` that were not there in ``before``, as dicts."""
        after = self.snapshot()[table]
        names = self.columns(table)
        old = {_sort_key(row) for row in before[table]}
        return [dict(zip(names, row, strict=True)) for row in after
                if _sort_key(row) not in old]

    def changed_tables(self, before: Snapshot, ignore: Iterable[str] = ()) -> list[str]:
        after = self.snapshot()
        return sorted(name for name in after
                      if name not in set(ignore) and after[name] != before.get(name))

    def assert_unchanged(self, before: Snapshot, *, refusals_audited: bool = False) -> None:
        """Nothing stored changed. ``refusals_audited``: the audit log may have gained the
        trace of a refused access, and nothing else."""
        after = self.snapshot()
        if refusals_audited:
            actions = [row["action"] for row in self.added(before, AUDIT_TABLE)]
            assert not CHANGE_ACTIONS & set(actions), f"audited as a change: {actions}"
            before = {name: rows for name, rows in before.items() if name != AUDIT_TABLE}
            after = {name: rows for name, rows in after.items() if name != AUDIT_TABLE}
        changed = sorted(name for name in after if after[name] != before.get(name))
        assert changed == [], f"stored data changed in {changed}"


@pytest.fixture()
def stored(db: Session) -> StoredData:
    return StoredData(db)


def bearer(user: User, name: str = "attack suite") -> dict[str, str]:
    """The Authorization header of a new personal API token of ``user``."""
    _, secret = create_token(user, name, None)
    return {"Authorization": f"Bearer {secret}"}


def sign_in(client: FlaskClient, user: User, password: str = PASSWORD) -> None:
    response = client.post("/login", data={"email": user.email, "password": password})
    assert response.status_code == 302, response.get_data(as_text=True)


def share_database(app: Flask, settings: dict[str, Any], **overrides: Any) -> Flask:
    """Another application built from the suite's settings (and ``overrides``), answering on
    the suite's database and inside the test's transaction."""
    application = create_app({**settings, **overrides})
    get_database(application).engine.dispose()
    application.extensions["directory.db"] = get_database(app)
    return application


@pytest.fixture(scope="session")
def guarded(app: Flask, settings: dict[str, Any]) -> Flask:
    """The application with CSRF protection on, as deployed."""
    return share_database(app, settings, WTF_CSRF_ENABLED=True)


CSRF_INPUT = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"')


def csrf_token(client: FlaskClient, path: str = "/account", **kwargs: Any) -> str:
    """The CSRF token a page of the site gives the browser of ``client``."""
    page = client.get(path, **kwargs).get_data(as_text=True)
    found = CSRF_INPUT.search(page)
    assert found is not None, f"no CSRF token on {path}"
    return found.group(1)


def guarded_sign_in(client: FlaskClient, user: User) -> None:
    """Sign in to the CSRF-protected application the way a browser does."""
    token = csrf_token(client, "/login")
    response = client.post("/login", data={"email": user.email, "password": PASSWORD,
                                           "csrf_token": token})
    assert response.status_code == 302, response.get_data(as_text=True)


@dataclass
class Network:
    """Organization A (the attacker's), B (the victim's) and C (B's partner), with people, a
    referral from B to C, and a referral from A to B."""

    a: Organization
    b: Organization
    c: Organization
    a_admin: User
    a_referrer: User
    b_admin: User
    b_referrer: User
    c_referrer: User
    coordinator: User
    b_to_c: Referral  # A is no side of it
    a_to_b: Referral  # A sends, B receives


ALIAS = "Kestrel-7731"  # the client's alias in the suite's referrals: easy to find in a page
NEEDS = "Needs a bed tonight near Marigold Street."


@pytest.fixture()
def network(factory: Factory) -> Network:
    a = factory.organization(name="Attacker Outreach")
    b = factory.organization(name="Victim Shelter")
    c = factory.organization(name="Partner Clinic")
    people = {
        "a_admin": factory.user(organization=a, role=MemberRole.ADMIN),
        "a_referrer": factory.user(organization=a),
        "b_admin": factory.user(organization=b, role=MemberRole.ADMIN),
        "b_referrer": factory.user(organization=b),
        "c_referrer": factory.user(organization=c),
        "coordinator": factory.user(coordinator=True),
    }
    return Network(
        a=a, b=b, c=c, **people,
        b_to_c=factory.referral(people["b_referrer"], c, alias=ALIAS, needs=NEEDS),
        a_to_b=factory.referral(people["a_referrer"], b, alias=ALIAS, needs=NEEDS))
