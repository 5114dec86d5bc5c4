"""Open Referral HSDS 3.0 export and import: the operations the CLI and the web call.

An export holds what a vetted member may see and nothing more (see exporting). An import goes
through ListingSchema's rules and create_organization's (creating) or the update that keeps the
same rules (updating), each organization applied whole or not at all (importing). Operations
flush; the caller (a CLI command, a request) commits.
"""

from directory.hsds.creating import _create_organization, build_organization
from directory.hsds.exporting import (
    EXPORT_FORMATS,
    ExportReport,
    export_csv,
    export_hsds,
    export_json,
    export_zip,
)
from directory.hsds.importing import (
    PreparedImport,
    apply_import,
    import_hsds,
    prepare_import,
    refresh_statistics,
)

__all__ = ["EXPORT_FORMATS", "ExportReport", "PreparedImport", "_create_organization",
           "apply_import", "build_organization", "export_csv", "export_hsds", "export_json",
           "export_zip", "import_hsds", "prepare_import", "refresh_statistics"]
