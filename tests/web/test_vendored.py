"""The vendored front-end files are the ones recorded in static/vendor/SHA256SUMS: nothing
changed, added or removed without the record saying so."""

from __future__ import annotations

import hashlib

from directory.config import PROJECT_ROOT

VENDOR = PROJECT_ROOT / "static" / "vendor"
NOT_VENDORED = {"SHA256SUMS", "README.md"}


def _recorded() -> dict[str, str]:
    sums = {}
    for line in (VENDOR / "SHA256SUMS").read_text().splitlines():
        digest, name = line.split(maxsplit=1)
        sums[name.strip()] = digest
    return sums


def test_every_vendored_file_matches_its_recorded_checksum() -> None:
    present = {path.relative_to(VENDOR).as_posix(): hashlib.sha256(path.read_bytes()).hexdigest()
               for path in VENDOR.rglob("*") if path.is_file() and path.name not in NOT_VENDORED}
    assert present == _recorded()
