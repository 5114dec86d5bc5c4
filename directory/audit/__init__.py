"""The audit log: who did what, when and from where (sign-ins, roles, approvals, suspensions,
verifications); coordinators read and filter it at /admin/audit."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    from directory.audit.operations import store_refusals

    app.teardown_request(store_refusals)
