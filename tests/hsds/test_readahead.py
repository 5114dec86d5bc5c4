"""A package's largest tables read ahead in a forked child (directory.hsds.readahead): the
same rows, notes and errors as reading them in place, from a folder or a zip, and no child
left behind however the reading ends."""

from __future__ import annotations

import csv
import os
import zipfile
from pathlib import Path
from typing import Any

import pytest

from directory.hsds import readahead
from directory.hsds.reader import HELD, HsdsReadError, PackageSource, Source, open_source
from tests.hsds.conftest import export_to, read_csv


@pytest.fixture
def package(demo_network: int, tmp_path: Path) -> Path:
    """The demo network's package, with a column HSDS does not define in languages.csv (a
    note) and an attribute whose link is not a UUID (a row with a problem)."""
    path = export_to(tmp_path / "package")
    languages = read_csv(path / "languages.csv")
    with (path / "languages.csv").open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=[*languages[0], "dialect"])
        writer.writeheader()
        writer.writerows(row | {"dialect": "x"} for row in languages)
    attributes = read_csv(path / "attributes.csv")
    assert len(languages) > 10 and len(attributes) > 10
    attributes[3]["link_id"] = "not-a-uuid"
    with (path / "attributes.csv").open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(attributes[0]))
        writer.writeheader()
        writer.writerows(attributes)
    return path


def _zipped(package: Path) -> Path:
    archive = package.with_suffix(".zip")
    with zipfile.ZipFile(archive, "w") as handle:
        for item in sorted(package.iterdir()):
            handle.write(item, f"export/{item.name}")
    return archive


def _read_all(source: Source) -> tuple[list[tuple[Any, ...]], list[Any]]:
    rows = [(table, row.file, row.row, row.values, row.problems)
            for table in HELD for row in source.rows(table)]
    return rows, list(source.notes)


def _read_ahead(source: Source, monkeypatch: pytest.MonkeyPatch) -> readahead.ReadAhead:
    monkeypatch.setattr(readahead, "READ_AHEAD_FROM", 1)
    readahead.read_ahead(source)
    assert isinstance(source, PackageSource) and source.ahead is not None
    return source.ahead


def _read_here(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The tables read ahead that this process reads itself (a child's reads are its own)."""
    tables: list[str] = []
    real = PackageSource.read

    def counted(self: PackageSource, table: str) -> Any:
        if table in readahead.READ_AHEAD:
            tables.append(table)
        return real(self, table)

    monkeypatch.setattr(PackageSource, "read", counted)
    return tables


def _reaped(pid: int) -> bool:
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        return True
    return False


@pytest.mark.parametrize("zipped", [False, True])
def test_tables_read_ahead_are_the_tables_read_in_place(
        package: Path, monkeypatch: pytest.MonkeyPatch, zipped: bool) -> None:
    path = _zipped(package) if zipped else package
    with open_source(path) as source:
        in_place = _read_all(source)
    read_here = _read_here(monkeypatch)
    with open_source(path) as source:
        ahead = _read_ahead(source, monkeypatch)
        assert [table for table in readahead.READ_AHEAD if ahead.holds(table)] == [
            "language", "attribute"]
        read_ahead = _read_all(source)
        assert read_here == []
        assert not ahead.holds("language") and not ahead.holds("attribute")
        assert _reaped(ahead.pid)
    assert read_ahead == in_place
    rows, notes = in_place
    assert any("dialect" in note.message for note in notes)
    assert any(table == "attribute" and problems for table, *_, problems in rows)


def test_a_small_package_or_a_json_document_is_read_in_place(
        package: Path, tmp_path: Path) -> None:
    with open_source(package) as source:
        readahead.read_ahead(source)  # a few kB: not worth a second process
        assert isinstance(source, PackageSource) and source.ahead is None
    document = tmp_path / "one.json"
    document.write_text('{"id": "x", "name": "One"}', encoding="utf-8")
    with open_source(document) as source:
        readahead.read_ahead(source)
        assert not hasattr(source, "ahead")


def test_a_table_that_cannot_be_read_fails_as_it_does_in_place(
        package: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with (package / "attributes.csv").open("ab") as handle:
        handle.write(b"\xff\xfe not UTF-8\r\n")
    messages = []
    for ahead in (False, True):
        with open_source(package) as source:
            if ahead:
                _read_ahead(source, monkeypatch)
            with pytest.raises(HsdsReadError) as caught:
                _read_all(source)
            messages.append(str(caught.value))
    assert messages[0] == messages[1]
    assert "attributes.csv cannot be read as UTF-8 CSV" in messages[0]


def test_a_reading_child_that_fails_fails_the_import_with_its_traceback(
        package: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    real = PackageSource.read

    def broken(self: PackageSource, table: str) -> Any:
        if table == "attribute":
            raise ValueError("the disk went away")
        return real(self, table)

    monkeypatch.setattr(PackageSource, "read", broken)  # the child is a copy: it has it too
    with open_source(package) as source:
        ahead = _read_ahead(source, monkeypatch)
        list(source.rows("language"))
        with pytest.raises(RuntimeError, match="(?s)reading process failed.*the disk went away"):
            list(source.rows("attribute"))
        assert _reaped(ahead.pid)


def test_a_source_closed_before_its_tables_are_read_stops_the_child(
        package: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with open_source(package) as source:
        ahead = _read_ahead(source, monkeypatch)
        list(source.rows("organization"))
    assert _reaped(ahead.pid) and not ahead.files


def test_tables_the_child_cannot_write_are_read_in_place(
        package: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A full disk under the child's files: the parent reads those tables itself, with the
    same rows and notes."""
    with open_source(package) as source:
        in_place = _read_all(source)

    def full(_chunk: Any, _file: Any) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(readahead.ReadAhead, "_dump", staticmethod(full))
    read_here = _read_here(monkeypatch)
    with open_source(package) as source:
        ahead = _read_ahead(source, monkeypatch)
        assert _read_all(source) == in_place
        assert read_here == ["language", "attribute"]
        assert _reaped(ahead.pid) and not ahead.files


def test_a_package_is_read_in_one_process_when_no_child_can_be_forked(
        package: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with open_source(package) as source:
        in_place = _read_all(source)

    def no_fork() -> int:
        raise OSError(11, "Resource temporarily unavailable")

    monkeypatch.setattr(readahead.os, "fork", no_fork)
    monkeypatch.setattr(readahead, "READ_AHEAD_FROM", 1)
    with open_source(package) as source:
        readahead.read_ahead(source)
        assert isinstance(source, PackageSource) and source.ahead is None
        assert _read_all(source) == in_place
