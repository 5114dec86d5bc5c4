"""Running the directory: health and readiness, metrics, request ids and logs, backups."""

from __future__ import annotations

from flask import Flask

OPS_ENDPOINTS = frozenset({"ops.healthz", "ops.readyz", "ops.metrics"})


def init_app(app: Flask) -> None:
    """Bound before the other extensions: its timer and request id come first."""
    from directory.ops import access, logs, metrics

    logs.init_app(app)
    access.init_app(app)
    metrics.init_app(app)
