"""What stands between Slack's requests and Bolt: nothing unsigned, oversized, malformed or
from another workspace reaches a listener.

Over HTTP the signature is checked on the raw bytes first, before anything parses them
(an unsigned body costs a header check, or a bounded read and one HMAC). Then, for HTTP
and Socket Mode alike, the payload's shape is checked for what the listeners read, its
text made storable, and the acting user's workspace compared with the installed one.
Bolt receives the parsed payload and does not verify again.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import Any
from urllib.parse import parse_qsl

from bot.untrusted import storable

log = logging.getLogger(__name__)

# Far above any payload Slack sends this bot (a 100-input form and its state are a few
# hundred KB); Slack documents no limit of its own.
MAX_BODY_BYTES = 1024 * 1024
# Slack's own rule for replays: a request older (or newer) than five minutes is refused.
MAX_CLOCK_SKEW_SECONDS = 300
NOT_THIS_WORKSPACE = (
    "Sorry, this bot takes answers only from people in the workspace it is installed in."
)


class Refused(Exception):
    """The request is answered `status` with `reason` and goes no further."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


# --- The signature (HTTP only) ---------------------------------------------------------


def check_headers(headers: Mapping[str, str], now: float) -> tuple[str, str]:
    """The timestamp and signature, refused (401) before the body is read when either is
    missing, malformed or the timestamp is outside Slack's five minutes."""
    timestamp = headers.get("X-Slack-Request-Timestamp", "")
    signature = headers.get("X-Slack-Signature", "")
    if not signature.startswith("v0=") or not timestamp.isascii() or not timestamp.isdigit():
        raise Refused(401, "missing or malformed Slack signature headers")
    if len(timestamp) > 12 or abs(now - int(timestamp)) > MAX_CLOCK_SKEW_SECONDS:
        raise Refused(401, "Slack request timestamp is too old or in the future")
    return timestamp, signature


def check_signature(timestamp: str, signature: str, body: bytes, signing_secret: str) -> None:
    """Slack's v0 HMAC-SHA256 of `v0:{timestamp}:{body}`, compared in constant time."""
    base = b"v0:" + timestamp.encode() + b":" + body
    expected = "v0=" + hmac.new(signing_secret.encode(), base, hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected, signature):
        raise Refused(401, "invalid Slack signature")


def parse_http_body(body: bytes, content_type: str) -> dict[str, Any]:
    """The payload of a verified body: JSON (events), `payload=<json>` (interactivity) or
    plain form fields (slash commands)."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise Refused(400, "body is not UTF-8") from None
    try:
        if content_type == "application/json" or text.startswith("{"):
            payload: object = json.loads(text)
        else:
            fields = dict(parse_qsl(text, keep_blank_values=True))
            payload = json.loads(fields["payload"]) if "payload" in fields else fields
    except (json.JSONDecodeError, RecursionError):
        raise Refused(400, "body is not the JSON or form Slack sends") from None
    if not isinstance(payload, dict):
        raise Refused(400, "payload is not a JSON object")
    return payload


# --- The payload's shape (HTTP and Socket Mode) ----------------------------------------

_Check = Callable[[dict[str, Any]], str | None]


def _str_at(payload: dict[str, Any], *path: str, optional: bool = False) -> str | None:
    """A problem if the value at `path` is not a string (or absent, when optional)."""
    value: object = payload
    for key in path:
        value = value.get(key) if isinstance(value, dict) else None
    if value is None and optional:
        return None
    return None if isinstance(value, str) else f"{'.'.join(path)} must be a string"


def _dict_at(payload: dict[str, Any], *path: str, optional: bool = False) -> str | None:
    value: object = payload
    for key in path:
        value = value.get(key) if isinstance(value, dict) else None
    if value is None and optional:
        return None
    return None if isinstance(value, dict) else f"{'.'.join(path)} must be an object"


def _first(*problems: str | None) -> str | None:
    return next((p for p in problems if p is not None), None)


def _view_problem(payload: dict[str, Any]) -> str | None:
    problem = _first(
        _dict_at(payload, "view"),
        _str_at(payload, "view", "type"),
        _str_at(payload, "view", "callback_id", optional=True),
        _str_at(payload, "view", "private_metadata", optional=True),
    )
    if problem:
        return problem
    state = payload["view"].get("state")
    if state is None:
        return None
    if not isinstance(state, dict) or not isinstance(state.get("values", {}), dict):
        return "view.state.values must be an object"
    for block in state.get("values", {}).values():
        if not isinstance(block, dict) or not all(isinstance(e, dict) for e in block.values()):
            return "view.state.values must map block ids to objects of element states"
    return None


def _user_problem(payload: dict[str, Any]) -> str | None:
    return _first(_dict_at(payload, "user"), _str_at(payload, "user", "id"))


def _block_actions(payload: dict[str, Any]) -> str | None:
    actions = payload.get("actions")
    if not isinstance(actions, list) or not actions:
        return "actions must be a non-empty list"
    for action in actions:
        if not isinstance(action, dict):
            return "each action must be an object"
        problem = _first(_str_at(action, "action_id"), _str_at(action, "value", optional=True))
        if problem:
            return f"action: {problem}"
    return _first(
        _user_problem(payload),
        _str_at(payload, "trigger_id", optional=True),
        _str_at(payload, "response_url", optional=True),
        _dict_at(payload, "container", optional=True),
        _view_problem(payload) if payload.get("view") is not None else None,
    )


def _view_submission(payload: dict[str, Any]) -> str | None:
    return _first(_user_problem(payload), _view_problem(payload))


def _block_suggestion(payload: dict[str, Any]) -> str | None:
    return _first(
        _user_problem(payload),
        _str_at(payload, "action_id"),
        _str_at(payload, "value", optional=True),
        _view_problem(payload),
    )


def _event_callback(payload: dict[str, Any]) -> str | None:
    return _first(
        _dict_at(payload, "event"),
        _str_at(payload, "event", "type"),
        _str_at(payload, "event", "user", optional=True),
        _str_at(payload, "event", "tab", optional=True),
        _str_at(payload, "team_id", optional=True),
    )


def _slash_command(payload: dict[str, Any]) -> str | None:
    return _first(*(_str_at(payload, key) for key in ("command", "user_id", "team_id")))


_CHECKS: dict[str, _Check] = {
    "block_actions": _block_actions,
    "view_submission": _view_submission,
    "view_closed": _view_submission,
    "block_suggestion": _block_suggestion,
    "event_callback": _event_callback,
}


def payload_problem(payload: dict[str, Any]) -> str | None:
    """Why this payload cannot be what Slack sends for what the listeners handle; None
    when its shape is sound. Unknown types pass: Bolt answers them as unhandled."""
    if "command" in payload and "type" not in payload:
        return _slash_command(payload)
    kind = payload.get("type")
    if not isinstance(kind, str):
        return "type must be a string"
    check = _CHECKS.get(kind)
    return check(payload) if check else None


def storable_payload(value: Any) -> Any:
    """The payload with every string made storable (lone surrogates → U+FFFD)."""
    if isinstance(value, str):
        return storable(value)
    if isinstance(value, dict):
        return {storable(str(k)): storable_payload(v) for k, v in value.items()}
    if isinstance(value, list):
        return [storable_payload(item) for item in value]
    return value


# --- Whose request it is -----------------------------------------------------------------


def acting_team(payload: dict[str, Any]) -> tuple[str | None, str | None]:
    """(team id, enterprise id) of the person acting: a click's or form's user, a
    command's sender, an event's workspace."""
    user = payload.get("user")
    team: object = user.get("team_id") if isinstance(user, dict) else None
    if team is None:
        team_field = payload.get("team")
        team = team_field.get("id") if isinstance(team_field, dict) else payload.get("team_id")
    enterprise: object = payload.get("enterprise_id")
    if isinstance(payload.get("enterprise"), dict):
        enterprise = payload["enterprise"].get("id")
    return (
        team if isinstance(team, str) else None,
        enterprise if isinstance(enterprise, str) else None,
    )


Installation = tuple[str, str | None]  # (team id, enterprise id) the bot is installed in


class Workspace:
    """The installed workspace, learned once from `auth.test` (its answer never changes
    for a bot token) and compared with each request's."""

    def __init__(self, auth_test: Callable[[], Awaitable[Installation]]) -> None:
        self._auth_test = auth_test
        self._installation: Installation | None = None

    async def installation(self) -> Installation:
        if self._installation is None:
            self._installation = await self._auth_test()
        return self._installation

    async def admits(self, payload: dict[str, Any]) -> bool:
        if payload.get("type") == "url_verification":
            return True
        team, enterprise = acting_team(payload)
        installed_team, installed_enterprise = await self.installation()
        if installed_enterprise is not None and enterprise not in (None, installed_enterprise):
            return False
        return team == installed_team


def refusal_body(payload: dict[str, Any], reason: str) -> tuple[int, dict[str, Any]]:
    """How to answer a refused payload: a slash command gets its reason as an ephemeral
    reply (Slack shows a 4xx as a bare error); everything else a 403."""
    if "command" in payload and "type" not in payload:
        return 200, {"response_type": "ephemeral", "text": NOT_THIS_WORKSPACE}
    return 403, {"ok": False, "error": reason}
