"""Vendored front-end files, test tooling and the shipped HSDS standard are exactly the recorded
releases: each folder's SHA256SUMS names every file in it (but its README and itself) with its
SHA-256."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
FOLDERS = [ROOT / "static" / "vendor", ROOT / "tests" / "web" / "vendor",
           ROOT / "directory" / "hsds" / "standard"]


def recorded(folder: Path) -> dict[str, str]:
    lines = (folder / "SHA256SUMS").read_text(encoding="utf-8").splitlines()
    return {name: digest for digest, name in (line.split(maxsplit=1) for line in lines)}


def present(folder: Path) -> set[str]:
    return {path.relative_to(folder).as_posix() for path in folder.rglob("*")
            if path.is_file() and path.name not in {"README.md", "SHA256SUMS"}}


@pytest.mark.parametrize("folder", FOLDERS, ids=lambda folder: folder.relative_to(ROOT).as_posix())
def test_every_vendored_file_is_recorded_with_its_checksum(folder: Path) -> None:
    sums = recorded(folder)
    assert set(sums) == present(folder)
    for name, digest in sums.items():
        assert hashlib.sha256((folder / name).read_bytes()).hexdigest() == digest, name
