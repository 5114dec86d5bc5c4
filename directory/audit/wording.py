"""An audit event's details in words, for the people who read the log.

Details are stored as the operations wrote them (``{"remember": False, "items": ["alias"]}``);
the log shows them as sentences' parts ("Remember me: no; Items: alias"). Each key has a
label and, where its values are codes, their words; an action may name a key its own way.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from directory.accounts.models import MemberRole

KEY_LABELS: dict[str, str] = {
    "remember": "Remember me",
    "second_factor": "Second factor",
    "renewal": "Renewed session",
    "email": "Email",
    "old_email": "Old email",
    "new_email": "New email",
    "old_name": "Old name",
    "new_name": "New name",
    "role": "Role",
    "from": "From",
    "to": "To",
    "via": "Made by",
    "coordinator": "Network coordinator",
    "reason": "Reason",
    "question": "Question",
    "fields": "Fields changed",
    "items": "Items",
    "notes": "Notes read",
    "referral": "Referral",
    "receiver": "Receiving organization",
    "age_range": "Age range",
    "permission": "Permission",
    "path": "Page",
    "endpoint": "Page",
    "limit": "Limit",
    "sessions": "Sessions ended",
    "remaining": "Recovery codes left",
    "api_tokens_revoked": "API tokens revoked",
    "token_id": "Token",
    "name": "Name",
    "expires_at": "Expires",
    "hour": "Hour",
    "count": "Refusals",
    "last_at": "Last at",
    "last_address": "Last address",
    "last_permission": "Last permission",
    "last_path": "Last page",
    "last_referral": "Last referral",
    "on_file": "MOU on file",
    "signed_on": "Signed on",
    "note_changed": "Note changed",
}

# Keys an action names its own way.
ACTION_KEY_LABELS: dict[tuple[str, str], str] = {
    ("referral_client_details_viewed", "items"): "Client details shown",
    ("referral_identifying_shared", "items"): "Identifying details shared",
    ("role_changed", "from"): "Role before",
    ("role_changed", "to"): "Role after",
    ("referral_accepted", "from"): "Status before",
    ("referral_declined", "from"): "Status before",
    ("referral_completed", "from"): "Status before",
    ("referral_closed", "from"): "Status before",
    ("referral_withdrawn", "from"): "Status before",
    ("referral_expired", "from"): "Status before",
}

SECOND_FACTORS = {"totp": "authenticator code", "recovery_code": "recovery code"}
ITEM_WORDS = {"alias": "alias", "language": "language", "needs": "needs",
              "safety_concerns": "safety concerns", "contact_instructions": "contact instructions",
              "contact_person": "contact person", "handoff_time": "hand-off time",
              "name": "name", "phone": "phone", "address": "address"}


def _words(value: str) -> str:
    return value.replace("_", " ")


def _role(value: str) -> str:
    try:
        return str(MemberRole(value).label)
    except ValueError:
        return _words(value)


VALUE_WORDS: dict[str, Callable[[str], str]] = {
    "second_factor": lambda value: SECOND_FACTORS.get(value, _words(value)),
    "items": lambda value: ITEM_WORDS.get(value, _words(value)),
    "permission": _words,
    "last_permission": _words,
    "role": _role,
    "from": _role,  # a role before a change, or a referral's status (which reads as a word)
    "to": _role,
    "fields": _words,
}


def key_label(action: str, key: str) -> str:
    return (ACTION_KEY_LABELS.get((action, key)) or KEY_LABELS.get(key)
            or _words(key).capitalize())


def value_text(key: str, value: Any) -> str:
    """One value in words: yes/no, lists joined, codes named."""
    if value is None or value == "":
        return "none"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list | tuple | set):
        return ", ".join(value_text(key, item) for item in value) or "none"
    if isinstance(value, Mapping):
        return ", ".join(f"{_words(str(k))} {value_text(str(k), v)}" for k, v in value.items())
    if isinstance(value, str) and key in VALUE_WORDS:
        return VALUE_WORDS[key](value)
    return str(value)


def describe(action: str, details: Mapping[str, Any]) -> list[tuple[str, str]]:
    """The details as (label, words) pairs, in the order they were recorded."""
    return [(key_label(action, key), value_text(key, value)) for key, value in details.items()]


def details_text(action: str, details: Mapping[str, Any]) -> str:
    """The details on one line: "Remember me: no; Second factor: authenticator code"."""
    return "; ".join(f"{label}: {words}" for label, words in describe(action, details))
