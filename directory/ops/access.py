"""Who may read /metrics: a scraper with the token, or one at an allowed address.

Neither configured: the page does not exist (404). Configured: anyone else gets 403.
"""

from __future__ import annotations

import hmac
import ipaddress
from collections.abc import Sequence

from flask import Flask, request

from directory.config import ConfigError

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def parse_allow_list(raw: str | None) -> tuple[Network, ...]:
    """``DIRECTORY_METRICS_ALLOW``: addresses or networks, separated by commas."""
    networks = []
    for item in (raw or "").split(","):
        if item.strip():
            try:
                networks.append(ipaddress.ip_network(item.strip(), strict=False))
            except ValueError as exc:
                raise ConfigError(f"DIRECTORY_METRICS_ALLOW: {item.strip()!r} is not an address "
                                  "or a network such as 10.0.0.0/8.") from exc
    return tuple(networks)


def metrics_enabled(app: Flask) -> bool:
    return bool(app.config.get("METRICS_TOKEN") or app.config["METRICS_NETWORKS"])


def _bearer_token() -> str | None:
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


def _address_allowed(networks: Sequence[Network]) -> bool:
    try:
        address = ipaddress.ip_address(request.remote_addr or "")
    except ValueError:
        return False
    return any(address in network for network in networks)


def may_read_metrics(app: Flask) -> bool:
    expected = app.config.get("METRICS_TOKEN")
    given = _bearer_token()
    if expected and given and hmac.compare_digest(given.encode(), str(expected).encode()):
        return True
    return _address_allowed(app.config["METRICS_NETWORKS"])


def init_app(app: Flask) -> None:
    app.config["METRICS_NETWORKS"] = parse_allow_list(app.config.get("METRICS_ALLOW"))
    token = app.config.get("METRICS_TOKEN")
    if token and len(str(token)) < 16 and app.config["ENV"] == "production":
        raise ConfigError("DIRECTORY_METRICS_TOKEN is too short: use at least 16 random "
                          "characters.")
