"""Input schemas: the whitelist of what a referral, a consent, a transition or a note may
carry. The web forms and the JSON API load the same schemas, so both refuse the same input."""

from __future__ import annotations

from typing import Any

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_babel.speaklater import LazyString
from marshmallow import ValidationError, fields, pre_load, validate, validates_schema

from directory.inputs import MAX_INT
from directory.orgs.models import LANGUAGES
from directory.referrals.models import (
    AGE_RANGES,
    CLIENT_POPULATIONS,
    CONSENT_ITEMS,
    IDENTIFYING_ITEMS,
    CloseOutcome,
    ConsentMethod,
    DeclineReason,
    Gender,
    MinorBasis,
    Nationality,
    ReferralStatus,
    TraffickingType,
    Urgency,
)
from directory.text import Prose, TextSchema


def _text(max_length: int, *, required: bool = False, prose: bool = False) -> fields.String:
    """A text field; ``prose``: free text (see directory.text), else a one-line field."""
    length = validate.Length(min=1 if required else 0, max=max_length,
                             error=_l("Use at most %(count)s characters.", count=max_length))
    kind = Prose if prose else fields.String
    if required:
        return kind(required=True, validate=length,
                    error_messages={"required": _l("This field is required.")})
    return kind(load_default="", validate=length)


def _choice(values: Any, *, required: bool = True) -> fields.String:
    one_of = validate.OneOf([str(v) for v in values], error=_l("Choose one of the options."))
    if required:
        return fields.String(required=True, validate=one_of,
                             error_messages={"required": _l("Choose one of the options.")})
    return fields.String(load_default=None, validate=one_of)


def _codes(values: Any) -> str:
    return ", ".join(str(v) for v in values)


def _reporting(values: Any, what: str, unknown: LazyString) -> fields.String:
    """An optional coded grant-reporting field: "not_asked" and "declined" always allowed;
    ``unknown``: the message for any other code."""
    codes = [str(v) for v in values]
    description = (f"Optional, for grant reports: {what}. Counted in aggregate reports only; "
                   "the receiver sees it while the consent's items name it.")
    return fields.String(load_default=None, validate=validate.OneOf(codes, error=unknown),
                         metadata={"description": description})


# A language code or name, in any case, to the name: "es", "spanish" -> "Spanish".
_LANGUAGE_NAMES = {key.casefold(): name for code, name in LANGUAGES.items() for key in (code, name)}


class ClientLanguage(fields.String):
    """The client's language, one of the directory's languages (the list search filters by).
    Stored as its English name, as the free-text field it replaces stored it; a language code
    is accepted too."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str:
        text = super()._deserialize(value, attr, data, **kwargs)
        name = _LANGUAGE_NAMES.get(text.strip().casefold())
        if name is None:
            raise ValidationError(_("Choose a language from the list."))
        return name


def _rendered(messages: Any, *, listed: bool = False) -> Any:
    """Marshmallow's messages with each lazy one rendered, in a list as a plain message is
    (marshmallow lists only the messages that are ``str``)."""
    if isinstance(messages, dict):
        return {key: _rendered(value) for key, value in messages.items()}
    if isinstance(messages, list):
        return [_rendered(value, listed=True) for value in messages]
    if isinstance(messages, LazyString):
        return str(messages) if listed else [str(messages)]
    return messages


class _Stripped(TextSchema):
    def handle_error(self, error: ValidationError, data: Any, **_kwargs: Any) -> None:
        """The messages in the request's language, shaped as marshmallow shapes its own."""
        raise ValidationError(_rendered(error.messages), data=error.data,
                              valid_data=error.valid_data) from error

    @pre_load
    def strip(self, data: Any, **_kwargs: Any) -> Any:
        """Surrounding blanks never count as an answer; empty optional fields are absent."""
        if not isinstance(data, dict):
            return data
        cleaned = {}
        for key, value in data.items():
            if isinstance(value, str):
                value = value.strip()
                if not value:
                    continue
            cleaned[key] = value
        return cleaned


class ConsentSchema(_Stripped):
    """A consent record: what is shared with whom, why, how it was given, until when."""

    items = fields.List(fields.String(validate=validate.OneOf(
        CONSENT_ITEMS, error=_l("Unknown data item."))), load_default=list, metadata={
        "description": "What the receiver may see beyond the de-identified details: "
                       f"identifying details ({', '.join(IDENTIFYING_ITEMS)}) and reporting "
                       "fields (trafficking_type, gender, nationality, population)."})
    purpose = _text(1000, required=True, prose=True)
    method = _choice(ConsentMethod)
    verbal_reason = _text(1000, prose=True)
    expires_on = fields.Date(required=True, error_messages={
        "required": _l("Give the date the consent ends."),
        "invalid": _l("Give a date (YYYY-MM-DD).")})
    minor_basis = _choice(MinorBasis, required=False)
    legal_basis = _text(1000, prose=True)

    @validates_schema
    def verbal_needs_reason(self, data: dict[str, Any], **_kwargs: Any) -> None:
        if data.get("method") == ConsentMethod.VERBAL and not data.get("verbal_reason"):
            raise ValidationError(_("Say why consent could only be given verbally."),
                                  "verbal_reason")
        if data.get("minor_basis") == MinorBasis.MINOR_ALONE and not data.get("legal_basis"):
            raise ValidationError(_("Name the legal basis for the minor consenting alone."),
                                  "legal_basis")


class ReferralSchema(_Stripped):
    """A new referral: the minimum necessary about the client, the hand-off plan, consent."""

    from_organization = fields.String(load_default=None)  # slug; the user's one org if absent
    to = fields.String(required=True, error_messages={"required": _l("Choose a partner.")})
    service = fields.String(required=True, validate=validate.Length(max=100),
                            error_messages={"required": _l("Choose the service requested.")})
    urgency = _choice(Urgency)
    age_range = _choice(AGE_RANGES)
    alias = _text(60, required=True)
    language = ClientLanguage(required=True,
                              error_messages={"required": _l("Choose the client's language.")})
    needs = _text(2000, required=True, prose=True)
    safety_concerns = _text(2000, prose=True)
    contact_instructions = _text(1000, required=True, prose=True)
    contact_person = _text(200, required=True)
    handoff_time = _text(200, required=True)
    name = _text(200)
    phone = _text(40)
    address = _text(300)
    trafficking_type = _reporting(TraffickingType, "the type of trafficking", _l(
        "Unknown code for the type of trafficking: use one of %(codes)s.",
        codes=_codes(TraffickingType)))
    gender = _reporting(Gender, "the client's gender", _l(
        "Unknown code for the client's gender: use one of %(codes)s.", codes=_codes(Gender)))
    nationality = _reporting(Nationality, "US citizen or lawful permanent resident, or "
                                          "foreign national", _l(
        "Unknown code for the client's nationality: use one of %(codes)s.",
        codes=_codes(Nationality)))
    population = _reporting(CLIENT_POPULATIONS, "the client's population (the list "
                                                "organizations use in their listing, less "
                                                "the age groups)", _l(
        "Unknown code for the client's population: use one of %(codes)s.",
        codes=_codes(CLIENT_POPULATIONS)))
    consent = fields.Nested(ConsentSchema, required=True,
                            error_messages={"required": _l("A referral needs a consent record.")})
    acknowledge_mismatch = fields.Boolean(load_default=False, metadata={
        "description": "Send even though the client's age range or population is outside "
                       "what the partner lists (otherwise a 409 with the error code "
                       "`mismatch`)."})


class TransitionSchema(_Stripped):
    """A move of the state machine, against the version the user saw."""

    to = _choice([s for s in ReferralStatus if s != ReferralStatus.DRAFT])
    version = fields.Integer(required=True, strict=False,
                             validate=validate.Range(min=0, max=MAX_INT),
                             error_messages={"required": _l("The page is out of date: reload it.")})
    reason = _choice(DeclineReason, required=False)
    outcome = _choice(CloseOutcome, required=False)
    note = _text(2000, prose=True)
    redirect_to = fields.String(load_default=None, validate=validate.Length(max=80))


class NoteSchema(_Stripped):
    body = _text(4000, required=True, prose=True)



class PlacementSchema(ReferralSchema):
    """A placement request: the referral's fields, several partners, no identifying details."""

    to = fields.List(fields.String(validate=validate.Length(max=80)), required=True,
                     validate=validate.Length(min=2, max=10,
                                              error=_l("Choose between 2 and 10 partners.")),
                     error_messages={"required": _l("Choose the partners.")})

    @validates_schema
    def de_identified(self, data: dict[str, Any], **_kwargs: Any) -> None:
        shared = [item for item in IDENTIFYING_ITEMS if data.get(item)]
        named = set((data.get("consent") or {}).get("items") or ()) & set(IDENTIFYING_ITEMS)
        if shared or named:
            raise ValidationError(_("A placement request is de-identified: share identifying "
                                    "details with the partner that accepts."), "name")


class IdentifyingSchema(_Stripped):
    """Identifying details shared with the receiver, with the consent record naming them."""

    name = _text(200)
    phone = _text(40)
    address = _text(300)
    consent = fields.Nested(ConsentSchema, required=True,
                            error_messages={"required": _l("Sharing needs a consent record.")})
