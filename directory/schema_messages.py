"""marshmallow's own messages ("Missing data for required field.", "Not a valid integer.") in
the reader's language, for the API's errors and the forms that load through a schema.

marshmallow copies a message into each field and validator when it is declared (at import),
and formats it when it raises it (while it reads the input, in the request). So ``install()``
replaces the classes' English defaults, before any schema is declared (``directory.i18n``
calls it on the package's first import), by ``Message``: the same English text, a ``str`` as
marshmallow requires, that ``format`` writes in the request's language. The error keys
(``required``, ``invalid``) and the field names of an error stay as they are.

The few messages marshmallow stores without formatting (a schema's "Unknown field.", "Invalid
input type.") are written in the reader's language by ``in_reader_language`` where an error
is answered.
"""

from __future__ import annotations

from typing import Any

from flask_babel import gettext
from marshmallow import Schema, fields, validate


class Message(str):
    """An English message of marshmallow's, written in the request's language when marshmallow
    fills it in (English outside a request). Immutable, so copies of a field share it."""

    __slots__ = ()

    def format(self, *args: Any, **kwargs: Any) -> str:
        return str.format(self.translated(), *args, **kwargs)

    def translated(self) -> str:
        return gettext(str(self))

    def __copy__(self) -> Message:
        return self

    def __deepcopy__(self, _memo: dict[int, Any]) -> Message:
        return self


def _l(message: str) -> Message:
    """A message marshmallow formats; the name is the catalogue's keyword for lazy messages."""
    return Message(message)


FIELD_MESSAGES: dict[type[fields.Field], dict[str, Message]] = {
    fields.Field: {"required": _l("Missing data for required field."),
                   "null": _l("Field may not be null."),
                   "validator_failed": _l("Invalid value.")},
    fields.Nested: {"type": _l("Invalid type.")},
    fields.List: {"invalid": _l("Not a valid list.")},
    fields.Tuple: {"invalid": _l("Not a valid tuple.")},
    fields.String: {"invalid": _l("Not a valid string."),
                    "invalid_utf8": _l("Not a valid utf-8 string.")},
    fields.Number: {"invalid": _l("Not a valid number."), "too_large": _l("Number too large.")},
    fields.Integer: {"invalid": _l("Not a valid integer.")},
    fields.Float: {"special": _l("Special numeric values (nan or infinity) are not permitted.")},
    fields.Boolean: {"invalid": _l("Not a valid boolean.")},
    # One whole sentence per kind of moment, where marshmallow names the kind in a placeholder.
    fields.DateTime: {"invalid": _l("Not a valid datetime.")},
    fields.NaiveDateTime: {"invalid_awareness": _l("Not a valid naive datetime.")},
    fields.AwareDateTime: {"invalid_awareness": _l("Not a valid aware datetime.")},
    fields.Date: {"invalid": _l("Not a valid date.")},
    fields.Time: {"invalid": _l("Not a valid time.")},
    fields.Mapping: {"invalid": _l("Not a valid mapping type.")},
    fields.Url: {"invalid": _l("Not a valid URL.")},
    fields.Email: {"invalid": _l("Not a valid email address.")},
    fields.Enum: {"unknown": _l("Must be one of: {choices}.")},
}
SCHEMA_MESSAGES = {"type": _l("Invalid input type."), "unknown": _l("Unknown field.")}
# The validators' own defaults, by class and attribute.
VALIDATOR_MESSAGES: dict[type[validate.Validator], dict[str, Message]] = {
    validate.Length: {"message_min": _l("Shorter than minimum length {min}."),
                      "message_max": _l("Longer than maximum length {max}."),
                      "message_all": _l("Length must be between {min} and {max}."),
                      "message_equal": _l("Length must be {equal}.")},
    validate.OneOf: {"default_message": _l("Must be one of: {choices}.")},
    validate.ContainsOnly: {"default_message": _l(
        "One or more of the choices you made was not in: {choices}.")},
    validate.ContainsNoneOf: {"default_message": _l(
        "One or more of the choices you made was in: {values}.")},
    validate.NoneOf: {"default_message": _l("Invalid input.")},
    validate.Predicate: {"default_message": _l("Invalid input.")},
    validate.Equal: {"default_message": _l("Must be equal to {other}.")},
    validate.Regexp: {"default_message": _l("String does not match expected pattern.")},
    validate.Email: {"default_message": _l("Not a valid email address.")},
    validate.URL: {"default_message": _l("Not a valid URL.")},
}
# validate.Range joins its sentence from fragments ("Must be {min_op} {{min}}.") when it is
# declared; each sentence it can make is here whole, for the catalogue.
RANGE_SENTENCES = {message: message for message in (
    _l("Must be greater than or equal to {min}."), _l("Must be greater than {min}."),
    _l("Must be less than or equal to {max}."), _l("Must be less than {max}."),
    _l("Must be greater than or equal to {min} and less than or equal to {max}."),
    _l("Must be greater than or equal to {min} and less than {max}."),
    _l("Must be greater than {min} and less than or equal to {max}."),
    _l("Must be greater than {min} and less than {max}."),
)}


class _RangeTemplate(str):
    """Range's own template: filled with its English operators, it gives the whole sentence."""

    __slots__ = ()

    def format(self, *args: Any, **kwargs: Any) -> Message:
        return RANGE_SENTENCES[str.format(self, *args, **kwargs)]


def install() -> None:
    """Put the messages above in place of marshmallow's; idempotent."""
    for field_class, messages in FIELD_MESSAGES.items():
        field_class.default_error_messages = {
            **vars(field_class).get("default_error_messages", {}), **messages}
    Schema._default_error_messages = {**Schema._default_error_messages, **SCHEMA_MESSAGES}
    for validator_class, attributes in VALIDATOR_MESSAGES.items():
        for name, message in attributes.items():
            setattr(validator_class, name, message)
    for name in ("message_min", "message_max", "message_all"):
        setattr(validate.Range, name, _RangeTemplate(getattr(validate.Range, name)))


def in_reader_language(messages: Any) -> Any:
    """A ValidationError's messages with those marshmallow stored unformatted translated."""
    if isinstance(messages, Message):
        return messages.translated()
    if isinstance(messages, dict):
        return {key: in_reader_language(value) for key, value in messages.items()}
    if isinstance(messages, list):
        return [in_reader_language(value) for value in messages]
    return messages
