"""What an import did: counts, and each row it could not take, by file and row."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from flask_babel import ngettext


@dataclass(frozen=True, slots=True)
class Problem:
    """A row the import rejected or only partly used. ``row`` is the CSV row number (the header
    is row 1, as in `frictionless validate`) or, in a JSON file, the JSON pointer of the object."""

    file: str
    row: int | str | None
    message: str
    id: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"file": self.file, "row": self.row, "id": self.id, "message": self.message}


@dataclass
class ImportReport:
    source: str
    format: str = "HSDS 3.0"
    format_evidence: str = ""
    dry_run: bool = False
    strict: bool = False
    rows_read: int = 0
    organizations: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    organizations_rejected: int = 0
    refused: bool = False
    rejected: list[Problem] = field(default_factory=list)
    warnings: list[Problem] = field(default_factory=list)
    ignored: dict[str, int] = field(default_factory=dict)
    skipped: dict[str, str] = field(default_factory=dict)

    def reject(self, row: Any, problems: list[Problem]) -> None:
        """One organization rejected (``row``: the SourceRow of its organization) for
        ``problems``, which may be in other rows of it."""
        self.organizations_rejected += 1
        self.rejected.extend(problems)
        if any((problem.file, problem.row) != (row.file, row.row) for problem in problems):
            self.rejected.append(row.problem(ngettext(
                "organization not imported: %(num)d problem in its rows",
                "organization not imported: %(num)d problems in its rows", len(problems))))

    @property
    def imported(self) -> int:
        return self.created + self.updated + self.unchanged

    @property
    def failed(self) -> bool:
        """Nothing imported because of errors (or refused by --strict): the run failed."""
        return self.refused or (self.imported == 0 and bool(
            self.organizations_rejected or self.rejected))

    def as_dict(self) -> dict[str, Any]:
        return {
            "source": self.source, "format": self.format,
            "format_evidence": self.format_evidence, "dry_run": self.dry_run,
            "strict": self.strict, "refused": self.refused, "failed": self.failed,
            "rows_read": self.rows_read,
            "organizations": {"in_source": self.organizations, "created": self.created,
                              "updated": self.updated, "unchanged": self.unchanged,
                              "rejected": self.organizations_rejected},
            "rejected": [problem.as_dict() for problem in self.rejected],
            "warnings": [problem.as_dict() for problem in self.warnings],
            "ignored": dict(sorted(self.ignored.items())),
            "skipped": dict(sorted(self.skipped.items())),
        }
