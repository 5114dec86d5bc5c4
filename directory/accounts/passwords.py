"""Password hashing with Argon2id (argon2-cffi's recommended parameters), and the password rules.

The rules follow NIST SP 800-63B and OWASP ASVS 5.0: a length range and a block list, no
composition rules. The block list ships with the package (data/SOURCES.txt), so the check needs
no network.
"""

from __future__ import annotations

import functools
import gzip
import re
import string
from pathlib import Path

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from flask_babel import gettext as _

MIN_LENGTH = 12
MAX_LENGTH = 128
COMMON_PASSWORDS_FILE = Path(__file__).resolve().parent / "data" / "common-passwords.txt.gz"

_hasher = PasswordHasher()
# Verified against when the email is unknown, so both failures take the same time.
_DUMMY_HASH = _hasher.hash("not-a-real-password-used-for-timing")
_PADDING = string.digits + string.punctuation + string.whitespace
_SEQUENCES = ("0123456789" * 3, "abcdefghijklmnopqrstuvwxyz" * 2, "qwertyuiopasdfghjklzxcvbnm",
              "1qaz2wsx3edc4rfv5tgb6yhn7ujm8ik9ol0p")


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    try:
        return _hasher.verify(password_hash or _DUMMY_HASH, password) and password_hash is not None
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    return _hasher.check_needs_rehash(password_hash)


@functools.cache
def common_passwords() -> frozenset[str]:
    with gzip.open(COMMON_PASSWORDS_FILE, "rt", encoding="utf-8") as handle:
        return frozenset(line.strip() for line in handle if line.strip())


def password_problem(password: str, *, email: str = "", name: str = "") -> str | None:
    """Why ``password`` may not be chosen, in words for the user; None when it may."""
    if len(password) < MIN_LENGTH:
        return _("Use at least %(count)s characters (a few words make a good password).",
                 count=MIN_LENGTH)
    if len(password) > MAX_LENGTH:
        return _("Use at most %(count)s characters.", count=MAX_LENGTH)
    lowered = password.lower()
    core = re.sub(r"\s+", "", lowered.strip(_PADDING))
    common = common_passwords()
    if lowered in common or core in common:
        return _("This password is on a list of common or breached passwords: choose another.")
    if len(set(lowered)) < 4 or any(lowered in sequence for sequence in _SEQUENCES):
        return _("Avoid repeated or sequential characters: choose another password.")
    local_part = email.lower().partition("@")[0]
    context = {re.sub(r"\s+", "", name.lower()), local_part, "partnerdirectory", "directory"}
    if core in context - {""} or (email and email.lower() in lowered):
        return _("Choose a password that is not based on your name, email address or this "
                 "site.")
    return None
