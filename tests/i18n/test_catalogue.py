"""The Spanish catalogue is complete and current: every message the code and the templates
hand to gettext has a Spanish translation with the same placeholders, and the compiled file
the app reads says what the catalogue says."""

from __future__ import annotations

import configparser
from pathlib import Path

import pytest
from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po

from directory.i18n import DEFAULT_LANGUAGE, INTERFACE_LANGUAGES, TRANSLATIONS

ROOT = Path(__file__).resolve().parents[2]
KEYWORDS = {"_": None, "gettext": None, "ngettext": (1, 2), "lazy_gettext": None, "_l": None,
            "pgettext": ((1, "c"), 2), "npgettext": ((1, "c"), 2, 3)}


def _method_map() -> tuple[list[tuple[str, str]], dict[str, dict[str, str]]]:
    parser = configparser.RawConfigParser()
    parser.read(ROOT / "babel.cfg")
    methods, options = [], {}
    for section in parser.sections():
        method, pattern = (part.strip() for part in section.split(":", 1))
        methods.append((pattern, method))
        options[pattern] = dict(parser.items(section))
    return methods, options


def _key(context: str | None, message: str | tuple[str, ...]) -> str:
    msgid = message[0] if isinstance(message, tuple) else message
    return f"{context}\x04{msgid}" if context else msgid


def extracted() -> dict[str, str | tuple[str, ...]]:
    """Every message id in the code and the templates (plural ids as tuples)."""
    methods, options = _method_map()
    found: dict[str, str | tuple[str, ...]] = {}
    for filename, _line, message, _comments, context in extract_from_dir(
            ROOT, methods, options, keywords=KEYWORDS):
        assert message, f"an empty message in {filename}"
        found[_key(context, message)] = message
    return found


def spanish() -> Catalog:
    with open(TRANSLATIONS / "es/LC_MESSAGES/messages.po", "rb") as source:
        return read_po(source, locale="es")


def test_the_code_wraps_messages_at_all() -> None:
    assert len(extracted()) >= 5


def test_every_message_has_a_spanish_translation() -> None:
    catalogue = spanish()
    missing = []
    for key, message in sorted(extracted().items()):
        context, _sep, msgid = key.rpartition("\x04")
        entry = catalogue.get(msgid, context=context or None)
        strings = () if entry is None else (
            entry.string if isinstance(entry.string, tuple) else (entry.string,))
        if entry is None or entry.fuzzy or not all(strings):
            missing.append(message)
    assert not missing, f"{len(missing)} messages lack a Spanish translation: {missing[:20]}"


def test_translations_keep_their_placeholders() -> None:
    problems = [(message.id, [str(error) for error in errors])
                for message, errors in spanish().check() if errors]
    assert not problems


def test_the_catalogue_holds_no_message_the_code_no_longer_uses() -> None:
    used = set(extracted())
    stale = [message.id for message in spanish()
             if message.id and _key(message.context, message.id) not in used]
    assert not stale, f"obsolete entries: {stale[:20]}"


def _plain(text: str | list[str] | tuple[str, ...]) -> str | tuple[str, ...]:
    """A message id or string as comparable text (read_mo gives plurals as lists)."""
    return tuple(text) if isinstance(text, list | tuple) else text


def test_the_compiled_catalogue_is_current() -> None:
    with open(TRANSLATIONS / "es/LC_MESSAGES/messages.mo", "rb") as compiled_file:
        compiled = read_mo(compiled_file)
    source = {(message.context, _plain(message.id)): _plain(message.string)
              for message in spanish() if message.id}
    built = {(message.context, _plain(message.id)): _plain(message.string)
             for message in compiled if message.id}
    assert built == source, "run: pybabel compile -d directory/translations"


@pytest.mark.parametrize("language", sorted(set(INTERFACE_LANGUAGES) - {DEFAULT_LANGUAGE}))
def test_a_catalogue_exists_for_every_interface_language(language: str) -> None:
    assert (TRANSLATIONS / language / "LC_MESSAGES" / "messages.mo").is_file()
