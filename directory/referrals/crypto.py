"""Encryption at rest of client details and notes with DIRECTORY_DATA_KEY.

The setting lists Fernet keys newest first: the newest encrypts, every listed key decrypts,
and ``rotate`` re-encrypts a stored value with the newest key (see directory/datakey.py).
"""

from __future__ import annotations

import json
from typing import Any

from directory.datakey import fernet


def encrypt_text(text: str) -> str:
    return fernet().encrypt(text.encode()).decode()


def decrypt_text(token: str) -> str:
    return fernet().decrypt(token.encode()).decode()


def encrypt_json(value: dict[str, Any]) -> str:
    return encrypt_text(json.dumps(value, sort_keys=True))


def decrypt_json(token: str | None) -> dict[str, Any]:
    return {} if token is None else json.loads(decrypt_text(token))


def rotate(token: str) -> str:
    """The same plaintext, encrypted with the newest key (fails if no listed key opens it)."""
    return fernet().rotate(token.encode()).decode()
