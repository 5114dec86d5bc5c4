"""The migrations and the models describe the same schema, on SQLite and on PostgreSQL."""

from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from flask import Flask

import directory.models  # noqa: F401
from directory.db import (
    Base,
    Database,
    alembic_config,
    current_revision,
    get_database,
    include_in_schema_comparison,
    upgrade,
)


def test_models_and_migrations_agree(app: Flask) -> None:
    with get_database(app).engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={
            "compare_type": True, "include_name": include_in_schema_comparison})
        differences = compare_metadata(context, Base.metadata)
    assert differences == []


def test_upgrade_downgrade_upgrade_on_a_fresh_database(tmp_path: Path) -> None:
    database = Database(f"sqlite:///{tmp_path / 'fresh.db'}")
    upgrade(database)
    head = current_revision(database)
    assert head is not None
    command.downgrade(alembic_config(database), "base")
    assert current_revision(database) is None
    upgrade(database)
    assert current_revision(database) == head
    database.engine.dispose()


def test_confidential_locations_move_to_their_public_point(tmp_path: Path) -> None:
    """0006 keeps each confidential location's true point apart and searches it, and the
    radius drawn around it, at its city's centre; a public location stays where it is."""
    from sqlalchemy import text

    from directory.geo.public import public_point

    database = Database(f"sqlite:///{tmp_path / 'old.db'}")
    upgrade(database, "0005")
    true_point, office = (29.80, -95.32), (29.75, -95.36)
    with database.engine.begin() as connection:
        connection.execute(text(
            "INSERT INTO organizations (id, hsds_id, slug, name, kind, description, "
            "accepting_referrals, status) VALUES (1, 'o1', 'safe', 'Safe', 'nonprofit', '', 1, "
            "'active')"))
        for location_id, point, confidential in ((1, true_point, 1), (2, office, 0)):
            connection.execute(text(
                "INSERT INTO locations (id, hsds_id, organization_id, name, address, city, state, "
                "postal_code, county, latitude, longitude, timezone, confidential, open_24_7) "
                "VALUES (:id, :hsds, 1, 'Home', '', 'Houston', 'TX', '', '', :lat, :lon, "
                "'America/Chicago', :confidential, 0)"),
                {"id": location_id, "hsds": f"l{location_id}", "lat": point[0], "lon": point[1],
                 "confidential": confidential})
        # One radius tied to the safe house, one typed at its point, one around the office.
        for area_id, location_id, centre in ((1, 1, true_point), (2, None, true_point),
                                             (3, 2, office)):
            connection.execute(text(
                "INSERT INTO coverage_areas (id, organization_id, kind, label, location_id, "
                "center_lat, center_lon, radius_mi, min_lat, max_lat, min_lon, max_lon) "
                "VALUES (:id, 1, 'radius', 'Within 5 mi of 29.8,-95.32', :location, :lat, :lon, "
                "5, :lat - 0.1, :lat + 0.1, :lon - 0.1, :lon + 0.1)"),
                {"id": area_id, "location": location_id, "lat": centre[0], "lon": centre[1]})
    upgrade(database)
    centre = public_point("Houston", "TX", *true_point)
    with database.engine.connect() as connection:
        locations = connection.execute(text(
            "SELECT id, latitude, longitude, true_latitude, true_longitude FROM locations "
            "ORDER BY id")).all()
        areas = connection.execute(text(
            "SELECT id, location_id, center_lat, center_lon, label, min_lat FROM coverage_areas "
            "ORDER BY id")).all()
        indexed = connection.execute(text(
            "SELECT min_lat, min_lon FROM location_index WHERE id = 1")).one()
    assert [tuple(row) for row in locations] == [(1, *centre, *true_point),
                                                 (2, *office, None, None)]
    for area in areas[:2]:
        assert (area.location_id, area.center_lat, area.center_lon) == (1, *centre)
        assert area.label == "Within 5 mi of Houston, TX" and area.min_lat < centre[0]
    assert (areas[2].location_id, areas[2].center_lat, areas[2].center_lon) == (2, *office)
    assert tuple(indexed) == pytest.approx(centre)
    command.downgrade(alembic_config(database), "0005")
    with database.engine.connect() as connection:
        restored = connection.execute(text(
            "SELECT latitude, longitude FROM locations ORDER BY id")).all()
    assert [tuple(row) for row in restored] == [true_point, office]
    database.engine.dispose()


def test_consent_texts_and_the_handoff_plan_are_encrypted_by_0007(app: Flask,
                                                                  tmp_path: Path) -> None:
    """0007 encrypts a stored consent's free text, moves the hand-off plan into the encrypted
    client details, and empties the text of a purged referral's consent; it needs the key."""
    import json

    from sqlalchemy import text

    from directory.datakey import fernet

    database = Database(f"sqlite:///{tmp_path / 'old.db'}")
    upgrade(database, "0006")
    with app.app_context():
        keys = fernet()
        client = keys.encrypt(json.dumps({"alias": "Q."}).encode()).decode()
    with database.engine.begin() as connection:
        connection.execute(text(
            "INSERT INTO organizations (id, hsds_id, slug, name, kind, description, "
            "accepting_referrals, status) VALUES (1, 'o1', 'a', 'A', 'nonprofit', '', 1, "
            "'active')"))
        for referral_id, data, purged in ((1, client, None), (2, None, "2026-01-01")):
            connection.execute(text(
                "INSERT INTO referrals (id, public_id, version, status, sender_org_id, "
                "receiver_org_id, service, urgency, age_range, contact_person, handoff_time, "
                "client_data, purged_at) VALUES (:id, :public, 1, 'sent', 1, 1, 'shelter', "
                "'urgent', '12-17', 'Ana', 'Tuesday 4pm', :data, :purged)"),
                {"id": referral_id, "public": f"r{referral_id}", "data": data,
                 "purged": purged})
            connection.execute(text(
                "INSERT INTO referral_consents (referral_id, receiver_org_id, items, purpose, "
                "method, verbal_reason, expires_on, legal_basis) VALUES (:id, 1, '[]', "
                "'Housing', 'verbal', 'By phone', '2030-01-01', 'Fam. Code 32.003')"),
                {"id": referral_id})
    with pytest.raises(RuntimeError, match="DIRECTORY_DATA_KEY"):
        upgrade(database)  # no application context: no key to encrypt with
    with app.app_context():
        upgrade(database)
    with database.engine.connect() as connection:
        consents = connection.execute(text(
            "SELECT purpose, verbal_reason, legal_basis FROM referral_consents "
            "ORDER BY referral_id")).all()
        (data,) = connection.execute(text("SELECT client_data FROM referrals WHERE id = 1")
                                     ).one()
        columns = [row[1] for row in connection.execute(text("PRAGMA table_info(referrals)"))]
    assert [keys.decrypt(value.encode()).decode() for value in consents[0]] == [
        "Housing", "By phone", "Fam. Code 32.003"]
    assert tuple(consents[1]) == ("", "", "")
    assert json.loads(keys.decrypt(data.encode())) == {
        "alias": "Q.", "contact_person": "Ana", "handoff_time": "Tuesday 4pm"}
    assert "contact_person" not in columns and "handoff_time" not in columns
    database.engine.dispose()


def test_0019_fills_in_the_waits_of_existing_referrals(tmp_path: Path) -> None:
    """The backfill gives each older referral the waits its timestamps give, to the
    microsecond (as the triggers do for new writes), and a downgrade takes them away."""
    import datetime as dt

    from sqlalchemy import text

    database = Database(f"sqlite:///{tmp_path / 'old.db'}")
    upgrade(database, "0018")
    sent = dt.datetime(2026, 3, 1, 23, 59, 59, 999_999)

    def stored_text(moment: dt.datetime) -> str:  # as SQLAlchemy writes it on SQLite
        return moment.strftime("%Y-%m-%d %H:%M:%S.%f")

    rows = [  # (viewed, answered, decline reason) after sending
        (None, None, None),
        (dt.timedelta(microseconds=1), dt.timedelta(days=2, seconds=1), None),
        (dt.timedelta(hours=5, microseconds=999_999), dt.timedelta(hours=30), "no_capacity"),
        (None, dt.timedelta(days=400, microseconds=3), None),
    ]
    with database.engine.begin() as connection:
        connection.execute(text(
            "INSERT INTO organizations (id, hsds_id, slug, name, kind, description, "
            "accepting_referrals, status) VALUES (1, 'o1', 'a', 'A', 'nonprofit', '', 1, "
            "'active')"))
        for referral_id, (viewed, answered, reason) in enumerate(rows, start=1):
            connection.execute(text(
                "INSERT INTO referrals (id, public_id, version, status, sender_org_id, "
                "receiver_org_id, service, urgency, age_range, sent_at, viewed_at, "
                "responded_at, decline_reason) VALUES (:id, :public, 1, 'sent', 1, 1, "
                "'shelter', 'urgent', '18-24', :sent, :viewed, :answered, :reason)"),
                {"id": referral_id, "public": f"r{referral_id}", "sent": stored_text(sent),
                 "viewed": viewed and stored_text(sent + viewed),
                 "answered": answered and stored_text(sent + answered), "reason": reason})
    upgrade(database)
    with database.engine.connect() as connection:
        stored = connection.execute(text(
            "SELECT viewed_after_us, answered_after_us, accepted_after_us FROM referrals "
            "ORDER BY id")).all()
    us = dt.timedelta(microseconds=1)
    assert [tuple(row) for row in stored] == [
        (viewed and viewed // us, answered and answered // us,
         answered // us if answered and reason is None else None)
        for viewed, answered, reason in rows]
    assert stored[1] == (1, 172_801_000_000, 172_801_000_000)
    command.downgrade(alembic_config(database), "0018")
    with database.engine.connect() as connection:
        columns = [row[1] for row in connection.execute(text("PRAGMA table_info(referrals)"))]
        indexes = {row[1] for row in connection.execute(text("PRAGMA index_list(referrals)"))}
    assert "answered_after_us" not in columns
    assert "ix_referrals_receiver_org_id_sent_at" in indexes
    assert "ix_referrals_by_kind" not in indexes
    database.engine.dispose()
