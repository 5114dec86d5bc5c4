"""A faster ``load`` for a marshmallow schema, with the schema's own rules.

``schema.load`` spends most of its time in marshmallow's machinery (error stores, partial
loading, hook look-ups), not in the rules: an import that loads 100,000 listings through
``ListingSchema`` spent more time there than anywhere else. ``FastLoader`` walks the same
schema's fields once per value with the same field objects' validators, load defaults and
the schema's own ``validates_schema`` and ``post_load`` methods, for the plain values
(strings, booleans, numbers, enumerations, lists, nested schemas) an import hands it.

Anything it is not sure of is given to ``schema.load`` itself: a value of another type, a
validator or schema check that fails (so every error message is marshmallow's, word for
word), an unknown key under ``unknown = RAISE``. Its answer on success is what
``schema.load`` returns (tests/test_fastload.py compares the two on generated listings and
coverage areas, valid and not). A value for a field of another type (a date) goes to
marshmallow; a schema with a feature it does not know (``data_key``, field-level pre/post
processing, ``@validates`` methods, hooks on the whole collection, ``pre_load``) is loaded
by marshmallow every time.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Callable
from typing import Any

from marshmallow import EXCLUDE, RAISE, Schema, ValidationError, fields
from marshmallow.utils import missing

_Convert = Callable[[Any], Any]


class _Unsure(Exception):
    """A value the fast path does not decide: marshmallow does."""


class Unsupported(TypeError):
    """A schema feature the fast path does not reproduce."""


def _undecided(_value: Any) -> Any:
    raise _Unsure


def _string(value: Any) -> Any:
    if type(value) is not str:
        raise _Unsure
    return value


def _boolean(value: Any) -> Any:
    if type(value) is not bool:
        raise _Unsure
    return value


def _float(value: Any) -> Any:
    if type(value) not in (float, int) or not math.isfinite(value):
        raise _Unsure
    return float(value)


def _integer(value: Any) -> Any:
    if type(value) is not int:
        raise _Unsure
    return value


def _enum(field: fields.Enum) -> _Convert:
    if not field.by_value:
        raise Unsupported("Enum fields by name")
    members = {member.value: member for member in field.enum}

    def convert(value: Any) -> Any:
        if type(value) is not str and not isinstance(value, enum.Enum):
            raise _Unsure
        try:
            return members[value]
        except (KeyError, TypeError):
            raise _Unsure from None

    return convert


def _field(field: fields.Field) -> tuple[_Convert, list[Callable[[Any], Any]]]:
    """The conversion of one field's present, non-None value, and its validators."""
    if field.data_key is not None or field.attribute is not None:
        raise Unsupported("data_key or attribute")
    if getattr(field, "pre_load", None) or getattr(field, "post_load", None):
        return _undecided, []
    convert: _Convert
    if isinstance(field, fields.Nested):
        if field.unknown is not None or field.many or field.only or field.exclude:
            raise Unsupported("Nested options")
        nested = field.schema
        if not isinstance(nested, Schema):
            raise Unsupported("Nested of a non-schema")
        convert = FastLoader(nested).load_checked
    elif isinstance(field, fields.List):
        inner, inner_validators = _field(field.inner)
        if field.inner.allow_none:
            raise Unsupported("List of optional values")

        def convert(value: Any) -> Any:
            if type(value) not in (list, tuple):
                raise _Unsure
            result = [inner(item) for item in value]
            for item in result:
                for validator in inner_validators:
                    validator(item)
            return result
    elif isinstance(field, fields.String) and (
            type(field)._deserialize is fields.String._deserialize):
        convert = _string  # String, Url, Email and text kinds: their checks are validators
    elif type(field) is fields.Boolean:
        convert = _boolean
    elif type(field) is fields.Float and not field.allow_nan and not field.as_string:
        convert = _float
    elif type(field) is fields.Integer and not field.as_string:
        convert = _integer
    elif type(field) is fields.Enum:
        convert = _enum(field)
    else:
        convert = _undecided  # another type (a date...): marshmallow reads any value given
    return convert, list(field.validators)


class FastLoader:
    """``load(data)``: what ``schema.load(data)`` returns, or raises, faster for plain data."""

    def __init__(self, schema: Schema) -> None:
        self.schema = schema
        try:
            self._plan = self._compile(schema)
        except Unsupported:
            self._plan = None

    @staticmethod
    def _compile(schema: Schema) -> dict[str, Any]:
        hooks = schema._hooks
        if any(hooks.get(tag) for tag in ("pre_load", "validates")):
            raise Unsupported("pre_load or validates hooks")
        if any(many or kwargs.get("pass_original")
               for tag in ("validates_schema", "post_load") for _, many, kwargs in hooks[tag]):
            raise Unsupported("hooks on collections or on the original data")
        if schema.many or schema.partial or schema.unknown not in (EXCLUDE, RAISE):
            raise Unsupported("schema options")
        load_fields = []
        for name, field in schema.load_fields.items():
            convert, validators = _field(field)
            load_fields.append((name, field, convert, validators))
        return {
            "fields": load_fields,
            "names": frozenset(name for name, *_ in load_fields),
            "raise_unknown": schema.unknown == RAISE,
            "validators": [getattr(schema, name) for name, _, _ in hooks["validates_schema"]],
            "post_load": [getattr(schema, name) for name, _, _ in hooks["post_load"]],
        }

    def load(self, data: Any) -> Any:
        """``schema.load(data)``: its answer, or its ValidationError."""
        if self._plan is not None:
            try:
                return self.load_checked(data)
            except (_Unsure, ValidationError):
                pass
        return self.schema.load(data)

    def load_checked(self, data: Any) -> dict[str, Any]:
        """The loaded data; raises _Unsure or ValidationError where marshmallow must say
        what is wrong."""
        plan = self._plan
        if plan is None or type(data) is not dict:
            raise _Unsure
        if plan["raise_unknown"] and not data.keys() <= plan["names"]:
            raise _Unsure
        result: dict[str, Any] = {}
        for name, field, convert, validators in plan["fields"]:
            value = data.get(name, missing)
            if value is missing:
                if field.required:
                    raise _Unsure
                default = field.load_default
                if default is missing:
                    continue
                result[name] = default() if callable(default) else default
                continue
            if value is None:
                if not field.allow_none:
                    raise _Unsure
                result[name] = None
                continue
            value = convert(value)
            for validator in validators:
                validator(value)
            result[name] = value
        for validator in plan["validators"]:
            validator(result, partial=None, many=False, unknown=self.schema.unknown)
        for processor in plan["post_load"]:
            result = processor(result, many=False, partial=None, unknown=self.schema.unknown)
        return result
