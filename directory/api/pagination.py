"""Opaque, stable cursors: the offset of the next page bound to the query it belongs to, so a
cursor replayed against another query is refused rather than silently paging something else."""

from __future__ import annotations

import base64
import hashlib
import json
from typing import Any

from flask_babel import gettext as _

from directory.api.errors import ApiError

MAX_OFFSET = 10_000  # deeper pages cost more than they are worth: narrow the search instead


def fingerprint(query: dict[str, Any]) -> str:
    canonical = json.dumps(query, sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]


def encode_cursor(offset: int, query: dict[str, Any]) -> str:
    raw = json.dumps({"o": offset, "q": fingerprint(query)}, separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(cursor: str | None, query: dict[str, Any]) -> int:
    """The offset a cursor stands for; 0 without one."""
    if not cursor:
        return 0
    try:
        raw = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        offset, bound_to = raw["o"], raw["q"]
    except (ValueError, TypeError, KeyError) as exc:
        raise _bad(_("This cursor is not one the API gave out.")) from exc
    if not isinstance(offset, int) or isinstance(offset, bool) or not 0 <= offset <= MAX_OFFSET:
        raise _bad(_("This cursor is not one the API gave out."))
    if bound_to != fingerprint(query):
        raise _bad(_("This cursor belongs to another query: repeat the query it came from."))
    return offset


def _bad(message: str) -> ApiError:
    return ApiError(400, message, code="validation_error", fields={"cursor": [message]})
