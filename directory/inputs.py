"""Numbers and JSON from requests, parsed within bounds: bad input is a 400, never a 500.

- ``<int:...>`` in a route takes ASCII digits up to ``MAX_INT`` (every id column is a 32-bit
  integer); a larger number is a 400, where it used to reach the database and fail there.
- ``query_int`` reads an integer query parameter the same way.
- ``loads`` parses every JSON request body (``request.get_json()`` calls it through the
  app's ``JSONProvider``; ``JSONRequest`` turns its errors into API errors): at most
  ``MAX_JSON_DEPTH`` levels of nesting (Python's parser recurses, and would fail with a
  RecursionError), and no lone UTF-16 surrogate or NUL in any string (neither can be stored).
"""

from __future__ import annotations

import json
import re
from typing import Any

from flask import Request, abort, request
from flask.json.provider import DefaultJSONProvider
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from werkzeug.exceptions import BadRequest
from werkzeug.routing import IntegerConverter, Map

from directory.api.errors import ApiError

MAX_INT = 2**31 - 1
MAX_JSON_DEPTH = 32
_DIGITS = re.compile(r"[0-9]+")
_SURROGATE = re.compile("[\ud800-\udfff]")
# A string literal (skipped whole, escapes included) or a bracket.
_JSON_TOKENS = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"|[\[\]{}]', re.DOTALL)
# What is wrong with a string that holds no storable text, as a value and as a key. Lazy: JSON
# is also read where no language is chosen yet (a session cookie).
VALUE_PROBLEMS = {
    "surrogate": _l("Contains a lone UTF-16 surrogate escape (\\ud800 to \\udfff without its "
                    "pair), which is not a character."),
    "nul": _l("Contains a NUL character, which no field accepts."),
}
KEY_PROBLEMS = {
    "surrogate": _l("A key contains a lone UTF-16 surrogate escape (\\ud800 to \\udfff without "
                    "its pair), which is not a character."),
    "nul": _l("A key contains a NUL character, which no field accepts."),
}


def bounded_int(digits: str, maximum: int = MAX_INT) -> int | None:
    """The value of a run of ASCII digits, or None when it exceeds ``maximum`` (checked on the
    length first: Python refuses to convert more than 4300 digits)."""
    significant = digits.lstrip("0") or "0"
    if len(significant) > len(str(maximum)):
        return None
    value = int(significant)
    return value if value <= maximum else None


class IntConverter(IntegerConverter):
    """Replaces werkzeug's ``int`` converter app-wide (registered before any route)."""

    regex = r"[0-9]+"  # not \d, which also matches other scripts' digits

    def __init__(self, map: Map, fixed_digits: int = 0, min: int | None = None,
                 max: int | None = MAX_INT, signed: bool = False) -> None:
        # werkzeug's argument names, so that <int(max=N):...> keeps working.
        super().__init__(map, fixed_digits, min, max, signed)

    def to_python(self, value: str) -> Any:
        if self.max is not None and bounded_int(value.lstrip("-"), self.max) is None:
            raise BadRequest(_("The number %(number)s in this address is out of range: none is "
                               "larger than %(maximum)s.", number=_shorten(value),
                               maximum=self.max))
        return super().to_python(value)


def _shorten(digits: str) -> str:
    if len(digits) <= 24:
        return digits
    return _("%(start)s… (%(count)s digits)", start=digits[:20], count=len(digits))


def query_int(name: str, default: int | None, *, maximum: int = MAX_INT) -> int | None:
    """An integer query parameter: ``default`` when absent or not a whole number (a stale or
    hand-edited link still shows a page), 400 when larger than ``maximum``."""
    raw = request.args.get(name, "").strip()
    if not _DIGITS.fullmatch(raw):
        return default
    value = bounded_int(raw, maximum)
    if value is None:
        abort(400, description=_("The %(name)s parameter is out of range: give a whole number "
                                 "up to %(maximum)s.", name=name, maximum=maximum))
    return value


def page_number() -> int:
    """The ``page`` query parameter of a paged list: 1 when absent, not a number or below 1."""
    return max(1, query_int("page", 1) or 1)


# --- JSON -----------------------------------------------------------------------------------

class JSONInputError(ValueError):
    """JSON that parses but cannot be accepted; ``path`` leads to the value at fault; the
    message is lazy (``str()`` writes it in the request's language)."""

    def __init__(self, message: Any, path: tuple[str, ...] = ()) -> None:
        super().__init__(message)
        self.message = message
        self.path = path


def nesting_depth(text: str, limit: int = MAX_JSON_DEPTH) -> int:
    """How deeply ``text`` nests arrays and objects, counting no further than ``limit + 1``."""
    depth = deepest = 0
    for match in _JSON_TOKENS.finditer(text):
        token = match.group()
        if token in ("[", "{"):
            depth += 1
            deepest = max(deepest, depth)
            if deepest > limit:
                break
        elif token in ("]", "}"):
            depth -= 1
    return deepest


def _bad_string(value: str) -> str | None:
    """The problem (a key of ``VALUE_PROBLEMS``) of a string, or None."""
    if _SURROGATE.search(value):
        return "surrogate"
    if "\x00" in value:
        return "nul"
    return None


def _check_strings(value: Any, path: tuple[str, ...] = ()) -> None:
    """Raise JSONInputError at the first string (or key) that holds no storable text."""
    if isinstance(value, str):
        problem = _bad_string(value)
        if problem:
            raise JSONInputError(VALUE_PROBLEMS[problem], path)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            _check_strings(item, (*path, str(index)))
    elif isinstance(value, dict):
        for key, item in value.items():
            problem = _bad_string(key)
            if problem:
                raise JSONInputError(KEY_PROBLEMS[problem], path)
            _check_strings(item, (*path, key))


def loads(data: str | bytes, **kwargs: Any) -> Any:
    """``json.loads`` for untrusted input; raises ValueError (JSONInputError for JSON that
    parses but holds what no field can take)."""
    text = data.decode(json.detect_encoding(data)) if isinstance(data, bytes) else data
    if nesting_depth(text) > MAX_JSON_DEPTH:
        raise JSONInputError(_l("The JSON is nested more than %(limit)s levels deep.",
                                limit=MAX_JSON_DEPTH))
    value = json.loads(text, **kwargs)
    _check_strings(value)  # recursion bounded by the depth checked above
    return value


def _nested(path: tuple[str, ...], message: str) -> dict[str, Any]:
    """The error in the shape of marshmallow's messages: {"contacts": {"0": {"name": [...]}}}."""
    if not path:
        return {"_schema": [message]}
    errors: Any = [message]
    for part in reversed(path):
        errors = {part: errors}
    return errors


class JSONProvider(DefaultJSONProvider):
    """The application's JSON: Flask parses request bodies (and its session) with ``loads``."""

    def loads(self, s: str | bytes, **kwargs: Any) -> Any:
        return loads(s, **kwargs)


class JSONRequest(Request):
    """The application's request class: JSON it cannot take is an API error saying why (Flask's
    own answer hides the reason outside debug mode)."""

    def on_json_loading_failed(self, e: ValueError | None) -> Any:
        if e is None:
            raise ApiError(415, _("Send the body as JSON, with Content-Type: application/json."))
        if isinstance(e, JSONInputError):
            message = str(e.message)
            raise ApiError(400, _("The request has invalid fields.") if e.path else message,
                           code="validation_error", fields=_nested(e.path, message))
        raise ApiError(400, _("The body is not valid JSON: %(error)s", error=str(e)))
