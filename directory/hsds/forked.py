"""Creating an import's new organizations on two processors: a forked child checks and builds
each listing and its rows (the schema's rules, the name and slug checks: most of the work)
while the parent writes the batches it sends. One writer, as SQLite requires.

The child is a copy of the parent made after the source was read (``os.fork``: the drafts are
shared, not sent). It never touches the database: everything it reads from there (the names
and slugs taken, the ids already owned, the categories) was read before the fork. It sends,
in the order of the drafts, what a one-process import would have done between two flushes:
the problems and warnings it found, how many drafts it went through, and the rows of the
batch to write (plain values, pickled). The parent adds the problems to its report, writes
the batch (redoing it one by one when the database refuses it, exactly as in one process)
and moves the progress bar. The report is the same, entry for entry, as a one-process run
(tests/hsds/test_import.py compares them).
"""

from __future__ import annotations

import contextlib
import os
import signal
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from multiprocessing import Pipe
from multiprocessing.connection import Connection

from directory.hsds.assemble import OrgDraft
from directory.hsds.creating import Creator, NewRows
from directory.hsds.report import ImportReport, Problem

Plan = Callable[[int, OrgDraft, Creator], NewRows | None]


@dataclass
class _Step:
    """What the child did since its last message: drafts gone through, problems found, and
    the batch to write (empty on the last message)."""

    drafts: int = 0
    rejected: list[Problem] = field(default_factory=list)
    organizations_rejected: int = 0
    warnings: list[Problem] = field(default_factory=list)
    batch: list[NewRows] = field(default_factory=list)
    last: bool = False
    failure: str | None = None


def can_fork() -> bool:
    return hasattr(os, "fork")


def fork_child(work: Callable[[Connection], None],
               failure: Callable[[str], object]) -> tuple[int, Connection]:
    """Fork a child that runs ``work`` with the sending end of a pipe, then ends without
    returning (``os._exit``: no clean-up, the database connections are the parent's). A
    failure is sent as ``failure(traceback)``, for the parent to raise. Returns the child's
    pid and the receiving end."""
    receiving, sending = Pipe(duplex=False)
    try:
        pid = os.fork()
    except OSError:
        receiving.close()
        sending.close()
        raise
    if pid == 0:  # the child: never returns
        receiving.close()
        status = 1
        try:
            work(sending)
            status = 0
        except BaseException:  # noqa: BLE001 - said to the parent, which raises it
            with contextlib.suppress(BaseException):  # else the parent sees the pipe close
                sending.send(failure(traceback.format_exc()))
        finally:
            os._exit(status)
    sending.close()
    return pid, receiving


def create_in_child(drafts: list[OrgDraft], creator: Creator, plan: Plan,
                    progress: Callable[[int], None] | None, batch_size: int) -> None:
    """Plan every draft (``plan``: the one-process loop's body, which rejects into
    ``creator.report`` and returns the rows to write, or None) in a forked child; write what
    it sends through ``creator``, a batch at a time."""
    pid, receiving = fork_child(
        lambda sending: _plan_all(drafts, creator, plan, sending, batch_size),
        lambda trace: _Step(last=True, failure=trace))
    try:
        _write_all(receiving, creator, progress)
    except BaseException:
        os.kill(pid, signal.SIGKILL)
        raise
    finally:
        receiving.close()
        os.waitpid(pid, 0)


def _plan_all(drafts: list[OrgDraft], creator: Creator, plan: Plan, sending: Connection,
              batch_size: int) -> None:
    report = creator.report
    marks = [len(report.rejected), report.organizations_rejected, len(report.warnings)]
    step = _Step()

    def send(last: bool = False) -> None:
        nonlocal step
        step.rejected = report.rejected[marks[0]:]
        step.organizations_rejected = report.organizations_rejected - marks[1]
        step.warnings = report.warnings[marks[2]:]
        marks[:] = [len(report.rejected), report.organizations_rejected, len(report.warnings)]
        step.last = last
        sending.send(step)
        step = _Step()

    for position, draft in enumerate(drafts):
        rows = plan(position, draft, creator)
        step.drafts += 1
        if rows is not None:
            rows.listing = None  # the parent has the draft; only the rows cross
            step.batch.append(rows)
            if len(step.batch) >= batch_size:
                send()
    send(last=True)


def _write_all(receiving: Connection, creator: Creator,
               progress: Callable[[int], None] | None) -> None:
    report: ImportReport = creator.report
    while True:
        try:
            step: _Step = receiving.recv()
        except EOFError:
            raise RuntimeError("the import's planning process ended unexpectedly") from None
        if step.failure is not None:
            raise RuntimeError(f"the import's planning process failed:\n{step.failure}")
        report.rejected.extend(step.rejected)
        report.organizations_rejected += step.organizations_rejected
        report.warnings.extend(step.warnings)
        for rows in step.batch:
            creator.queue(rows)
        if progress and step.drafts:
            progress(step.drafts)
        if step.last:
            creator.flush()
            return
