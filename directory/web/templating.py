"""Helpers available in every template."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from flask import Flask, current_app, request, url_for
from flask_login import current_user
from markupsafe import Markup, escape

from directory.accounts.permissions import Permission, can
from directory.orgs.models import category_label


def page_url(page: int) -> str:
    """The current URL, query kept, on another page."""
    args = request.args.to_dict()
    args["page"] = str(page)
    return url_for(request.endpoint or "web.home", **(request.view_args or {}), **args)


def has_endpoint(name: str) -> bool:
    """Whether a route exists (templates link to features only once they are there)."""
    return name in current_app.view_functions


def select_options(choices: Iterable[tuple[Any, str]], selected: Any = None) -> Markup:
    """The ``<option>`` elements of a select, the selected value (or values, for a list) marked;
    values compared as text. One call instead of a template loop: the search form alone has
    about eighty options, drawn on every search."""
    if isinstance(selected, list | tuple | set | frozenset):
        chosen = {str(value) for value in selected}
    else:
        chosen = set() if selected is None else {str(selected)}
    return Markup("".join(
        f'<option value="{escape(value)}"{" selected" if str(value) in chosen else ""}>'
        f"{escape(label)}</option>"
        for value, label in choices))


def category_choices(categories: Iterable[Any]) -> list[tuple[str, str]]:
    """The service taxonomy as select choices, sub-services indented under their parent, named
    in the reader's language."""
    return [(category.code, f"\u00a0\u00a0– {category_label(category.code, category.name)}"
             if category.parent_id else category_label(category.code, category.name))
            for category in categories]


def error_text(messages: object) -> str:
    """Validation messages, however nested (lists, per-item dicts), as one sentence."""
    if isinstance(messages, dict):
        return " ".join(error_text(value) for value in messages.values())
    if isinstance(messages, list | tuple):
        return " ".join(error_text(value) for value in messages)
    return str(messages)


def error_entries(source: Any) -> list[tuple[str | None, str]]:
    """The entries of a form's error summary: (id of the field to link to, message).

    ``source`` is a WTForms form (each message gets its field's label) or a mapping of field
    ids to messages, as the marshmallow-backed views keep them; the key ``form`` is an error
    of the whole form, listed without a link."""
    if hasattr(source, "errors") and hasattr(source, "_fields"):
        return [(field.id, f"{field.label.text}: {message}")
                for field in source if field.type != "CSRFTokenField"
                for message in field.errors]
    return [(None if key == "form" else key, error_text(messages))
            for key, messages in (source or {}).items()]


def init_app(app: Flask) -> None:
    app.jinja_env.filters["error_text"] = error_text
    app.jinja_env.globals.update(page_url=page_url, Permission=Permission,
                                 has_endpoint=has_endpoint, select_options=select_options,
                                 category_choices=category_choices, error_entries=error_entries)

    @app.context_processor
    def permission_helpers() -> dict[str, object]:
        return {"can": lambda permission, target=None: can(current_user, permission, target)}
