"""Settings: embedded defaults, then ``DIRECTORY_*`` environment variables, then a test mapping.

Modes (``DIRECTORY_ENV``):
- ``production`` (default): the secret key and the data key must be given; start-up fails otherwise.
- ``development``: fixed, insecure keys are allowed, with a warning in the log.
- ``demo``: keys are generated once and kept in ``instance/demo-secrets.json``; demo users get
  the demo password; two-factor sign-in is not required.
- ``testing``: used by the test suite.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import json
import logging
import os
import secrets
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from cryptography.fernet import Fernet

log = logging.getLogger(__name__)

PROJECT_ROOT = Path(__file__).resolve().parent.parent
MODES = ("production", "development", "demo", "testing")
_DEV_SECRET_KEY = "development-only-secret-key-do-not-use-in-production"
_DEV_DATA_KEY = base64.urlsafe_b64encode(b"development-only-data-key-32byte").decode()


class ConfigError(RuntimeError):
    """Raised at start-up when the settings cannot run the application safely."""


def _env_bool(value: str) -> bool:
    return value.strip().lower() in {"1", "true", "yes", "on"}


# setting name -> (environment variable suffix, parser)
_ENV_SETTINGS: dict[str, tuple[str, Any]] = {
    "ENV": ("ENV", str),
    "INSTANCE_PATH": ("INSTANCE_PATH", str),
    "DATABASE_URL": ("DATABASE_URL", str),
    "SECRET_KEY": ("SECRET_KEY", str),
    "DATA_KEY": ("DATA_KEY", str),
    "GEOCODER": ("GEOCODER", str),
    "GEOCODER_USER_AGENT": ("GEOCODER_USER_AGENT", str),
    "RATELIMIT_STORAGE": ("RATELIMIT_STORAGE", str),
    "PUBLIC_LISTINGS": ("PUBLIC_LISTINGS", _env_bool),
    "PUBLIC_HSDS_API": ("PUBLIC_HSDS_API", _env_bool),
    "DEMO_PASSWORD": ("DEMO_PASSWORD", str),
    "MAIL_SERVER": ("MAIL_SERVER", str),
    "MAIL_PORT": ("MAIL_PORT", int),
    "MAIL_USERNAME": ("MAIL_USERNAME", str),
    "MAIL_PASSWORD": ("MAIL_PASSWORD", str),
    "MAIL_USE_TLS": ("MAIL_USE_TLS", _env_bool),
    "MAIL_DEFAULT_SENDER": ("MAIL_DEFAULT_SENDER", str),
    "PAGE_SIZE": ("PAGE_SIZE", int),
    "MAP_TILES": ("MAP_TILES", str),
    "MAP_ATTRIBUTION": ("MAP_ATTRIBUTION", str),
    "BASE_URL": ("BASE_URL", str),
    "REQUIRE_2FA": ("REQUIRE_2FA", _env_bool),
    "SESSION_IDLE_MINUTES": ("SESSION_IDLE_MINUTES", int),
    "SESSION_MAX_HOURS": ("SESSION_MAX_HOURS", int),
    "REMEMBER_DAYS": ("REMEMBER_DAYS", int),
    "LOGIN_LIMIT_PER_ACCOUNT": ("LOGIN_LIMIT_PER_ACCOUNT", str),
    "LOGIN_LIMIT_PER_ADDRESS": ("LOGIN_LIMIT_PER_ADDRESS", str),
    "PROXY_COUNT": ("PROXY_COUNT", int),
    "RESPONSE_HOURS_EMERGENCY": ("RESPONSE_HOURS_EMERGENCY", int),
    "RESPONSE_HOURS_URGENT": ("RESPONSE_HOURS_URGENT", int),
    "RESPONSE_HOURS_ROUTINE": ("RESPONSE_HOURS_ROUTINE", int),
    "CLIENT_DATA_RETENTION_DAYS": ("CLIENT_DATA_RETENTION_DAYS", int),
    "DRAFT_RETENTION_DAYS": ("DRAFT_RETENTION_DAYS", int),
    "API_RATE_LIMIT": ("API_RATE_LIMIT", str),
    "METRICS_TOKEN": ("METRICS_TOKEN", str),
    "METRICS_ALLOW": ("METRICS_ALLOW", str),
    "LOG_FORMAT": ("LOG_FORMAT", str),
    "LISTING_REVIEW_DAYS": ("LISTING_REVIEW_DAYS", int),
    "REPORT_MIN_COUNT": ("REPORT_MIN_COUNT", int),
    "PUBLIC_REPORT": ("PUBLIC_REPORT", _env_bool),
}


def defaults() -> dict[str, Any]:
    return {
        "ENV": "production",
        "INSTANCE_PATH": str(PROJECT_ROOT / "instance"),
        "DATABASE_URL": None,  # derived from INSTANCE_PATH when not given
        "SECRET_KEY": None,
        "DATA_KEY": None,
        "GEOCODER": "offline",
        "GEOCODER_USER_AGENT": "directory-partner-network",
        "RATELIMIT_STORAGE": "memory://",
        "PUBLIC_LISTINGS": False,
        "PUBLIC_HSDS_API": False,  # the standard HSDS API at /hsds/ for anonymous consumers
        "DEMO_PASSWORD": None,
        "MAIL_SERVER": None,
        "MAIL_PORT": 25,
        "MAIL_USERNAME": None,
        "MAIL_PASSWORD": None,
        "MAIL_USE_TLS": False,
        "MAIL_DEFAULT_SENDER": "directory@localhost",
        "PAGE_SIZE": 25,
        # A tile URL template such as https://tile.openstreetmap.org/{z}/{x}/{y}.png; empty:
        # the map draws state outlines shipped with the app and needs no network.
        "MAP_TILES": "",
        "MAP_ATTRIBUTION": "",
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "REMEMBER_COOKIE_HTTPONLY": True,
        "REMEMBER_COOKIE_SAMESITE": "Lax",
        "MAX_CONTENT_LENGTH": 2 * 1024 * 1024,
        "WTF_CSRF_TIME_LIMIT": None,
        "BASE_URL": None,  # links in mail; the request's host when not given
        "REQUIRE_2FA": None,  # on outside demo mode when not given
        "SESSION_IDLE_MINUTES": 30,
        "SESSION_MAX_HOURS": 12,
        "REMEMBER_DAYS": 14,
        "LOGIN_LIMIT_PER_ACCOUNT": "5 per minute; 20 per hour",
        "LOGIN_LIMIT_PER_ADDRESS": "30 per minute; 300 per hour",
        "PROXY_COUNT": 0,
        "API_RATE_LIMIT": "600 per minute",  # per token, else per user, else per address
        "RATELIMIT_HEADERS_ENABLED": True,
        # Referrals: the receiver's time to answer, by urgency; then how long client details
        # outlive a referral's end before `directory sweep` purges them.
        "RESPONSE_HOURS_EMERGENCY": 4,
        "RESPONSE_HOURS_URGENT": 24,
        "RESPONSE_HOURS_ROUTINE": 72,
        "CLIENT_DATA_RETENTION_DAYS": 90,
        "DRAFT_RETENTION_DAYS": 30,
        # /metrics: a bearer token, or addresses and networks separated by commas; neither: 404.
        "METRICS_TOKEN": None,
        "METRICS_ALLOW": "",
        "LOG_FORMAT": "text",  # or "json": one JSON object per line
        # Days a listing goes unconfirmed by its organization before `directory sweep`
        # reminds its admins (and again 30 days later).
        "LISTING_REVIEW_DAYS": 180,
        # Reports: counts from 1 to REPORT_MIN_COUNT - 1 are shown as "fewer than N" (public
        # health practice is 5 or 10).
        "REPORT_MIN_COUNT": 5,
        # The public transparency page at /reports/public (aggregates only), for anyone.
        "PUBLIC_REPORT": False,
    }


def from_environment(environ: Mapping[str, str]) -> dict[str, Any]:
    settings: dict[str, Any] = {}
    for name, (suffix, parse) in _ENV_SETTINGS.items():
        raw = environ.get(f"DIRECTORY_{suffix}")
        if raw is None or raw == "":
            continue
        try:
            settings[name] = parse(raw)
        except ValueError as exc:
            raise ConfigError(f"DIRECTORY_{suffix}={raw!r} is not valid: {exc}") from exc
    return settings


def load(overrides: Mapping[str, Any] | None = None,
         environ: Mapping[str, str] | None = None) -> dict[str, Any]:
    """Merge defaults, environment and overrides, then derive and check the result."""
    settings = defaults()
    settings.update(from_environment(os.environ if environ is None else environ))
    if overrides:
        settings.update(overrides)
    return finalize(settings)


def finalize(settings: dict[str, Any]) -> dict[str, Any]:
    mode = settings["ENV"]
    if mode not in MODES:
        raise ConfigError(f"DIRECTORY_ENV must be one of {', '.join(MODES)}; got {mode!r}.")
    instance = Path(settings["INSTANCE_PATH"]).expanduser().resolve()
    settings["INSTANCE_PATH"] = str(instance)
    if not settings["DATABASE_URL"]:
        settings["DATABASE_URL"] = f"sqlite:///{instance / 'directory.db'}"
    settings["TESTING"] = mode == "testing"
    settings["DEMO_MODE"] = mode == "demo"
    settings["SESSION_COOKIE_SECURE"] = settings.get("SESSION_COOKIE_SECURE", mode == "production")
    settings["REMEMBER_COOKIE_SECURE"] = settings["SESSION_COOKIE_SECURE"]
    if settings["SESSION_COOKIE_SECURE"]:
        # Only sent over HTTPS, to this host, for every path: no subdomain can set or read it.
        settings.setdefault("SESSION_COOKIE_NAME", "__Host-session")
    _finalize_accounts(settings, mode)

    if mode == "demo":
        _fill_demo_secrets(settings, instance)
    elif mode in {"development", "testing"}:
        if not settings["SECRET_KEY"]:
            settings["SECRET_KEY"] = _DEV_SECRET_KEY
            if mode == "development":
                log.warning("DIRECTORY_SECRET_KEY is not set: using an insecure development key")
        if not settings["DATA_KEY"]:
            settings["DATA_KEY"] = _DEV_DATA_KEY
    _check_secrets(settings)
    return settings


def _finalize_accounts(settings: dict[str, Any], mode: str) -> None:
    """Sign-in settings: two-factor default, session lifetimes, rate-limit storage and limits."""
    from limits import parse_many

    if settings["REQUIRE_2FA"] is None:
        settings["REQUIRE_2FA"] = mode != "demo"
    for name in ("SESSION_IDLE_MINUTES", "SESSION_MAX_HOURS", "REMEMBER_DAYS"):
        if int(settings[name]) < 1:
            raise ConfigError(f"DIRECTORY_{name} must be a positive whole number.")
    for name in ("RESPONSE_HOURS_EMERGENCY", "RESPONSE_HOURS_URGENT", "RESPONSE_HOURS_ROUTINE",
                 "CLIENT_DATA_RETENTION_DAYS", "DRAFT_RETENTION_DAYS", "LISTING_REVIEW_DAYS",
                 "REPORT_MIN_COUNT"):
        if int(settings[name]) < 1:
            raise ConfigError(f"DIRECTORY_{name} must be a positive whole number.")
    if int(settings["PROXY_COUNT"]) < 0:
        raise ConfigError("DIRECTORY_PROXY_COUNT must be 0 or more.")
    for name in ("LOGIN_LIMIT_PER_ACCOUNT", "LOGIN_LIMIT_PER_ADDRESS"):
        try:
            parse_many(settings[name])
        except ValueError as exc:
            raise ConfigError(f"DIRECTORY_{name}={settings[name]!r} is not a rate limit such as "
                              "'5 per minute; 20 per hour'.") from exc
    # Remembered sessions keep their cookie this long; the server ends them at the same time.
    settings["PERMANENT_SESSION_LIFETIME"] = dt.timedelta(days=int(settings["REMEMBER_DAYS"]))
    settings["RATELIMIT_STORAGE_URI"] = settings["RATELIMIT_STORAGE"]
    if mode == "production" and not settings["BASE_URL"]:
        log.warning("DIRECTORY_BASE_URL is not set: links in mail use the host of each request")


def _fill_demo_secrets(settings: dict[str, Any], instance: Path) -> None:
    path = instance / "demo-secrets.json"
    stored: dict[str, str] = {}
    if path.exists():
        stored = json.loads(path.read_text())
    changed = False
    if "SECRET_KEY" not in stored:
        stored["SECRET_KEY"] = secrets.token_urlsafe(32)
        changed = True
    if "DATA_KEY" not in stored:
        stored["DATA_KEY"] = Fernet.generate_key().decode()
        changed = True
    if changed:
        instance.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(stored))
        path.chmod(0o600)
    settings["SECRET_KEY"] = settings["SECRET_KEY"] or stored["SECRET_KEY"]
    settings["DATA_KEY"] = settings["DATA_KEY"] or stored["DATA_KEY"]


def _check_secrets(settings: dict[str, Any]) -> None:
    secret_key = settings["SECRET_KEY"]
    if not secret_key:
        raise ConfigError(
            "DIRECTORY_SECRET_KEY is not set. Production mode needs a long random secret, e.g. "
            "`python -c \"import secrets; print(secrets.token_urlsafe(32))\"`. "
            "To try the application instead, run `directory demo`."
        )
    if settings["ENV"] == "production" and (
        len(secret_key) < 24 or secret_key == _DEV_SECRET_KEY
    ):
        raise ConfigError("DIRECTORY_SECRET_KEY is too short or a known development value: "
                          "use at least 24 random characters.")
    data_key = settings["DATA_KEY"]
    if not data_key:
        raise ConfigError(
            "DIRECTORY_DATA_KEY is not set. It encrypts client details at rest; create one with "
            "`python -c \"from cryptography.fernet import Fernet; "
            "print(Fernet.generate_key().decode())\"`."
        )
    for key in data_key.split(","):
        if not _is_fernet_key(key.strip()):
            raise ConfigError("DIRECTORY_DATA_KEY must be a Fernet key (32 url-safe base64 bytes); "
                              "several keys, newest first, may be separated by commas.")
    if settings["ENV"] == "production" and _DEV_DATA_KEY in data_key:
        raise ConfigError("DIRECTORY_DATA_KEY is the development key: create a real one.")


def _is_fernet_key(key: str) -> bool:
    try:
        return len(base64.urlsafe_b64decode(key.encode())) == 32
    except (binascii.Error, ValueError):
        return False
