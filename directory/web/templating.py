"""Helpers available in every template."""

from __future__ import annotations

from flask import Flask, current_app, request, url_for
from flask_login import current_user

from directory.accounts.permissions import Permission, can


def page_url(page: int) -> str:
    """The current URL, query kept, on another page."""
    args = request.args.to_dict()
    args["page"] = str(page)
    return url_for(request.endpoint or "web.home", **(request.view_args or {}), **args)


def has_endpoint(name: str) -> bool:
    """Whether a route exists (templates link to features only once they are there)."""
    return name in current_app.view_functions


def error_text(messages: object) -> str:
    """Validation messages, however nested (lists, per-item dicts), as one sentence."""
    if isinstance(messages, dict):
        return " ".join(error_text(value) for value in messages.values())
    if isinstance(messages, list | tuple):
        return " ".join(error_text(value) for value in messages)
    return str(messages)


def init_app(app: Flask) -> None:
    app.jinja_env.filters["error_text"] = error_text
    app.jinja_env.globals.update(page_url=page_url, Permission=Permission,
                                 has_endpoint=has_endpoint)

    @app.context_processor
    def permission_helpers() -> dict[str, object]:
        return {"can": lambda permission, target=None: can(current_user, permission, target)}
