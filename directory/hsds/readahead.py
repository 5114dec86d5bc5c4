"""Reading a large package on two processors: a forked child reads and checks the two
largest tables, which come last (languages and attributes: half the rows of a typical
package), while this process reads and folds the tables before them.

The child is forked before any of those tables is read and never touches the database. It
writes each table's rows, as read and checked (row number, values, problems), pickled a chunk
at a time into a temporary file of its own, then says over a pipe that the table is done,
with the notes its header gave (columns not in HSDS) and the read error that ended it, if
any. When the assembler reaches that table it takes the rows from the file: the same rows,
notes and errors, in the same order, as reading the file itself (tests/hsds/test_readahead.py
compares them). Nothing but those files, written by this process's own child, is unpickled.
A table the child cannot write (a full disk) or open is left to this process, which reads it
and those after it itself, as without a child (meeting the same error, if any).
"""

from __future__ import annotations

import contextlib
import logging
import os
import pickle  # nosec B403
import signal
import tempfile
from collections.abc import Callable, Iterator
from multiprocessing.connection import Connection
from typing import IO, Any

from directory.hsds.forked import fork_child
from directory.hsds.reader import HsdsReadError, PackageSource, Source, SourceRow
from directory.hsds.report import Problem

log = logging.getLogger(__name__)

READ_AHEAD = ("language", "attribute")
# Below this many bytes in those files, a second process is not worth its start.
READ_AHEAD_FROM = 8 * 2**20
_CHUNK = 20_000


def read_ahead(source: Source) -> None:
    """Start reading ``source``'s largest tables in a forked child when it is an HSDS 3.0
    package big enough to gain from it (older shapes are converted with state kept from
    table to table, and a JSON document is already in memory)."""
    if type(source) is not PackageSource:
        return
    tables = [table for table in READ_AHEAD if source.paths[table] in source.names]
    if tables and sum(source.size(source.paths[table]) for table in tables) >= READ_AHEAD_FROM:
        try:
            source.ahead = ReadAhead(source, tables)
        except OSError as exc:  # no temporary file or no process to be had
            log.warning("%s is read in one process: %s", source.label, exc)


class ReadAhead:
    """The child reading some tables of a package, and the files it writes them into."""

    def __init__(self, source: PackageSource, tables: list[str]) -> None:
        self.files: dict[str, IO[bytes]] = {  # closed once read, or by close()
            table: tempfile.TemporaryFile() for table in tables}  # noqa: SIM115
        self.done: dict[str, tuple[list[Problem], str | None, bool]] = {}
        try:
            self.pid, receiving = fork_child(
                lambda sending: self._write_all(source, tables, sending),
                lambda trace: ("", [], trace, False))
        except OSError:
            for file in self.files.values():
                file.close()
            raise
        self.receiving: Connection | None = receiving

    def holds(self, table: str) -> bool:
        return table in self.files

    def _write_all(self, source: PackageSource, tables: list[str], sending: Connection) -> None:
        """The child's work: each table into its file, until one cannot be written; that one
        and those after it are said to be left to the parent."""
        source.reopen()
        written = True
        for table in tables:
            written = written and self._write(source, table, sending)
            if not written:
                sending.send((table, [], None, False))

    @staticmethod
    def _dump(chunk: list[Any], file: IO[bytes]) -> None:
        pickle.dump(chunk, file, protocol=pickle.HIGHEST_PROTOCOL)

    def _write(self, source: PackageSource, table: str, sending: Connection) -> bool:
        """Read ``table`` into its file and say so; False (nothing said) when the file cannot
        be written or the table opened."""
        file, marks = self.files[table], len(source.notes)
        chunk: list[tuple[int | str, dict[str, Any], tuple[str, ...]]] = []
        error = None
        try:
            try:
                for row in source.read(table):
                    chunk.append((row.row, row.values, row.problems))
                    if len(chunk) >= _CHUNK:
                        self._dump(chunk, file)
                        chunk = []
            except HsdsReadError as exc:
                error = str(exc)
            self._dump(chunk, file)
            file.flush()
        except OSError:
            return False
        sending.send((table, source.notes[marks:], error, True))
        return True

    def rows(self, table: str, path: str, notes: list[Problem],
             in_place: Callable[[str], Iterator[SourceRow]]) -> Iterator[SourceRow]:
        """The rows of ``table`` (file ``path``) once the child has read it all; its header's
        notes join ``notes`` first, as reading the file would add them. ``in_place`` reads the
        table here, when the child could not."""
        while table not in self.done:
            assert self.receiving is not None
            try:
                name, found, error, written = self.receiving.recv()
            except EOFError:
                self.close()
                raise RuntimeError("the import's reading process ended unexpectedly") from None
            if not name:
                self.close()
                raise RuntimeError(f"the import's reading process failed:\n{error}")
            self.done[name] = (found, error, written)
        found, error, written = self.done.pop(table)
        file = self.files.pop(table)
        if not self.files:  # the child has said all it will
            self.close()
        if not written:
            file.close()
            yield from in_place(table)
            return
        notes.extend(found)
        with file:
            file.seek(0)
            while True:
                try:
                    chunk = pickle.load(file)  # nosec B301
                except EOFError:
                    break
                for number, values, problems in chunk:
                    yield SourceRow(path, number, values, problems)
        if error is not None:
            raise HsdsReadError(error)

    def close(self) -> None:
        """Stop the child (when it is still reading: the import ended without its tables) and
        let go of its files."""
        if self.receiving is None:
            return
        self.receiving.close()
        self.receiving = None
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.pid, signal.SIGKILL)
        os.waitpid(self.pid, 0)
        for file in self.files.values():
            file.close()
        self.files.clear()
