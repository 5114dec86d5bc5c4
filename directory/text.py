"""The one rule for bidirectional control characters in text people send.

These invisible characters change the order in which the text around them is displayed, so a
phone number, a name or an email address can read differently from what is stored (U+202E
turns ``555-0100`` into ``0010-555`` on screen), and one name can pass for another.

- **One-line fields** (identifiers such as slugs, emails and codes; phone numbers; names,
  titles, cities, addresses, labels and other short text) refuse all of them: the embeddings
  and overrides U+202A–U+202E, the isolates U+2066–U+2069 and the marks U+200E, U+200F and
  U+061C. Nothing is stripped silently: the person sees which character and can remove it.
- **Free text** (descriptions, notes, reasons: ``Prose`` fields and text areas) keeps the
  three marks, which right-to-left writing uses and which only affect the characters next to
  them, but refuses the embeddings, overrides and isolates, which reorder everything after
  them.

Every marshmallow input schema derives from ``TextSchema`` and every form from ``TextForm``,
so a new string field is held to the one-line rule unless it is declared as free text.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from marshmallow import Schema, ValidationError, fields, validates_schema
from wtforms import Field, PasswordField, StringField, TextAreaField
from wtforms import ValidationError as FormValidationError

# What each character does, for the message that names it.
REORDERING = {
    "\u202a": _l("left-to-right embedding"), "\u202b": _l("right-to-left embedding"),
    "\u202c": _l("pop directional formatting"), "\u202d": _l("left-to-right override"),
    "\u202e": _l("right-to-left override"), "\u2066": _l("left-to-right isolate"),
    "\u2067": _l("right-to-left isolate"), "\u2068": _l("first strong isolate"),
    "\u2069": _l("pop directional isolate"),
}
MARKS = {"\u200e": _l("left-to-right mark"), "\u200f": _l("right-to-left mark"),
         "\u061c": _l("Arabic letter mark")}
BIDI_CONTROLS = {**REORDERING, **MARKS}


# One character class each: a search in C, where a scan character by character in Python was
# a tenth of a large import's time.
_REFUSED_IN_PROSE = re.compile(f"[{''.join(REORDERING)}]")
_REFUSED = re.compile(f"[{''.join(BIDI_CONTROLS)}]")


def bidi_problem(value: str, *, prose: bool = False) -> str | None:
    """What is wrong with ``value`` under the rule above (``prose``: free text), or None."""
    refused = REORDERING if prose else BIDI_CONTROLS
    found = (_REFUSED_IN_PROSE if prose else _REFUSED).search(value)
    if found is None:
        return None
    char = found.group()
    return _("Remove the invisible %(name)s (U+%(code)s): it changes how the text around it is "
             "displayed.", name=refused[char], code=f"{ord(char):04X}")


def _first_problem(value: Any, *, prose: bool) -> str | None:
    return next((problem for text in _texts((value,))
                 if (problem := bidi_problem(text, prose=prose))), None)


_SCALARS = frozenset({bool, int, float})


def _texts(values: Iterable[Any]) -> Iterator[str]:
    """The strings among ``values`` and in their lists (nested mappings check their own)."""
    for value in values:
        if isinstance(value, str):
            yield value
        elif value is None or type(value) in _SCALARS:
            continue  # the common case, decided without the Iterable check (an import's rows)
        elif isinstance(value, Iterable) and not isinstance(value, Mapping | bytes):
            yield from (item for item in value if isinstance(item, str))


# --- marshmallow ----------------------------------------------------------------------------

class Prose(fields.String):
    """Free text (a description, a note): bidirectional marks allowed, reordering refused."""


def _is_prose(field: fields.Field) -> bool:
    if isinstance(field, fields.List):
        return isinstance(field.inner, Prose)
    return isinstance(field, Prose)


class TextSchema(Schema):
    """An input schema whose string fields follow the rule above (nested schemas that derive
    from it check their own fields)."""

    @validates_schema(skip_on_field_errors=False)
    def _refuse_bidi_controls(self, data: Mapping[str, Any], **_kwargs: Any) -> None:
        if not _REFUSED.search("".join(_texts(data.values()))):
            return  # nothing to look at field by field (almost every row of an import)
        errors: dict[str, list[str]] = {}
        for name, field in self.load_fields.items():
            attribute = field.attribute or name
            if attribute not in data:
                continue
            problem = _first_problem(data[attribute], prose=_is_prose(field))
            if problem:
                errors[field.data_key or name] = [problem]
        if errors:
            raise ValidationError(errors)


# --- WTForms --------------------------------------------------------------------------------

def _check_field(_form: Any, field: Field) -> None:
    problem = _first_problem(field.data, prose=isinstance(field, TextAreaField))
    if problem:
        raise FormValidationError(problem)


class TextForm(FlaskForm):
    """A form whose text inputs follow the rule above: text areas as free text, other text
    inputs (emails, codes, names) as one-line fields. Passwords are the owner's to choose."""

    def validate(self, extra_validators: Mapping[str, Any] | None = None) -> bool:
        extra = {name: list(validators) for name, validators in (extra_validators or {}).items()}
        for name, field in self._fields.items():
            if isinstance(field, StringField) and not isinstance(field, PasswordField):
                extra.setdefault(name, []).append(_check_field)
        return super().validate(extra_validators=extra)
