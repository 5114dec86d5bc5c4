"""Prometheus metrics: requests, latency and referral transitions as they happen; the mail
outbox and the last sweep read at each scrape.

Under gunicorn each worker is a process of its own: ``directory serve`` points
``PROMETHEUS_MULTIPROC_DIR`` at a directory (see ``directory.server``) before this module is
imported, every worker writes its counts there, and a scrape, answered by any one worker, adds
them all up. Labels never hold a raw path or a query string: a route is its URL rule
(``/organizations/<slug>``), so no searched place or referral id reaches the metrics.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from flask import Flask, current_app, g, request
from prometheus_client import (
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    multiprocess,
    values,
)
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy import func, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session
from werkzeug.wrappers import Response

from directory.db import Database, get_database, utcnow

log = logging.getLogger(__name__)

# Our own registry: nothing of the interpreter's default collectors, which multi-process mode
# cannot add up across workers anyway.
REGISTRY = CollectorRegistry(auto_describe=True)

REQUESTS = Counter("directory_http_requests", "HTTP requests answered, by route and status.",
                   ["route", "method", "status"], registry=REGISTRY)
LATENCY = Histogram("directory_http_request_duration_seconds",
                    "Time from the request's arrival in the application to its response.",
                    ["route", "method"], registry=REGISTRY,
                    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0))
TRANSITIONS = Counter("directory_referral_transitions",
                      "Committed referral state changes, by the state left and the one entered.",
                      ["from_status", "to_status"], registry=REGISTRY)

# Fixed when prometheus_client was imported, from PROMETHEUS_MULTIPROC_DIR at that moment.
MULTIPROCESS = values.ValueClass is not values.MutexValue
UNMATCHED_ROUTE = "<unmatched>"  # a URL no route answers (a 404): its path is not a label
SWEEP_RECORD = "last-sweep.json"
_PENDING_TRANSITIONS = "directory.metrics.transitions"


def route_label() -> str:
    rule = request.url_rule
    return rule.rule if rule is not None else UNMATCHED_ROUTE


def _start_timer() -> None:
    g.metrics_started = time.perf_counter()


def _count_request(response: Response) -> Response:
    started = g.pop("metrics_started", None)
    if started is not None:
        route = route_label()
        REQUESTS.labels(route, request.method, str(response.status_code)).inc()
        LATENCY.labels(route, request.method).observe(time.perf_counter() - started)
    return response


# --- referral transitions, counted once they are committed ---------------------------------

def _note_transitions(session: Session, _context: Any) -> None:
    from directory.referrals.models import ReferralEvent

    pending = session.info.setdefault(_PENDING_TRANSITIONS, [])
    for instance in session.new:
        if isinstance(instance, ReferralEvent) and instance.to_status is not None:
            pending.append((instance.from_status or "", instance.to_status))


def _count_transitions(session: Session) -> None:
    for from_status, to_status in session.info.pop(_PENDING_TRANSITIONS, []):
        TRANSITIONS.labels(from_status, to_status).inc()


def _forget_transitions(session: Session, previous_transaction: Any) -> None:
    if previous_transaction.parent is None:
        session.info.pop(_PENDING_TRANSITIONS, None)


def listen_to_sessions() -> None:
    from sqlalchemy import event

    if not event.contains(Session, "after_flush", _note_transitions):
        event.listen(Session, "after_flush", _note_transitions)
        event.listen(Session, "after_commit", _count_transitions)
        event.listen(Session, "after_soft_rollback", _forget_transitions)


# --- the last sweep, recorded by `directory sweep` for the scrape --------------------------

@dataclass(frozen=True)
class SweepRecord:
    finished_at: float  # seconds since the epoch
    expired: int
    due_soon: int
    identifying_purged: int
    purged: int
    deleted: int


def record_sweep(instance_path: str, report: dict[str, Any]) -> None:
    """Keep the counts of the sweep just committed (never which referrals) for /metrics."""
    record = SweepRecord(
        finished_at=time.time(), expired=len(report["expired"]), due_soon=len(report["due_soon"]),
        identifying_purged=len(report["identifying_purged"]), purged=len(report["purged"]),
        deleted=sum(report["deleted"].values()))
    path = Path(instance_path) / SWEEP_RECORD
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_suffix(".tmp")
    temporary.write_text(json.dumps(asdict(record)))
    temporary.replace(path)


def last_sweep(instance_path: str) -> SweepRecord | None:
    try:
        return SweepRecord(**json.loads((Path(instance_path) / SWEEP_RECORD).read_text()))
    except (OSError, ValueError, TypeError):
        return None


class StateCollector(Collector):
    """What is read from the database and the instance folder at each scrape."""

    def __init__(self, database: Database, instance_path: str) -> None:
        self.database = database
        self.instance_path = instance_path

    def collect(self) -> Iterator[Metric]:
        yield from self._outbox()
        yield from self._sweep()

    def _outbox(self) -> Iterator[Metric]:
        from directory.mail.models import OutboxMessage

        waiting = (OutboxMessage.sent_at.is_(None), OutboxMessage.failed_at.is_(None))
        try:
            with self.database.engine.connect() as connection:
                count, oldest = connection.execute(
                    select(func.count(), func.min(OutboxMessage.created_at)).where(*waiting)
                ).one()
                failed = connection.scalar(select(func.count()).where(
                    OutboxMessage.failed_at.is_not(None)))
        except SQLAlchemyError as exc:
            log.warning("metrics: the outbox could not be read: %s", type(exc).__name__)
            return
        yield GaugeMetricFamily("directory_mail_outbox_backlog",
                                "Messages in the outbox waiting to be sent.", value=count)
        yield GaugeMetricFamily("directory_mail_outbox_failed",
                                "Messages the mail server refused for good.", value=failed or 0)
        age = 0.0
        if oldest is not None:
            oldest = oldest if oldest.tzinfo else oldest.replace(tzinfo=dt.UTC)
            age = max(0.0, (utcnow() - oldest).total_seconds())
        yield GaugeMetricFamily("directory_mail_outbox_oldest_age_seconds",
                                "Age of the oldest message waiting to be sent (0: none).",
                                value=age)

    def _sweep(self) -> Iterator[Metric]:
        record = last_sweep(self.instance_path)
        if record is None:
            return
        yield GaugeMetricFamily("directory_sweep_last_finished_timestamp_seconds",
                                "When `directory sweep` last committed.",
                                value=record.finished_at)
        items = GaugeMetricFamily("directory_sweep_last_items",
                                  "What the last sweep did, by kind.", labels=["kind"])
        for kind in ("expired", "due_soon", "identifying_purged", "purged", "deleted"):
            items.add_metric([kind], getattr(record, kind))
        yield items


def exposition() -> bytes:
    """The text a scrape gets: every worker's counts, then the state read now."""
    if MULTIPROCESS:
        live = CollectorRegistry()
        multiprocess.MultiProcessCollector(live)
    else:
        live = REGISTRY
    state = CollectorRegistry()
    state.register(StateCollector(get_database(), current_app.instance_path))
    return generate_latest(live) + generate_latest(state)


def init_app(app: Flask) -> None:
    # Registered before the other hooks: the timer starts first, the count comes last (after
    # the commit, which can still turn a response into a 503).
    app.before_request(_start_timer)
    app.after_request(_count_request)
    listen_to_sessions()
