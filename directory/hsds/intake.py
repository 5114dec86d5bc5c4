"""The import's assembler: directory/hsds/assemble.py's rules, with what belongs to one location
kept to that location and every organization row counted.

- A location whose own row is bad (impossible or half-given coordinates, a malformed value) or
  that cannot be placed (no address and no coordinates, an address outside the US, no US place
  near its point) is dropped with a warning and its organization imported without it, whether
  the location came from locations.csv or from inside a JSON organization.
- An organization row that cannot even be read as one (no usable id, an id given twice) counts
  as a rejected organization.
- A language row with neither a code nor a name says so (not "language None").
"""

from __future__ import annotations

from directory.hsds.assemble import Assembler, LocationDraft, OrgDraft, _location_data
from directory.hsds.reader import SourceRow
from directory.hsds.report import Problem


class Intake(Assembler):
    """Assembler for imports (see the module's docstring for what it adds)."""

    def _organization(self, row: SourceRow) -> None:
        before = len(self.orgs)
        rejected = len(self.report.rejected)
        super()._organization(row)
        if len(self.orgs) == before and len(self.report.rejected) > rejected:
            self.report.organizations_rejected += 1
            self.report.organizations += 1

    def _attach_location(self, row: SourceRow, org: OrgDraft) -> None:
        if row.problems:
            self.warn(row, "location not imported (its organization is, without it): "
                      + "; ".join(row.problems))
            return
        super()._attach_location(row, org)

    def _language(self, row: SourceRow) -> None:
        if not row.problems and not (row.values.get("code") or row.values.get("name")):
            self.warn(row, "language not used: it has neither a code nor a name")
            return
        super()._language(row)

    def run(self) -> list[OrgDraft]:
        drafts = super().run()
        for org in drafts:
            org.locations = [location for location in org.locations
                             if not location.listed or self._placeable(location)]
        return drafts

    def _placeable(self, location: LocationDraft) -> bool:
        problems: list[Problem] = []
        if _location_data(location, problems) is not None:
            return True
        for problem in problems:
            self.report.warnings.append(Problem(
                problem.file, problem.row,
                f"location not imported (its organization is, without it): {problem.message}",
                problem.id))
        return False
