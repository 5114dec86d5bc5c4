"""Time-based one-time passwords (RFC 6238, authenticator apps) and recovery codes.

The TOTP secret is encrypted at rest with DIRECTORY_DATA_KEY (the newest key encrypts, every
listed key decrypts). A code is accepted for its 30-second step and the next one, and never
twice: the step of the last accepted code is kept. Recovery codes have 40 bits, too few for a
plain hash: they are stored as Argon2 hashes, like passwords.
"""

from __future__ import annotations

import datetime as dt
import hmac
import re
import secrets

import pyotp
import segno
from cryptography.fernet import InvalidToken

from directory.datakey import DataKeyError, fernet

ISSUER = "Partner Directory"
RECOVERY_CODE_COUNT = 10
_CODE = re.compile(r"^\d{6}$")


def new_secret() -> str:
    return pyotp.random_base32()


def encrypt_secret(secret: str) -> str:
    return fernet().encrypt(secret.encode()).decode()


def decrypt_secret(stored: str) -> str:
    """The secret; DataKeyError when the data key cannot open it (a configuration fault to
    report, not a wrong code)."""
    try:
        return fernet().decrypt(stored.encode()).decode()
    except InvalidToken as exc:
        raise DataKeyError("DIRECTORY_DATA_KEY cannot open a stored two-factor secret: the key "
                           "that encrypted it is not in the setting.") from exc


def provisioning_uri(secret: str, email: str) -> str:
    return pyotp.TOTP(secret).provisioning_uri(name=email, issuer_name=ISSUER)


def qr_data_uri(uri: str) -> str:
    """The enrolment QR code as an SVG data URI: an <img>, so no inline script or style."""
    return segno.make(uri, error="m").svg_data_uri(scale=5, border=2)


def matching_step(secret: str, code: str, now: dt.datetime, after_step: int | None) -> int | None:
    """The time step ``code`` belongs to, if it is valid now and newer than ``after_step``.

    A code lives for its 30-second step; the step before is accepted too, for the seconds
    between reading a code and sending it, and a phone's clock running slightly late.
    """
    code = re.sub(r"\s+", "", code)
    if not _CODE.match(code):
        return None
    totp = pyotp.TOTP(secret)
    current = totp.timecode(now)
    for step in (current - 1, current):
        if (after_step is None or step > after_step) and hmac.compare_digest(
                totp.generate_otp(step), code):
            return step
    return None


def new_recovery_codes() -> list[str]:
    """Ten codes of 10 hex digits (40 bits each), shown once as ``xxxxx-xxxxx``."""
    codes = [secrets.token_hex(5) for _ in range(RECOVERY_CODE_COUNT)]
    return [f"{code[:5]}-{code[5:]}" for code in codes]


def normalize_recovery_code(code: str) -> str | None:
    """The code as stored (no dashes or spaces, lower case), if it has the shape of one."""
    normalized = re.sub(r"[\s-]+", "", code).lower()
    return normalized if re.fullmatch(r"[0-9a-f]{10}", normalized) else None
