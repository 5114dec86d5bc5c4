"""Encryption at rest of client details and notes with DIRECTORY_DATA_KEY.

The setting lists Fernet keys newest first: the newest encrypts, every listed key decrypts,
and ``rotate`` re-encrypts a stored value with the newest key (``directory rotate-data-key``).
"""

from __future__ import annotations

import json
from typing import Any

from cryptography.fernet import Fernet, MultiFernet
from flask import current_app


def _fernet() -> MultiFernet:
    keys = [key.strip() for key in current_app.config["DATA_KEY"].split(",") if key.strip()]
    return MultiFernet([Fernet(key.encode()) for key in keys])


def encrypt_text(text: str) -> str:
    return _fernet().encrypt(text.encode()).decode()


def decrypt_text(token: str) -> str:
    return _fernet().decrypt(token.encode()).decode()


def encrypt_json(value: dict[str, Any]) -> str:
    return encrypt_text(json.dumps(value, sort_keys=True))


def decrypt_json(token: str | None) -> dict[str, Any]:
    return {} if token is None else json.loads(decrypt_text(token))


def rotate(token: str) -> str:
    """The same plaintext, encrypted with the newest key (fails if no listed key opens it)."""
    return _fernet().rotate(token.encode()).decode()
