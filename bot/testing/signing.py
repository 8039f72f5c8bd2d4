"""Request signing helpers that produce exactly what Slack and Intercom send."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlencode


def sign_intercom(body: bytes, secret: str) -> str:
    """Return the `X-Hub-Signature` value Intercom puts on a webhook with this raw body."""
    digest = hmac.new(secret.encode(), body, hashlib.sha1).hexdigest()
    return f"sha1={digest}"


def slack_signature_headers(
    body: str, signing_secret: str, timestamp: int | None = None
) -> dict[str, str]:
    """Return the headers Slack sends with a signed request carrying this body."""
    ts = int(time.time()) if timestamp is None else timestamp
    base = f"v0:{ts}:{body}".encode()
    digest = hmac.new(signing_secret.encode(), base, hashlib.sha256).hexdigest()
    return {
        "X-Slack-Request-Timestamp": str(ts),
        "X-Slack-Signature": f"v0={digest}",
        "Content-Type": "application/x-www-form-urlencoded",
    }


def slack_form_body(payload: Mapping[str, Any]) -> str:
    """Encode an interactivity payload the way Slack posts it (`payload=<json>`)."""
    return urlencode({"payload": json.dumps(payload)})


def slack_command_body(fields: Mapping[str, str]) -> str:
    """Encode slash command fields the way Slack posts them (plain form fields)."""
    return urlencode(dict(fields))
