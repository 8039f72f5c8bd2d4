"""Intercom's API origins, and the one form origins are compared in."""

from __future__ import annotations

from urllib.parse import urlsplit

DEFAULT_API_ORIGINS = (
    "https://api.intercom.io",
    "https://api.eu.intercom.io",
    "https://api.au.intercom.io",
)


def normalise_origin(url: str) -> str:
    """`scheme://host[:port]` in lower case, the form callback URLs are compared in."""
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"not an http(s) origin: {url.strip()!r}")
    host = parts.hostname.lower()
    if ":" in host:  # IPv6 literals keep their brackets in an origin
        host = f"[{host}]"
    default_port = {"http": 80, "https": 443}[parts.scheme]
    port = f":{parts.port}" if parts.port and parts.port != default_port else ""
    return f"{parts.scheme}://{host}{port}"
