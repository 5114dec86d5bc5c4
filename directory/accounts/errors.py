"""The refusal of an account operation."""

from __future__ import annotations


class AccountError(ValueError):
    """A rule about accounts was broken; the message is for the user, ``field`` names the
    form field it is about, when there is one."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field
