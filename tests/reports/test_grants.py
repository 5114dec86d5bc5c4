"""Grant period reports: every figure against a hand-computed fixture, who counts what (the
network suppressed, an organization's own sent in full, its received by coded field
suppressed and only as far as the consent lets it read), the period file, the permission
matrix and bad input."""

from __future__ import annotations

import csv
import datetime as dt
import io
from dataclasses import dataclass

import pytest
from flask.testing import FlaskClient
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from directory.accounts.models import MemberRole
from directory.orgs.models import Organization, OrganizationKind
from directory.referrals.models import (
    Consent,
    ConsentMethod,
    Gender,
    Nationality,
    Referral,
    ReferralStatus,
    TraffickingType,
)
from directory.reports import grants
from directory.reports.suppression import suppress_with_known_total
from directory.reports.synthetic import generate_synthetic_referrals
from directory.reports.tables import HIDDEN, Table, Viewer
from directory.seeding import SeedReport, load_taxonomy
from tests.conftest import AuthActions
from tests.factories import Factory
from tests.reports.fixture import JANUARY, add_referral

RANGE = "start=2026-01-01&end=2026-01-31"
T, G, N = TraffickingType, Gender, Nationality


@dataclass
class Grantees:
    a: Organization
    b: Organization
    c: Organization


def _referral(db: Session, sender: Organization, receiver: Organization, day: int,
              trafficking: TraffickingType, gender: Gender | None,
              nationality: Nationality | None, age: str, *, consent: list[str] | None = None,
              revoked: bool = False, accepted_after: float | None = None) -> Referral:
    status = ReferralStatus.ACCEPTED if accepted_after is not None else ReferralStatus.SENT
    sent = dt.datetime(2026, 1, day, tzinfo=dt.UTC)
    referral = add_referral(db, sender, receiver, sent, status, answered=accepted_after)
    referral.age_range = age
    referral.trafficking_type, referral.gender, referral.nationality = (trafficking, gender,
                                                                        nationality)
    if consent is not None:
        referral.consents.append(Consent(
            receiver_org_id=receiver.id, items=consent, purpose="", method=ConsentMethod.WRITTEN,
            expires_on=dt.date.today() + dt.timedelta(days=365),
            revoked_at=sent + dt.timedelta(days=1) if revoked else None))
    return referral


@pytest.fixture()
def grantees(factory: Factory, db: Session) -> Grantees:
    """Eight referrals sent in January 2026:

    ====  =====  ======  ======  ===========  =====  ==========================  ========
    ref   route  type    gender  nationality  age    consent items               accepted
    ====  =====  ======  ======  ===========  =====  ==========================  ========
    r1    A->B   sex     female  US           12-17  gender                      -
    r2    A->B   sex     female  foreign      18-24  gender, type                +60 h
    r3    A->B   labor   male    foreign      25-39  (none named)                -
    r4    A->B   labor   female  -            18-24  gender, but revoked         -
    r5    A->B   sex     -       US           0-11   no consent record           -
    r6    A->B   both    female  US           18-24  gender, nationality         +10 h
    r7    C->B   sex     male    US           18-24  no consent record           -
    r8    B->A   labor   female  US           40-59  no consent record           -
    ====  =====  ======  ======  ===========  =====  ==========================  ========
    """
    found = Grantees(factory.organization(kind=OrganizationKind.NONPROFIT),
                     factory.organization(kind=OrganizationKind.LAW_ENFORCEMENT),
                     factory.organization(kind=OrganizationKind.FAITH_BASED))
    a, b, c = found.a, found.b, found.c
    _referral(db, a, b, 5, T.SEX, G.FEMALE, N.US, "12-17", consent=["gender"])
    _referral(db, a, b, 6, T.SEX, G.FEMALE, N.FOREIGN, "18-24",
              consent=["gender", "trafficking_type"], accepted_after=60)
    _referral(db, a, b, 7, T.LABOR, G.MALE, N.FOREIGN, "25-39", consent=[])
    _referral(db, a, b, 8, T.LABOR, G.FEMALE, None, "18-24", consent=["gender"], revoked=True)
    _referral(db, a, b, 9, T.SEX, None, N.US, "0-11")
    _referral(db, a, b, 10, T.BOTH, G.FEMALE, N.US, "18-24",
              consent=["gender", "nationality"], accepted_after=10)
    _referral(db, c, b, 11, T.SEX, G.MALE, N.US, "18-24")
    _referral(db, b, a, 12, T.LABOR, G.FEMALE, N.US, "40-59")
    db.commit()
    return found


def _column(table: Table, index: int = 0) -> dict[str, object]:
    found = {row.key: row.cells[index] for row in table.rows}
    assert table.totals is not None
    return {**found, "total": table.totals.cells[index]}


def _nonzero(column: dict[str, object]) -> dict[str, object]:
    return {key: value for key, value in column.items() if value != 0}


def test_the_network_counts_every_referral_suppressed_with_a_second_cell_hidden(
        grantees: Grantees) -> None:
    report = grants.report(JANUARY, Viewer(5))
    assert _nonzero(_column(report.table("gender"))) == {  # type: ignore[arg-type]
        "female": 5, "male": HIDDEN, "not_recorded": HIDDEN, "total": 8}
    assert _nonzero(_column(report.table("trafficking_type"))) == {  # type: ignore[arg-type]
        "sex": HIDDEN, "labor": HIDDEN, "both": HIDDEN, "total": 8}
    # Two minors alone would be given back by 8 - 6: the adults are hidden too.
    assert _column(report.table("age")) == {  # type: ignore[arg-type]
        "minor": HIDDEN, "adult": HIDDEN, "total": 8}
    assert _nonzero(_column(report.table("nationality"))) == {  # type: ignore[arg-type]
        "us": 5, "foreign": HIDDEN, "not_recorded": HIDDEN, "total": 8}
    matched = report.table("matched")
    assert matched is not None
    # 8 sent, 2 accepted, 1 within 48 hours: small counts, and no share over a hidden one.
    assert matched.rows[0].cells == [8, HIDDEN, HIDDEN, None]
    assert "not_shared" not in _column(report.table("gender"))  # type: ignore[arg-type]


def test_with_a_threshold_of_one_the_network_figures_are_the_fixture_s(
        grantees: Grantees) -> None:
    report = grants.report(JANUARY, Viewer(1))
    assert _nonzero(_column(report.table("trafficking_type"))) == {  # type: ignore[arg-type]
        "sex": 4, "labor": 3, "both": 1, "total": 8}
    assert _column(report.table("age")) == {"minor": 2, "adult": 6,  # type: ignore[arg-type]
                                            "total": 8}
    assert _nonzero(_column(report.table("gender"))) == {  # type: ignore[arg-type]
        "female": 5, "male": 2, "not_recorded": 1, "total": 8}
    matched = report.table("matched")
    assert matched is not None and matched.rows[0].cells == [8, 2, 1, 1 / 8]
    partners = report.table("partners")
    assert partners is not None and partners.rows[0].cells[1] == 3


def test_an_organization_counts_what_it_received_as_its_consents_let_it_read(
        grantees: Grantees) -> None:
    b = grantees.b
    report = grants.report(JANUARY, Viewer(1, own=frozenset({str(b.id)})), b)
    gender = report.table("gender")
    assert gender is not None and [c.key for c in gender.columns] == ["made", "received"]
    assert _nonzero(_column(gender, 0)) == {"female": 1, "total": 1}  # r8, its own
    # Received: r1, r2, r6 name gender in a consent in force; r3's names nothing, r4's was
    # revoked, r7 has none; r5 has no gender recorded.
    assert _nonzero(_column(gender, 1)) == {"female": 3, "not_shared": 3, "not_recorded": 1,
                                            "total": 7}
    assert _nonzero(_column(report.table("trafficking_type"), 1)) == {  # type: ignore[arg-type]
        "sex": 1, "not_shared": 6, "total": 7}
    assert _nonzero(_column(report.table("nationality"), 1)) == {  # type: ignore[arg-type]
        "us": 1, "not_shared": 5, "not_recorded": 1, "total": 7}


def test_a_consent_lapsed_yesterday_in_the_sender_s_zone_shares_nothing(
        grantees: Grantees, db: Session) -> None:
    b = grantees.b
    r6 = db.scalars(select(Referral).where(Referral.nationality == N.US,
                                           Referral.trafficking_type == T.BOTH)).one()
    r6.consents[-1].expires_on = grantees.a.local_date() - dt.timedelta(days=1)
    db.flush()
    report = grants.report(JANUARY, Viewer(1, own=frozenset({str(b.id)})), b)
    assert _nonzero(_column(report.table("nationality"), 1)) == {  # type: ignore[arg-type]
        "not_shared": 6, "not_recorded": 1, "total": 7}
    r6.consents[-1].expires_on = grantees.a.local_date()  # its last day: still in force
    db.flush()
    report = grants.report(JANUARY, Viewer(1, own=frozenset({str(b.id)})), b)
    assert _column(report.table("nationality"), 1)["us"] == 1  # type: ignore[arg-type]


def test_an_admin_s_own_received_breakdowns_stay_suppressed(grantees: Grantees) -> None:
    """What it sent and the adult/minor split it sees on every referral show in full; what it
    received by type, gender and nationality does not, and no lone hidden cell is left for
    the total (which the admin knows from the inbox) to give back."""
    b = grantees.b
    report = grants.report(JANUARY, Viewer(5, own=frozenset({str(b.id)})), b)
    gender = report.table("gender")
    assert gender is not None
    assert _nonzero(_column(gender, 0)) == {"female": 1, "total": 1}  # made: its own, in full
    assert _nonzero(_column(gender, 1)) == {"female": HIDDEN, "not_shared": HIDDEN,
                                            "not_recorded": HIDDEN, "total": 7}
    # One small cell (sex: 1) beside not shared (6): the 6 is hidden too, or 7 - 6 = 1.
    assert _nonzero(_column(report.table("trafficking_type"), 1)) == {  # type: ignore[arg-type]
        "sex": HIDDEN, "not_shared": HIDDEN, "total": 7}
    assert _column(report.table("age"), 1) == {"minor": 2, "adult": 5,  # type: ignore[arg-type]
                                               "total": 7}
    matched = report.table("matched")
    assert matched is not None
    assert [row.cells for row in matched.rows] == [[1, 0, 0, 0.0], [7, 2, 1, 1 / 7]]
    assert report.table("partners") is None  # the network's, on the network page


def test_an_outsider_reads_an_organization_s_figures_suppressed_as_recorded(
        grantees: Grantees) -> None:
    report = grants.report(JANUARY, Viewer(5), grantees.b)
    gender = report.table("gender")
    assert gender is not None
    assert _nonzero(_column(gender, 0)) == {"female": HIDDEN, "total": HIDDEN}
    assert _nonzero(_column(gender, 1)) == {"female": HIDDEN, "male": HIDDEN,
                                            "not_recorded": HIDDEN, "total": 7}
    assert "not_shared" not in _column(gender, 1)


def _rows(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text)))


def test_the_network_period_file_names_the_measure_of_each_column(
        client: FlaskClient, auth: AuthActions, factory: Factory, grantees: Grantees) -> None:
    auth.login(factory.user(coordinator=True).email)
    page = client.get(f"/reports/grants?{RANGE}")
    assert page.status_code == 200
    assert "Grant reporting" in page.text and "fewer than 5" in page.text
    response = client.get(f"/reports/grants/period.csv?{RANGE}")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert "network-grants-2026-01-01-2026-01-31-period.csv" in response.headers[
        "Content-Disposition"]
    header, measures, row = _rows(response.text)
    assert measures == ["measure", *header[1:]]  # each column is named by its measure
    figures = dict(zip(header, row, strict=True))
    assert figures["Period"] == "Whole network, 2026-01-01 to 2026-01-31"
    assert figures["TIMS: referrals made and received, by gender: Female"] == "5"
    assert figures["TIMS: referrals made and received, by gender: Male"] == "fewer than 5"
    assert figures["TIMS: referrals made and received, by adult or minor: Total"] == "8"
    assert figures["HHS: matched to a provider within 48 hours (count)"] == "fewer than 5"
    assert figures["HHS: matched to a provider within 48 hours (share of those sent)"] == ""
    assert figures["hotline: total partners"] == "3"
    assert len(_rows(client.get(f"/reports/grants/gender.csv?{RANGE}").text)) > 3


def test_an_admin_s_period_file_holds_its_own_counts(
        client: FlaskClient, auth: AuthActions, factory: Factory, grantees: Grantees) -> None:
    b = grantees.b
    auth.login(factory.user(organization=b, role=MemberRole.ADMIN).email)
    page = client.get(f"/reports/organizations/{b.slug}/grants?{RANGE}")
    assert page.status_code == 200 and "Not shared" in page.text
    header, _, row = _rows(client.get(
        f"/reports/organizations/{b.slug}/grants/period.csv?{RANGE}").text)
    figures = dict(zip(header, row, strict=True))
    assert figures["TIMS: referrals received, by gender: Female"] == "fewer than 5"
    assert figures["TIMS: referrals received, by gender: Not shared with this organization "
                   "by the consent"] == "fewer than 5"
    assert figures["TIMS: referrals received, by gender: Total"] == "7"
    assert figures["TIMS: referrals received, by adult or minor: Minor (under 18)"] == "2"
    assert figures["TIMS: referrals made, by gender: Female"] == "1"
    assert figures["HHS: matched to a provider within 48 hours (count) (Received)"] == "1"


@pytest.mark.parametrize(("who", "network", "own", "other"), [
    ("visitor", 302, 302, 302),
    ("referrer of B", 403, 403, 403),
    ("admin of B", 403, 200, 403),
    ("coordinator", 200, 200, 200),
])
def test_who_may_read_which_grant_report(client: FlaskClient, auth: AuthActions,
                                         factory: Factory, grantees: Grantees, who: str,
                                         network: int, own: int, other: int) -> None:
    b, a = grantees.b, grantees.a
    users = {"referrer of B": lambda: factory.user(organization=b),
             "admin of B": lambda: factory.user(organization=b, role=MemberRole.ADMIN),
             "coordinator": lambda: factory.user(coordinator=True)}
    if who in users:
        auth.login(users[who]().email)
    for path, expected in ((f"/reports/grants?{RANGE}", network),
                           (f"/reports/grants/period.csv?{RANGE}", network),
                           (f"/reports/organizations/{b.slug}/grants?{RANGE}", own),
                           (f"/reports/organizations/{b.slug}/grants/period.csv?{RANGE}", own),
                           (f"/reports/organizations/{a.slug}/grants?{RANGE}", other)):
        assert client.get(path).status_code == expected, path


def test_bad_dates_and_unknown_tables_get_clear_answers(
        client: FlaskClient, auth: AuthActions, factory: Factory, grantees: Grantees) -> None:
    auth.login(factory.user(coordinator=True).email)
    bad = client.get("/reports/grants?start=2026-13-01")
    assert bad.status_code == 400 and "2026-01-31" in bad.text
    reversed_range = client.get("/reports/grants?start=2026-02-01&end=2026-01-01")
    assert reversed_range.status_code == 400 and "before its start" in reversed_range.text
    assert client.get(f"/reports/grants/nothing.csv?{RANGE}").status_code == 404
    assert client.get("/reports/organizations/no-such-org/grants").status_code == 404


def test_synthetic_referrals_carry_grant_fields_the_same_for_the_same_seed(
        factory: Factory, db: Session) -> None:
    load_taxonomy(SeedReport())
    factory.organization(), factory.organization(), factory.organization()

    def generated() -> list[tuple[object, ...]]:
        assert generate_synthetic_referrals(300, 11).referrals == 300
        rows = db.execute(select(Referral.public_id, Referral.sender_org_id, Referral.sent_at,
                                 Referral.trafficking_type, Referral.gender,
                                 Referral.nationality, Referral.population)
                          .order_by(Referral.public_id)).all()
        db.execute(delete(Referral))
        return [tuple(row) for row in rows]

    first, second = generated(), generated()
    assert first == second
    genders = {row[4] for row in first}
    assert {G.FEMALE, G.MALE, None} <= genders
    assert {row[3] for row in first} >= {T.SEX, T.LABOR, None}
    assert {row[6] for row in first} - {None}  # some populations recorded


@pytest.mark.parametrize(("values", "hidden"), [
    ([3, 0, 0], {0, 1}),  # alone beside zeros: the first zero is hidden with it
    ([1, 6, 0], {0, 1}),  # beside a large count: the smallest other positive one
    ([2, 1, 9], {0, 1}),  # two small: nothing more to hide
    ([7, 0, 5], set()),
])
def test_a_breakdown_of_a_known_total_never_leaves_one_hidden_cell(
        values: list[int], hidden: set[int]) -> None:
    cells = suppress_with_known_total(values, 5)
    assert {n for n, cell in enumerate(cells) if cell is None} == hidden
    assert all(cell == value for cell, value in zip(cells, values, strict=True)
               if cell is not None)


def test_the_grant_page_and_its_file_speak_spanish(
        client: FlaskClient, auth: AuthActions, factory: Factory, grantees: Grantees) -> None:
    auth.login(factory.user(coordinator=True).email)
    spanish = {"Accept-Language": "es"}
    page = client.get(f"/reports/grants?{RANGE}", headers=spanish)
    assert page.status_code == 200 and "Informes para subvenciones" in page.text
    header, _, row = _rows(client.get(f"/reports/grants/period.csv?{RANGE}",
                                      headers=spanish).text)
    figures = dict(zip(header, row, strict=True))
    assert figures["TIMS: derivaciones hechas y recibidas, por género: Total"] == "8"
    assert figures["línea directa: total de organizaciones aliadas"] == "3"
    # The coded fields' own labels too: rows and measures name them in Spanish.
    assert figures["TIMS: derivaciones hechas y recibidas, por género: Femenino"] == "5"
    assert "Trata sexual" in page.text and "Sex trafficking" not in page.text
