"""The refusals of referral operations: each carries an HTTP status and a field map.

Their messages are lazy (``lazy_gettext``), or rendered when raised: they read in the
language of the request that shows them, a page's or the JSON API's."""

from __future__ import annotations

from flask_babel.speaklater import LazyString

Message = str | LazyString


class ReferralError(Exception):
    """A refused operation: ``status`` for HTTP, ``fields`` for messages next to inputs."""

    status = 400
    code: str | None = None  # the API's error code, when not the status's own

    def __init__(self, message: Message, fields: dict[str, Message] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.fields = fields or {}


class InvalidReferral(ReferralError):
    status = 400


class MismatchWarning(InvalidReferral):
    """The client's age range is outside what the partner lists: sent only when the sender
    goes ahead (``acknowledge_mismatch``)."""

    status = 409
    code = "mismatch"


class ReferralForbidden(ReferralError):
    status = 403


class ReferralNotFound(ReferralError):
    status = 404


class ReferralConflict(ReferralError):
    """Someone else changed the referral first; nothing was changed."""

    status = 409
