"""English and Spanish (Flask-Babel): each request's language and time zone, and how moments
read in them.

The language is the signed-in user's setting (for an API request with a token, the token's
owner's: flask-login loads them from it, directory/api/auth.py), else the visitor's choice
from the switcher (a cookie), else the browser's Accept-Language, else English. The time zone
is the user's setting, else the zone of their first organization, else UTC. Mail is rendered
in its recipient's language (``recipient_language``).
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from babel.dates import format_datetime, format_skeleton, format_time
from flask import Flask, g, has_request_context, request
from flask_babel import Babel, force_locale, get_locale, get_timezone
from flask_login import current_user
from sqlalchemy.exc import SQLAlchemyError

from directory import schema_messages

if TYPE_CHECKING:
    from directory.accounts.models import User

# Language code -> (its own name, the Babel locale its dates and numbers are written in).
INTERFACE_LANGUAGES: dict[str, tuple[str, str]] = {
    "en": ("English", "en_US"), "es": ("Español", "es_US")}
DEFAULT_LANGUAGE = "en"
LANGUAGE_COOKIE = "language"
DEFAULT_TIME_ZONE = "UTC"
TRANSLATIONS = Path(__file__).parent / "translations"

babel = Babel()
# Before any schema is declared: directory/__init__.py imports this module before any module
# that declares one (see schema_messages).
schema_messages.install()


def known_language(code: str | None) -> str | None:
    return code if code in INTERFACE_LANGUAGES else None


def locale_of(language: str | None) -> str:
    return INTERFACE_LANGUAGES[known_language(language) or DEFAULT_LANGUAGE][1]


def _setting(user: object, name: str) -> Any:
    """A user's attribute, or None where reading it would need the database and the database
    just failed (an error page is being drawn after a rolled-back flush)."""
    try:
        return getattr(user, name)
    except SQLAlchemyError:
        return None


DATABASE_FAILED = "database_failed"  # a flag on ``g``: the error page must not query again


def _loaded_user() -> Any:
    """The request's user, loaded if need be; only an already loaded one while an error page
    is drawn because the database failed (loading it again would fail again, or wait)."""
    if g.get(DATABASE_FAILED):
        return g.get("_login_user")
    try:
        return current_user._get_current_object()
    except SQLAlchemyError:
        return None


def select_locale() -> str:
    if not has_request_context():
        return locale_of(DEFAULT_LANGUAGE)
    user = _loaded_user()
    if user is not None and user.is_authenticated:
        language = known_language(_setting(user, "language"))
        if language:
            return locale_of(language)
    chosen = known_language(request.cookies.get(LANGUAGE_COOKIE))
    if chosen:
        return locale_of(chosen)
    return locale_of(request.accept_languages.best_match(list(INTERFACE_LANGUAGES)))


def current_language() -> str:
    """The two-letter code of the request's language (``<html lang>``)."""
    locale = get_locale()
    return locale.language if locale is not None else DEFAULT_LANGUAGE


def valid_time_zone(name: str | None) -> str | None:
    return name if name and name in time_zone_names() else None


@cache
def time_zone_names() -> frozenset[str]:
    """The IANA zones a user may choose: named places and UTC (no ``Etc/GMT+5`` aliases)."""
    return frozenset(
        name for name in zoneinfo.available_timezones()
        if name == "UTC" or ("/" in name and not name.startswith(("Etc/", "SystemV/"))))


def time_zone_of(user: User | None) -> str:
    """The zone a user reads times in: theirs, else their first organization's, else UTC."""
    if user is None or not getattr(user, "is_authenticated", False):
        return DEFAULT_TIME_ZONE
    chosen = valid_time_zone(_setting(user, "time_zone"))
    if chosen:
        return chosen
    memberships = _setting(user, "memberships")
    if memberships:
        return memberships[0].organization.time_zone.key
    return DEFAULT_TIME_ZONE


def select_time_zone() -> str:
    return time_zone_of(_loaded_user()) if has_request_context() else DEFAULT_TIME_ZONE


def moment_text(moment: dt.datetime | None, zone: dt.tzinfo | None = None) -> str:
    """A moment as its reader reads it: "Dec 2, 2026, 1:40 AM CST" or "2 dic 2026, 1:40 a.m.
    CST", in the reader's zone (or ``zone``)."""
    if moment is None:
        return ""
    locale = get_locale() or locale_of(DEFAULT_LANGUAGE)
    local = moment.astimezone(zone or get_timezone())
    return (f"{format_skeleton('yMMMd', local, locale=locale)}, "
            f"{format_time(local, 'short', locale=locale)} "
            f"{format_datetime(local, 'z', locale=locale)}")


def date_text(day: dt.date | None) -> str:
    """A date as its reader reads it: "Dec 2, 2026" or "2 dic 2026"."""
    if day is None:
        return ""
    return format_skeleton("yMMMd", day, locale=get_locale() or locale_of(DEFAULT_LANGUAGE))


@contextmanager
def recipient_language(user: User | None) -> Iterator[None]:
    """Render (mail) in the recipient's language: their setting, else English."""
    with force_locale(locale_of(user.language if user is not None else None)):
        yield


def init_app(app: Flask) -> None:
    app.config.setdefault("BABEL_TRANSLATION_DIRECTORIES", str(TRANSLATIONS))
    app.config.setdefault("BABEL_DEFAULT_LOCALE", locale_of(DEFAULT_LANGUAGE))
    babel.init_app(app, locale_selector=select_locale, timezone_selector=select_time_zone)
    app.jinja_env.policies["ext.i18n.trimmed"] = True
    app.jinja_env.globals.update(current_language=current_language,
                                 INTERFACE_LANGUAGES=INTERFACE_LANGUAGES,
                                 moment_text=moment_text, date_text=date_text)
