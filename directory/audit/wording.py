"""An audit event's details in words, for the people who read the log, in the reader's
language.

Details are stored as the operations wrote them (``{"remember": False, "items": ["alias"]}``);
the log shows them as sentences' parts ("Remember me: no; Items: alias"). Each key has a
label and, where its values are codes, their words; an action may name a key its own way.
Moments stored as ISO text read in the reader's zone and language.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from typing import Any

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from directory.accounts.models import MemberRole
from directory.i18n import date_text, moment_text
from directory.orgs.models import FIELD_LABELS
from directory.referrals.models import ReferralStatus

KEY_LABELS: dict[str, str] = {
    "remember": _l("Remember me"),
    "second_factor": _l("Second factor"),
    "renewal": _l("Renewed session"),
    "email": _l("Email"),
    "old_email": _l("Old email"),
    "new_email": _l("New email"),
    "old_name": _l("Old name"),
    "new_name": _l("New name"),
    "role": _l("Role"),
    "from": _l("From"),
    "to": _l("To"),
    "via": _l("Made by"),
    "coordinator": _l("Network coordinator"),
    "reason": _l("Reason"),
    "question": _l("Question"),
    "fields": _l("Fields changed"),
    "items": _l("Items"),
    "notes": _l("Notes read"),
    "referral": _l("Referral"),
    "receiver": _l("Receiving organization"),
    "age_range": _l("Age range"),
    "population": _l("Population"),
    "permission": _l("Permission"),
    "path": _l("Page"),
    "endpoint": _l("Page"),
    "limit": _l("Limit"),
    "sessions": _l("Sessions ended"),
    "remaining": _l("Recovery codes left"),
    "api_tokens_revoked": _l("API tokens revoked"),
    "token_id": _l("Token"),
    "name": _l("Name"),
    "expires_at": _l("Expires"),
    "hour": _l("Hour"),
    "count": _l("Refusals"),
    "last_at": _l("Last at"),
    "last_address": _l("Last address"),
    "last_permission": _l("Last permission"),
    "last_path": _l("Last page"),
    "last_endpoint": _l("Last page"),
    "last_referral": _l("Last referral"),
    "on_file": _l("MOU on file"),
    "signed_on": _l("Signed on"),
    "note_changed": _l("Note changed"),
    "admins": _l("Admins"),
    "file": _l("File"),
    "format": _l("Format"),
    "created": _l("Created"),
    "updated": _l("Updated"),
    "unchanged": _l("Unchanged"),
    "rejected": _l("Rejected"),
}

# Keys an action names its own way.
_STATUS_BEFORE = _l("Status before")
ACTION_KEY_LABELS: dict[tuple[str, str], str] = {
    ("referral_client_details_viewed", "items"): _l("Client details shown"),
    ("referral_identifying_shared", "items"): _l("Identifying details shared"),
    ("role_changed", "from"): _l("Role before"),
    ("role_changed", "to"): _l("Role after"),
    **{(f"referral_{status}", "from"): _STATUS_BEFORE
       for status in ("accepted", "declined", "completed", "closed", "withdrawn", "expired")},
}

SECOND_FACTORS = {"totp": _l("authenticator code"), "recovery_code": _l("recovery code")}
ITEM_WORDS = {"alias": _l("alias"), "language": _l("language"), "needs": _l("needs"),
              "safety_concerns": _l("safety concerns"),
              "contact_instructions": _l("contact instructions"),
              "contact_person": _l("contact person"), "handoff_time": _l("hand-off time"),
              "name": _l("name"), "phone": _l("phone"), "address": _l("address")}
PERMISSION_WORDS = {
    "view_directory": _l("view directory"),
    "read_hsds_api": _l("read HSDS API"),
    "view_organization": _l("view organization"),
    "view_confidential_locations": _l("view confidential locations"),
    "edit_listing": _l("edit listing"),
    "rename_organization": _l("rename organization"),
    "confirm_listing": _l("confirm listing"),
    "manage_network": _l("manage network"),
    "view_audit_log": _l("view audit log"),
    "manage_own_account": _l("manage own account"),
    "view_members": _l("view members"),
    "manage_members": _l("manage members"),
    "view_application": _l("view application"),
    "answer_application": _l("answer application"),
    "send_referrals": _l("send referrals"),
    "receive_referrals": _l("receive referrals"),
    "use_referrals": _l("use referrals"),
    "refer_to": _l("refer to"),
    "view_referral": _l("view referral"),
    "view_client_details": _l("view client details"),
    "add_referral_note": _l("add referral note"),
    "revoke_consent": _l("revoke consent"),
    "share_identifying": _l("share identifying"),
    "view_referral_report": _l("view referral report"),
    "view_organization_report": _l("view organization report"),
    "view_reports": _l("view reports"),
    "view_public_report": _l("view public report"),
    "view_partnership_agreement": _l("view partnership agreement"),
    "edit_partnership_agreement": _l("edit partnership agreement"),
}
# Values the code stores as words of its own (not what people typed).
STORED_WORDS = {"command line": _l("command line"), "account suspended": _l("account suspended")}
MOMENT_KEYS = frozenset({"expires_at", "hour", "last_at"})
DATE_KEYS = frozenset({"signed_on"})


def _words(value: str) -> str:
    return value.replace("_", " ")


def _known(words: Mapping[str, Any]) -> Callable[[str], str]:
    return lambda value: str(words[value]) if value in words else _words(value)


def _role_or_status(value: str) -> str:
    """A role before or after a change, or a referral's status before it (in lower case, as
    it reads inside a sentence)."""
    if value in MemberRole._value2member_map_:
        return str(MemberRole(value).label)
    if value in ReferralStatus._value2member_map_:
        return ReferralStatus(value).label.lower()
    return _words(value)


def _moment(value: str) -> str:
    try:
        return moment_text(dt.datetime.fromisoformat(value))
    except ValueError:
        return value


def _date(value: str) -> str:
    try:
        return date_text(dt.date.fromisoformat(value))
    except ValueError:
        return value


VALUE_WORDS: dict[str, Callable[[str], str]] = {
    "second_factor": _known(SECOND_FACTORS),
    "items": _known(ITEM_WORDS),
    "permission": _known(PERMISSION_WORDS),
    "last_permission": _known(PERMISSION_WORDS),
    "role": _role_or_status,
    "from": _role_or_status,
    "to": _role_or_status,
    "fields": _known(FIELD_LABELS),
    **{key: _moment for key in MOMENT_KEYS},
    **{key: _date for key in DATE_KEYS},
}


def key_label(action: str, key: str) -> str:
    label = ACTION_KEY_LABELS.get((action, key)) or KEY_LABELS.get(key)
    return str(label) if label else _words(key).capitalize()


def value_text(key: str, value: Any) -> str:
    """One value in words: yes/no, lists joined, codes named, moments in the reader's zone."""
    if value is None or value == "":
        return _("none")
    if isinstance(value, bool):
        return _("yes") if value else _("no")
    if isinstance(value, list | tuple | set):
        return ", ".join(value_text(key, item) for item in value) or _("none")
    if isinstance(value, Mapping):
        return ", ".join(f"{_words(str(k))} {value_text(str(k), v)}" for k, v in value.items())
    if isinstance(value, str) and key in VALUE_WORDS:
        return VALUE_WORDS[key](value)
    if isinstance(value, str) and value in STORED_WORDS:
        return str(STORED_WORDS[value])
    return str(value)


def describe(action: str, details: Mapping[str, Any]) -> list[tuple[str, str]]:
    """The details as (label, words) pairs, in the order they were recorded."""
    return [(key_label(action, key), value_text(key, value)) for key, value in details.items()]


def details_text(action: str, details: Mapping[str, Any]) -> str:
    """The details on one line: "Remember me: no; Second factor: authenticator code"."""
    return "; ".join(_("%(label)s: %(value)s", label=label, value=words)
                     for label, words in describe(action, details))
