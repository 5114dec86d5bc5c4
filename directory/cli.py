"""The `directory` command: set-up, seeding, serving and look-ups from the shell.

Each command is one commit point: it commits when it succeeds and rolls back on any error.
Commands that print data take --json and then print exactly one JSON document on stdout;
progress and logs go to stderr.
"""

from __future__ import annotations

import functools
import json
import os
import secrets
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import click
from flask import Flask
from sqlalchemy.engine import make_url

from directory import create_app
from directory.config import ConfigError, from_environment
from directory.db import analyze, current_revision, get_database, transaction, upgrade
from directory.geo.geocoder import GeocodeError, geocode
from directory.orgs.models import LANGUAGES, OrganizationKind, Population
from directory.server import (
    DEFAULT_THREADS,
    default_workers,
    prepare_metrics_directory,
    release_metrics_directory,
    shared_limits_warning,
)
from directory.server import serve as serve_with_gunicorn


def build_app(overrides: dict[str, Any] | None = None) -> Flask:
    try:
        return create_app(overrides)
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from exc


def with_app(command: Callable[..., Any]) -> Callable[..., Any]:
    """Run the command inside an application context of a freshly built app."""

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        app = build_app()
        with app.app_context():
            return command(app, *args, **kwargs)

    return wrapper


def emit_json(document: Any) -> None:
    click.echo(json.dumps(document, indent=2, default=str))


@contextmanager
def progress_bar(total: int, label: str) -> Iterator[Callable[[int], None]]:
    with click.progressbar(length=total, label=label, file=sys.stderr,
                           show_pos=True, show_eta=True) as bar:
        yield bar.update


def safe_database_url(app: Flask) -> str:
    return make_url(app.config["DATABASE_URL"]).render_as_string(hide_password=True)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="directory")
def main() -> None:
    """Partner directory and warm-referral network of an anti-trafficking coalition."""


@main.command()
@with_app
def init(app: Flask) -> None:
    """Create the database or upgrade it to the newest schema."""
    database = get_database(app)
    upgrade(database)
    click.echo(f"Database {safe_database_url(app)} is at revision {current_revision(database)}.")


def _seed_demo(app: Flask) -> dict[str, Any]:
    from directory.seeding import demo_network_size, seed_demo_network

    upgrade(get_database(app))
    with progress_bar(demo_network_size(), "Loading the demo network") as update, transaction():
        report = seed_demo_network(progress=update)
    analyze(get_database(app).engine)
    return report.as_dict()


@main.command()
@click.option("--synthetic", type=click.IntRange(min=1), default=None, metavar="N",
              help="Generate N synthetic organizations (benchmarks, load tests) instead.")
@click.option("--synthetic-referrals", type=click.IntRange(min=1), default=None, metavar="N",
              help="Generate N synthetic referrals between the active organizations.")
@click.option("--random-seed", type=int, default=1, show_default=True,
              help="Seed of the synthetic generator: the same seed gives the same network.")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@with_app
def seed(app: Flask, synthetic: int | None, synthetic_referrals: int | None, random_seed: int,
         as_json: bool) -> None:
    """Load the services taxonomy and the demo network (idempotent), or a synthetic network."""
    from directory.orgs.synthetic import generate_synthetic_network

    report = _seed_demo(app)
    if synthetic:
        with progress_bar(synthetic, "Generating organizations") as update, transaction():
            result = generate_synthetic_network(synthetic, random_seed, progress=update)
        analyze(get_database(app).engine)
        report["synthetic"] = {"organizations": result.organizations,
                               "locations": result.locations, "services": result.services,
                               "already_present": result.skipped}
    if synthetic_referrals:
        report["synthetic_referrals"] = _seed_synthetic_referrals(synthetic_referrals,
                                                                  random_seed)
        analyze(get_database(app).engine)
    if as_json:
        emit_json(report)
        return
    click.echo(f"Taxonomy: {report['categories_created']} categories created, "
               f"{report['categories_updated']} updated.")
    click.echo(f"Demo network: {report['organizations_created']} organizations created, "
               f"{report['organizations_existing']} already present.")
    if synthetic:
        result_report = report["synthetic"]
        if result_report["already_present"]:
            click.echo(f"A synthetic network with seed {random_seed} is already present.")
        else:
            click.echo(f"Synthetic network: {result_report['organizations']} organizations, "
                       f"{result_report['locations']} locations, "
                       f"{result_report['services']} services.")
    if synthetic_referrals:
        if report["synthetic_referrals"]["already_present"]:
            click.echo(f"Synthetic referrals with seed {random_seed} are already present.")
        else:
            click.echo(f"Synthetic referrals: {report['synthetic_referrals']['referrals']}.")


def _seed_synthetic_referrals(count: int, random_seed: int) -> dict[str, Any]:
    from directory.reports.synthetic import generate_synthetic_referrals

    with progress_bar(count, "Generating referrals") as update, transaction():
        try:
            result = generate_synthetic_referrals(count, random_seed, progress=update)
        except ValueError as exc:
            raise click.ClickException(str(exc)) from exc
    return {"referrals": result.referrals, "already_present": result.skipped}


def _check_data_key(app: Flask) -> None:
    """Refuse to serve with a data key that cannot open the data already stored."""
    from sqlalchemy.exc import DBAPIError

    from directory.datakey import DataKeyError, check_data_key

    with app.app_context():
        try:
            check_data_key()
        except DataKeyError as exc:
            raise click.ClickException(str(exc)) from exc
        except DBAPIError:
            pass  # a database not created yet holds nothing to open


def _serve(app: Flask, host: str, port: int, workers: int, threads: int) -> None:
    _check_data_key(app)
    warning = shared_limits_warning(app, workers)
    if warning:
        click.echo(warning, err=True)
    click.echo(f"Serving on http://{host}:{port}/ with {workers} worker"
               f"{'s' if workers != 1 else ''} of {threads} thread{'s' if threads != 1 else ''}"
               " (Ctrl+C to stop)")
    serve_with_gunicorn(app, host, port, workers, threads)


host_option = click.option("--host", default="127.0.0.1", show_default=True,
                           help="Address to listen on.")
port_option = click.option("--port", type=click.IntRange(1, 65535), default=5000,
                           show_default=True, help="Port to listen on.")
threads_option = click.option(
    "--threads", type=click.IntRange(1, 64), default=DEFAULT_THREADS, show_default=True,
    help="Threads of each worker process: more where requests wait on the network.")


@main.command()
@host_option
@port_option
@click.option("--workers", type=click.IntRange(1, 64), default=None,
              help="Worker processes  [default: one per core]")
@threads_option
def serve(host: str, port: int, workers: int | None, threads: int) -> None:
    """Serve the application with the production WSGI server (gunicorn)."""
    prepare_metrics_directory()  # before the app loads prometheus_client
    try:
        _serve(build_app(), host, port, workers or default_workers(), threads)
    finally:
        release_metrics_directory()


@main.command()
@host_option
@port_option
@threads_option
@click.option("--no-serve", is_flag=True, help="Set up and print the logins, then exit.")
def demo(host: str, port: int, threads: int, no_serve: bool) -> None:
    """Create, seed and serve the demo network in one step."""
    from directory.accounts.operations import AccountError
    from directory.seeding import ensure_demo_users

    app = build_app({"ENV": "demo"})
    with app.app_context():
        report = _seed_demo(app)
        password = app.config["DEMO_PASSWORD"] or secrets.token_urlsafe(12)
        try:
            with transaction():
                users = ensure_demo_users(password)
        except AccountError as exc:
            raise click.ClickException(f"DIRECTORY_DEMO_PASSWORD cannot be used: {exc}") from exc
    total = report["organizations_created"] + report["organizations_existing"]
    click.echo(f"Demo network ready: {total}"
               f" organizations in {safe_database_url(app)}.")
    click.echo(f"Open http://{host}:{port}/ and sign in as one of:")
    for user in users:
        click.echo(f"  {user['email']:<34} {'; '.join(user['roles'])}")
    click.echo(f"Password for every demo user: {password}")
    if not no_serve:
        _serve(app, host, port, 1, threads)


@main.command(name="geocode")
@click.argument("query")
@click.option("--json", "as_json", is_flag=True, help="Print the result as one JSON object.")
def geocode_command(query: str, as_json: bool) -> None:
    """Resolve a ZIP code, "City, ST" or "lat,lon" to a point (offline by default)."""
    try:
        settings = from_environment(os.environ)
        result = geocode(query, settings.get("GEOCODER", "offline"),
                         settings.get("GEOCODER_USER_AGENT", "directory"))
    except (GeocodeError, ConfigError) as exc:
        raise click.ClickException(str(exc)) from exc
    if as_json:
        emit_json(result.as_dict())
    else:
        click.echo(f"{result.label}: {result.lat:.5f}, {result.lon:.5f}"
                   + (f" ({result.county}, {result.state})" if result.county else ""))


@main.command(name="search")
@click.option("--near", "near_query", required=True, metavar="QUERY",
              help='Where: a ZIP code, "City, ST" or "lat,lon".')
@click.option("--radius", type=click.FloatRange(1, 500), default=50, show_default=True,
              help="Miles around the point (near search).")
@click.option("--covering", is_flag=True,
              help="Organizations whose coverage area contains the point, instead of near it.")
@click.option("--service", metavar="CODE", help="Service code, e.g. shelter (sub-services too).")
@click.option("--kind", "kinds", multiple=True,
              type=click.Choice([kind.value for kind in OrganizationKind]),
              help="Organization kind (repeatable).")
@click.option("--language", type=click.Choice(sorted(LANGUAGES)), help="Language code.")
@click.option("--population", type=click.Choice([p.value for p in Population]),
              help="Population served.")
@click.option("--accepting", is_flag=True, help="Only organizations accepting referrals.")
@click.option("--open-now", is_flag=True, help="Only locations open now.")
@click.option("--verified-within", type=click.IntRange(1, 3650), metavar="DAYS",
              help="Only listings verified in the last DAYS days.")
@click.option("--limit", type=click.IntRange(1, 500), default=25, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print the results as one JSON list.")
@with_app
def search_command(app: Flask, near_query: str, radius: float, covering: bool,
                   service: str | None, kinds: tuple[str, ...], language: str | None,
                   population: str | None, accepting: bool, open_now: bool,
                   verified_within: int | None, limit: int, as_json: bool) -> None:
    """Find organizations near a place, or covering it, nearest first."""
    from directory.orgs.results import present
    from directory.orgs.search import SearchError, search

    query = {"near": near_query, "mode": "covering" if covering else "near", "radius": radius,
             "service": service, "kind": [OrganizationKind(kind) for kind in kinds],
             "language": language, "population": Population(population) if population else None,
             "accepting": accepting, "open_now": open_now, "verified_within": verified_within}
    try:
        results = search(query, limit=limit, with_total=True, geocoder=app.config["GEOCODER"])
    except SearchError as exc:
        raise click.ClickException(str(exc)) from exc
    views = present(results, viewer=None)  # the console sees what an outside member sees
    if as_json:
        emit_json([{key: value for key, value in view.as_dict().items() if key != "shapes"}
                   for view in views])
        return
    where = "covering" if covering else f"within {radius:g} mi of"
    click.echo(f"{results.total} organizations {where} {results.label}:")
    for view in views:
        distance = "   ?  " if view.distance_mi is None else (
            f"{'~' if view.distance_rounded else ' '}{view.distance_mi:5.1f}")
        badge = " [covers]" if view.covers and not covering else ""
        click.echo(f"{distance} mi  {view.name} ({view.kind_label}, {view.city}, "
                   f"{view.state}){badge}")


@main.command()
@click.option("--json", "as_json", is_flag=True, help="Print the routes as JSON.")
@with_app
def routes(app: Flask, as_json: bool) -> None:
    """List the application's URLs."""
    rules = sorted(app.url_map.iter_rules(), key=lambda rule: rule.rule)
    listing = [{"rule": rule.rule, "endpoint": rule.endpoint,
                "methods": sorted((rule.methods or set()) - {"HEAD", "OPTIONS"})}
               for rule in rules]
    if as_json:
        emit_json(listing)
        return
    for item in listing:
        click.echo(f"{','.join(item['methods']):<12} {item['rule']:<40} {item['endpoint']}")


def _stdin_is_terminal() -> bool:
    return sys.stdin.isatty()


def _read_password() -> str:
    """Asked for twice on a terminal; otherwise the first line of standard input."""
    if _stdin_is_terminal():
        return click.prompt("Password", hide_input=True, confirmation_prompt=True)
    return sys.stdin.readline().rstrip("\r\n")


@main.command(name="create-user")
@click.argument("email")
@click.option("--role", type=click.Choice(["coordinator", "admin", "referrer"]),
              default="coordinator", show_default=True, help="What the user may do.")
@click.option("--organization", "slug", metavar="SLUG",
              help="The organization of an admin or referrer.")
@click.option("--name", default="", help="The user's name (default: the email address).")
@with_app
def create_user_command(app: Flask, email: str, role: str, slug: str | None, name: str) -> None:
    """Create a user, such as the first coordinator of a new deployment.

    The password is asked for on a terminal, or read from the first line of standard input
    (`printf '%s\\n' "$PASSWORD" | directory create-user --role coordinator EMAIL`).
    """
    from sqlalchemy import select

    from directory.accounts.membership import create_account
    from directory.accounts.models import MemberRole
    from directory.accounts.operations import AccountError
    from directory.db import db_session
    from directory.orgs.models import Organization

    if role == "coordinator" and slug:
        raise click.UsageError("A coordinator belongs to no organization: "
                               "leave out --organization.")
    if role != "coordinator" and not slug:
        raise click.UsageError(f"--role {role} needs --organization SLUG.")
    upgrade(get_database(app))
    password = _read_password()
    try:
        with transaction():
            organization = None
            if slug:
                organization = db_session.scalar(
                    select(Organization).where(Organization.slug == slug))
                if organization is None:
                    raise click.ClickException(f"No organization has the address name {slug!r}.")
            user = create_account(email, name, password, coordinator=role == "coordinator",
                                  organization=organization,
                                  role=MemberRole(role) if organization else None)
    except AccountError as exc:
        raise click.ClickException(str(exc)) from exc
    where = f" of {organization.name}" if organization else ""
    click.echo(f"Created {user.email} ({role}{where}).")


@main.command(name="send-mail")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@with_app
def send_mail(app: Flask, as_json: bool) -> None:
    """Send the mail waiting in the outbox; exits 1 while some cannot be sent yet."""
    from directory.mail.operations import deliver_outbox

    report = deliver_outbox()
    if as_json:
        emit_json(report.as_dict())
    else:
        click.echo(f"Sent {report.sent}; refused for good {report.failed}; "
                   f"kept for a later try {report.retry_later}; "
                   f"being sent by another worker {report.busy}.")
    if report.retry_later:
        sys.exit(1)


@main.command(name="export-hsds")
@click.argument("out", type=click.Path(path_type=Path))
@click.option("--format", "fmt", type=click.Choice(["csv", "json"]), default="csv",
              show_default=True,
              help="csv: the tabular package (CSV files and datapackage.json) in folder OUT, "
                   "or zipped when OUT ends in .zip; json: one JSON document in file OUT.")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
@with_app
def export_hsds_command(app: Flask, out: Path, fmt: str, as_json: bool) -> None:
    """Export the active listings as Open Referral HSDS 3.0."""
    from directory.hsds.export import count_exported
    from directory.hsds.operations import export_hsds

    upgrade(get_database(app))
    started = time.perf_counter()
    try:
        with transaction(), progress_bar(count_exported(), "Exporting organizations") as update:
            report = export_hsds(out, fmt, progress=update)
    except (ValueError, OSError) as exc:
        raise click.ClickException(str(exc)) from exc
    document = report.as_dict() | {"seconds": round(time.perf_counter() - started, 2)}
    if as_json:
        emit_json(document)
        return
    click.echo(f"Exported {report.organizations} organizations "
               f"({sum(report.rows.values())} rows) as HSDS {fmt} to {out} "
               f"in {document['seconds']} s.")


@main.command(name="import-hsds")
@click.argument("path", type=click.Path(path_type=Path))
@click.option("--dry-run", is_flag=True, help="Check everything and report; write nothing.")
@click.option("--strict", is_flag=True, help="Refuse the whole import if any row is rejected.")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@click.option("--source", "source_key", default=None,
              help="Name of the source in the ids derived for an older package's non-UUID "
                   "ids (default: the folder's or file's name); keep it across re-imports.")
@with_app
def import_hsds_command(app: Flask, path: Path, dry_run: bool, strict: bool,
                        as_json: bool, source_key: str | None) -> None:
    """Import an HSDS package (folder, .zip, datapackage.json) or HSDS 3.0 JSON document.

    HSDS 3.0, HSDS 1.x/2.x and the Ohana API's CSV export are recognised and converted.
    Idempotent by HSDS id: what the directory already has is updated, never duplicated.
    Exits 1 when nothing could be imported because of errors (or --strict refused).
    """
    from directory.hsds.reader import HsdsReadError, open_source

    upgrade(get_database(app))
    try:
        with open_source(path, source_key) as source:
            _import(source, str(path), dry_run=dry_run, strict=strict, as_json=as_json)
    except (HsdsReadError, OSError) as exc:
        raise click.ClickException(str(exc)) from exc


@main.command(name="import-csv")
@click.argument("path", type=click.Path(path_type=Path))
@click.option("--mapping", "mapping_path", type=click.Path(path_type=Path), required=True,
              help="TOML or JSON file naming the column of each listing field (docs/hsds.md).")
@click.option("--dry-run", is_flag=True, help="Check everything and report; write nothing.")
@click.option("--strict", is_flag=True, help="Refuse the whole import if any row is rejected.")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@with_app
def import_csv_command(app: Flask, path: Path, mapping_path: Path, dry_run: bool, strict: bool,
                       as_json: bool) -> None:
    """Import a spreadsheet (CSV, one organization a row) through a column mapping.

    The same rules and report as import-hsds; idempotent by the mapped id column (or the
    name). Exits 1 when nothing could be imported because of errors.
    """
    from directory.hsds.reader import HsdsReadError
    from directory.hsds.spreadsheet import Mapping, MappingError, open_spreadsheet

    upgrade(get_database(app))
    try:
        source = open_spreadsheet(path, Mapping.load(mapping_path))
        _import(source, str(path), dry_run=dry_run, strict=strict, as_json=as_json)
    except (HsdsReadError, MappingError) as exc:
        raise click.ClickException(str(exc)) from exc


def _import(source: Any, label: str, *, dry_run: bool, strict: bool, as_json: bool) -> None:
    """Run an import of ``source`` in one transaction and print its report; exit 1 when it
    imported nothing because of errors."""
    from directory.hsds.operations import apply_import, prepare_import
    from directory.seeding import SeedReport, load_taxonomy

    started = time.perf_counter()
    with transaction() as session:
        scope = session.begin_nested()  # a dry run leaves even the taxonomy as it was
        load_taxonomy(SeedReport())
        click.echo(f"Reading {label} ...", err=True)
        prepared = prepare_import(source, strict=strict, dry_run=dry_run, processes=2)
        with progress_bar(len(prepared.drafts), "Importing organizations") as update:
            report = apply_import(prepared, progress=update, processes=2)
        if dry_run:
            scope.rollback()
        else:
            scope.commit()
    seconds = time.perf_counter() - started
    document = report.as_dict() | {"seconds": round(seconds, 2),
                                   "rows_per_second": round(report.rows_read / seconds)}
    if as_json:
        emit_json(document)
    else:
        _print_import_report(document)
    if report.failed:
        raise click.exceptions.Exit(1)


def _print_import_report(document: dict[str, Any], limit: int = 50) -> None:
    counts = document["organizations"]
    click.echo(f"Read {document['rows_read']} rows from {document['source']} in "
               f"{document['seconds']} s ({document['rows_per_second']} rows/s).")
    click.echo(f"Format: {document['format']}"
               + (f" ({document['format_evidence']})." if document["format_evidence"] else "."))
    click.echo(f"Organizations: {counts['created']} created, {counts['updated']} updated, "
               f"{counts['unchanged']} unchanged, {counts['rejected']} rejected"
               + (" (dry run: nothing was written)." if document["dry_run"] else "."))
    if document["refused"]:
        click.echo("Refused (--strict): rows were rejected, so nothing was written.")
    elif document["failed"]:
        click.echo("Nothing was imported: every organization was rejected (see below).")
    for title, problems in (("Rejected", document["rejected"]),
                            ("Warnings", document["warnings"])):
        if problems:
            click.echo(f"{title} ({len(problems)}):")
        for problem in problems[:limit]:
            where = f" row {problem['row']}" if problem["row"] not in (None, "") else ""
            click.echo(f"  {problem['file']}{where}: {problem['message']}")
        if len(problems) > limit:
            click.echo(f"  ... and {len(problems) - limit} more (--json lists them all)")
    if document["ignored"]:
        click.echo("Not held by the directory, ignored: " + ", ".join(
            f"{name} ({count})" for name, count in document["ignored"].items()))
    if document["skipped"]:
        click.echo("Files skipped:")
        for name, reason in document["skipped"].items():
            click.echo(f"  {name}: {reason}")


@main.command()
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@with_app
def sweep(app: Flask, as_json: bool) -> None:
    """Expire overdue referrals, warn of near deadlines, purge client data past its purpose,
    and delete sessions, links, tokens and sent mail 30 days after they stopped working.

    Idempotent and safe to run from cron at any frequency."""
    from directory.db import forget_old_pages
    from directory.maintenance import sweep as run_sweep
    from directory.ops.metrics import record_sweep

    with transaction():
        report = run_sweep()
    record_sweep(app.instance_path, report.as_dict())
    if report.referrals.purged or report.referrals.identifying_purged:
        forget_old_pages(get_database(app).engine)
    if as_json:
        emit_json(report.as_dict())
        return
    referrals, deleted = report.referrals, report.deleted
    click.echo(f"Expired {len(referrals.expired)}; warned of a near deadline "
               f"{len(referrals.due_soon)}; identifying details purged "
               f"{len(referrals.identifying_purged)}; client details purged past retention "
               f"{len(referrals.purged)}.")
    click.echo(f"Deleted {deleted['sessions']} browser session(s), "
               f"{deleted['account_tokens']} password-reset or confirmation link(s), "
               f"{deleted['invitations']} invitation(s), {deleted['api_tokens']} API token(s) "
               f"and {deleted['sent_mail']} sent message(s) no longer in use.")
    listings = report.listings
    click.echo(f"Listings not confirmed for {app.config['LISTING_REVIEW_DAYS']} days: "
               f"{listings.stale}; admins reminded for the first time {listings.first}, "
               f"again {listings.second}; without an admin to remind {listings.without_admin}.")


@main.command(name="rotate-data-key")
@click.option("--json", "as_json", is_flag=True, help="Print the count as JSON.")
@with_app
def rotate_data_key_command(app: Flask, as_json: bool) -> None:
    """Re-encrypt everything DIRECTORY_DATA_KEY encrypts (client details, notes, two-factor
    secrets) with its newest key.

    Put the new key first (DIRECTORY_DATA_KEY=new,old), run this, then drop the old key."""
    from directory.datakey import DataKeyError, rotate_data_key

    try:
        with transaction():
            count = rotate_data_key()
    except DataKeyError as exc:
        raise click.ClickException(f"{exc} Nothing was re-encrypted.") from exc
    if as_json:
        emit_json({"rotated": count})
    else:
        click.echo(f"Re-encrypted {count} stored value(s) with the newest data key.")


@main.command(name="backup")
@click.argument("out", type=click.Path(path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print the manifest as JSON.")
@with_app
def backup_command(app: Flask, out: Path, as_json: bool) -> None:
    """Write a consistent copy of the database to the file OUT, while the server runs.

    Client details stay encrypted in it: keep DIRECTORY_DATA_KEY apart from backups."""
    from directory.ops.backup import BackupError, backup

    try:
        manifest = backup(get_database(app), out)
    except (BackupError, OSError) as exc:
        raise click.ClickException(str(exc)) from exc
    if as_json:
        emit_json(manifest.__dict__)
    else:
        click.echo(f"Backed up {safe_database_url(app)} (schema {manifest.schema_revision}, "
                   f"directory {manifest.application_version}) to {out}.")


@main.command(name="restore")
@click.argument("source", metavar="IN", type=click.Path(path_type=Path, exists=True,
                                                        dir_okay=False))
@click.option("--force", is_flag=True, help="Replace a database that already holds data.")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@with_app
def restore_command(app: Flask, source: Path, force: bool, as_json: bool) -> None:
    """Restore the backup IN into the configured database (stop the server first), then
    upgrade it to the newest schema."""
    from directory.ops.backup import BackupError, restore

    try:
        report = restore(get_database(app), source, force=force)
    except (BackupError, OSError) as exc:
        raise click.ClickException(str(exc)) from exc
    if as_json:
        emit_json(report.as_dict())
        return
    click.echo(f"Restored {source} (schema {report.manifest.schema_revision}, taken "
               f"{report.manifest.created_at}) into {safe_database_url(app)}.")
    if report.upgraded_to:
        click.echo(f"Upgraded the schema from {report.restored_revision} to "
                   f"{report.upgraded_to}.")
