"""HSDS import orchestration: read and assemble a source, then create or update each
organization (one savepoint per organization or batch, so each is applied whole or not at all),
all inside one outer savepoint that a dry run or a refused strict import rolls back. Operations
flush; the caller (a CLI command, a request) commits.
"""

from __future__ import annotations

import gc
import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from flask_babel import gettext as _
from sqlalchemy import select, text
from sqlalchemy.exc import DataError, IntegrityError

from directory.accounts.models import User
from directory.db import db_session
from directory.hsds.assemble import Assembler, Listing, OrgDraft, build_listing
from directory.hsds.creating import CREATE_BATCH, Creator, NewRows, _create_organization
from directory.hsds.forked import can_fork, create_in_child
from directory.hsds.readahead import read_ahead
from directory.hsds.reader import Source
from directory.hsds.report import ImportReport, Problem
from directory.hsds.taxonomy import TermResolver, service_categories
from directory.hsds.updating import (
    Loader,
    Snapshots,
    chunks,
    unchanged,
    update_organization,
)
from directory.orgs.models import (
    Contact,
    CoverageArea,
    Location,
    OpeningHours,
    Organization,
    OrganizationLanguage,
    OrganizationPopulation,
    Service,
    ServiceCategory,
    coverage_area_services,
)
from directory.orgs.operations import (
    ListingError,
)

log = logging.getLogger(__name__)

Progress = Callable[[int], None]

# Fewer new organizations than this are not worth a second process (forking costs ~20 ms).
FORK_FROM = 2_000


# --- import ------------------------------------------------------------------------------------

@dataclass
class PreparedImport:
    """A source read and assembled into organization drafts, nothing written yet."""

    drafts: list[OrgDraft]
    report: ImportReport
    resolver: TermResolver


def prepare_import(source: Source, *, strict: bool = False, dry_run: bool = False,
                   processes: int = 1) -> PreparedImport:
    """Read every table of ``source`` and fold its rows into organization drafts; rows that
    belong to no organization are reported here. Raises HsdsReadError for unreadable input.
    ``processes=2`` lets a large package's biggest tables be read in a forked child while this
    process reads the others (directory.hsds.readahead): the same drafts and report."""
    report = ImportReport(source=source.label, format=source.format,
                          format_evidence=source.format_evidence, strict=strict,
                          dry_run=dry_run)
    categories = {category.code: category.name for category in service_categories()}
    assembler = Assembler(source, categories, report)
    if processes > 1 and can_fork():
        read_ahead(source)
    with _rare_collections():
        drafts = assembler.run()
    assert assembler.resolver is not None
    report.organizations += len(drafts)
    report.skipped.update(source.skipped)
    return PreparedImport(drafts, report, assembler.resolver)


def _existing_organizations(drafts: list[OrgDraft]) -> dict[str, int]:
    ids = [draft.hsds_id for draft in drafts]
    found: dict[str, int] = {}
    for chunk in chunks(ids):
        found.update(db_session.execute(
            select(Organization.hsds_id, Organization.id).where(Organization.hsds_id.in_(chunk))
        ).tuples().all())
    return found


def _existing_owners(drafts: list[OrgDraft]) -> dict[str, str]:
    """Service and location ids of the source that the directory already has, with the HSDS
    id of the organization that holds each."""
    owners: dict[str, str] = {}
    for model, attribute in ((Service, "services"), (Location, "locations")):
        ids = [item.hsds_id for draft in drafts for item in getattr(draft, attribute)]
        for chunk in chunks(ids):
            owners.update(db_session.execute(
                select(model.hsds_id, Organization.hsds_id)
                .join(Organization, model.organization_id == Organization.id)
                .where(model.hsds_id.in_(chunk))
            ).tuples().all())
    return owners


def _foreign_ids(listing: Listing, owners: dict[str, str]) -> list[Problem]:
    """Services or locations whose ids the directory already holds for another organization."""
    problems = []
    draft = listing.draft
    items = [(service.hsds_id, service.row) for service in draft.services
             if service.hsds_id in listing.service_ids.values()]
    items += [(location.hsds_id, location.row) for location in draft.locations
              if location.hsds_id in listing.location_ids]
    for hsds_id, row in items:
        owner = owners.get(hsds_id)
        if owner is not None and owner != draft.hsds_id:
            problems.append(row.problem(_("id %(id)s already belongs to another organization "
                                          "(%(owner)s) in the directory", id=hsds_id,
                                          owner=owner)))
    return problems


_IMPORTED_TABLES = (Organization, OrganizationLanguage, OrganizationPopulation, Service,
                    Contact, Location, OpeningHours, CoverageArea)


def refresh_statistics() -> None:
    """ANALYZE the tables an import wrote, so that the planner does not go on estimating from
    the empty directory it saw before (harmless on SQLite, where it fills sqlite_stat1)."""
    tables = [model.__table__.name for model in _IMPORTED_TABLES]
    tables.append(coverage_area_services.name)
    for name in tables:
        db_session.execute(text(f'ANALYZE "{name}"'))


@contextmanager
def _rare_collections() -> Iterator[None]:
    """Full collections of the cyclic garbage collector made rarer: each rescans every
    object alive, and reading a package makes millions that stay (the drafts)."""
    thresholds = gc.get_threshold()
    gc.set_threshold(max(thresholds[0], 50_000), thresholds[1], max(thresholds[2], 100))
    try:
        yield
    finally:
        gc.set_threshold(*thresholds)


@contextmanager
def _long_lived_objects() -> Iterator[None]:
    """An import holds millions of small objects until it ends (the drafts read, the rows
    written): left alone, the cyclic garbage collector rescans all of them at every full
    collection, a third of the import's time. The drafts are frozen out of its sight and
    full collections made rarer while the import runs."""
    gc.collect()
    gc.freeze()
    try:
        with _rare_collections():
            yield
    finally:
        gc.unfreeze()


def apply_import(prepared: PreparedImport, progress: Progress | None = None, *,
                 actor: User | None = None, processes: int = 1) -> ImportReport:
    """Create or update each organization of a prepared import in its own savepoint, as
    ``actor`` (the coordinator who uploaded it; None for the command line), who is named in
    each listing's audit entry.

    Idempotent by HSDS id: an organization, service or location the directory already has
    under that id is updated, never duplicated. In a dry run everything is rolled back at the
    end; in a strict import any rejected row rolls everything back (and once one is found,
    the rest is only checked, not written).

    ``processes=2`` lets a large import of only new organizations (not strict) check and
    build them in a forked child while this process writes them (directory.hsds.forked): the
    same rows and report, in less time. The command line asks for it; a web request does not
    fork.
    """
    with _long_lived_objects():
        return _apply_import(prepared, progress, actor, processes)


def _apply_import(prepared: PreparedImport, progress: Progress | None,
                  actor: User | None, processes: int) -> ImportReport:
    report = prepared.report
    categories = {category.code: category for category in service_categories()}
    existing = _existing_organizations(prepared.drafts)
    owners = _existing_owners(prepared.drafts)

    def redo(rows: NewRows) -> None:
        listing = rows.listing
        if listing is None:  # built in the forked child: built again (its warnings were said)
            listing, _problems = build_listing(prepared.drafts[rows.position], prepared.resolver,
                                               ImportReport(source=report.source))
            assert listing is not None
        _apply(listing, None, categories, report, actor)

    def checked(draft: OrgDraft, report: ImportReport) -> Listing | None:
        """The draft's listing, or None when it is rejected (into ``report``)."""
        listing, problems = build_listing(draft, prepared.resolver, report)
        if listing is not None:
            problems = _foreign_ids(listing, owners)
        if listing is None or problems:
            report.reject(draft.row, problems)
            return None
        return listing

    def plan(position: int, draft: OrgDraft, creator: Creator) -> NewRows | None:
        listing = checked(draft, creator.report)
        return None if listing is None else creator.plan(listing, position)

    outer = db_session.begin_nested()
    try:
        creator = Creator(categories, report, actor, redo=redo)
        if (processes > 1 and not existing and not report.strict and can_fork()
                and len(prepared.drafts) >= FORK_FROM):
            creator.triggers.suspend()  # back by the end, or by the rollback of an error
            create_in_child(prepared.drafts, creator, plan, progress, CREATE_BATCH)
            creator.triggers.restore()
        else:
            _apply_one_process(prepared, progress, creator, existing, checked, plan, categories,
                               actor)
        report.refused = report.strict and bool(report.rejected)
        if report.dry_run or report.refused:
            outer.rollback()
        else:
            outer.commit()
            if report.created or report.updated:
                refresh_statistics()
    except BaseException:
        if outer.is_active:
            outer.rollback()
        raise
    log.info("HSDS import from %s: %d created, %d updated, %d unchanged, %d rejected%s",
             report.source, report.created, report.updated, report.unchanged,
             report.organizations_rejected, " (dry run)" if report.dry_run else "")
    return report


def _apply_one_process(prepared: PreparedImport, progress: Progress | None, creator: Creator,
                       existing: dict[str, int],
                       checked: Callable[[OrgDraft, ImportReport], Listing | None],
                       plan: Callable[[int, OrgDraft, Creator], NewRows | None],
                       categories: dict[str, ServiceCategory], actor: User | None) -> None:
    report = prepared.report
    held = [existing[draft.hsds_id] for draft in prepared.drafts if draft.hsds_id in existing]
    snapshots, loader = Snapshots(held), Loader(held)
    for position, draft in enumerate(prepared.drafts):
        write = not (report.strict and report.rejected)
        if draft.hsds_id not in existing:
            rows = plan(position, draft, creator)
            if rows is not None and write:
                creator.queue(rows)
        else:
            listing = checked(draft, report)
            if listing is not None and write:
                creator.flush()
                # Compared as stored rows first: only a changed one is loaded as objects.
                if unchanged(snapshots.get(existing[draft.hsds_id]), listing):
                    report.unchanged += 1
                else:
                    organization = loader.get(existing[draft.hsds_id])
                    if unchanged(organization, listing):
                        report.unchanged += 1
                    else:
                        _apply(listing, organization, categories, report, actor)
                        creator.names.add(listing.data["name"].strip().lower())
        if progress:
            progress(1)
    creator.flush()


def _apply(listing: Listing, organization: Organization | None,
           categories: dict[str, ServiceCategory], report: ImportReport,
           actor: User | None) -> None:
    """Create (``organization`` None) or update one organization in its own savepoint."""
    draft = listing.draft
    try:
        with db_session.begin_nested():
            if organization is None:
                _create_organization(actor, listing)
                report.created += 1
            elif update_organization(actor, organization, listing, categories):
                report.updated += 1
            else:
                report.unchanged += 1
    except ListingError as exc:
        report.reject(draft.row, [draft.row.problem(str(exc))])
    except (IntegrityError, DataError) as exc:
        detail = str(exc.orig).strip().splitlines()[0] if exc.orig else str(exc)
        report.reject(draft.row, [draft.row.problem(
            _("conflicts with data already in the directory: %(detail)s", detail=detail))])


def import_hsds(source: Source, *, strict: bool = False, dry_run: bool = False,
                progress: Progress | None = None, actor: User | None = None,
                processes: int = 1) -> ImportReport:
    """Read, check and apply an HSDS source in one call."""
    return apply_import(prepare_import(source, strict=strict, dry_run=dry_run,
                                       processes=processes),
                        progress, actor=actor, processes=processes)
