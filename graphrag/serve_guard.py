"""`graphrag serve` on an address other machines can reach needs an API key: an open API
would let anyone who reaches the port read the graph and add or delete documents."""

from __future__ import annotations

import ipaddress

from graphrag.errors import ConfigError
from graphrag.settings import Settings


def is_loopback(host: str) -> bool:
    """True for addresses only this machine can reach (127.0.0.0/8, ::1, localhost)."""
    if host.strip().lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False  # a host name: it may resolve to any interface


def check_bind(host: str, settings: Settings, *, insecure_no_auth: bool = False) -> None:
    """Raises unless `host` is loopback, an API key is set, or the caller opted out."""
    has_key = (settings.api_key is not None and bool(settings.api_key.get_secret_value())) or bool(settings.api_keys)
    if has_key or insecure_no_auth or is_loopback(host):
        return
    raise ConfigError(
        f"--host {host} accepts connections from other machines, and no GRAPHRAG_API_KEY or GRAPHRAG_API_KEYS is set: "
        "anyone who reaches the port could read and change the graph. Set GRAPHRAG_API_KEY, serve on "
        "127.0.0.1, or pass --insecure-no-auth if something in front of it does the authentication."
    )
