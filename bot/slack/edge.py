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
#
# Bolt and the listeners receive a copy of the payload that holds only what they read, each
# value of the type they expect: a required field missing or of another type refuses the
# payload (400); an optional one of another type is left out. Strings are made storable.
# Slack itself never sends a malformed payload, so this only ever turns away forgeries
# signed with a leaked secret and the bot's own bugs, but neither may cause a 500.


class _Shape:
    """Reads one JSON object for a projection, collecting the first problem."""

    def __init__(self, value: object, where: str) -> None:
        if not isinstance(value, dict):
            raise Refused(400, f"{where or 'payload'} must be an object")
        self._value: dict[str, Any] = value
        self._where = where

    def _name(self, key: str) -> str:
        return f"{self._where}.{key}" if self._where else key

    def text(self, key: str) -> str:
        value = self._value.get(key)
        if not isinstance(value, str):
            raise Refused(400, f"{self._name(key)} must be a string")
        return storable(value)

    def optional_text(self, key: str) -> str | None:
        value = self._value.get(key)
        return storable(value) if isinstance(value, str) else None

    def shape(self, key: str) -> _Shape:
        return _Shape(self._value.get(key), self._name(key))

    def optional_shape(self, key: str) -> _Shape | None:
        value = self._value.get(key)
        return _Shape(value, self._name(key)) if isinstance(value, dict) else None

    def texts(self, *keys: str) -> dict[str, str]:
        """The optional string fields among `keys` that are strings."""
        return {k: v for k in keys if (v := self.optional_text(k)) is not None}

    def raw(self, key: str) -> object:
        return self._value.get(key)


def _user(payload: _Shape) -> dict[str, Any]:
    user = payload.shape("user")
    return {"id": user.text("id"), **user.texts("team_id", "username", "name")}


def _org(payload: _Shape) -> dict[str, Any]:
    """The workspace and Enterprise Grid fields, as Bolt reads them (team may be null)."""
    org: dict[str, Any] = {}
    team = payload.optional_shape("team")
    org["team"] = {"id": team.text("id"), **team.texts("domain")} if team else None
    enterprise = payload.optional_shape("enterprise")
    if enterprise is not None:
        org["enterprise"] = {"id": enterprise.text("id")}
    if payload.raw("is_enterprise_install") is True:
        org["is_enterprise_install"] = True
    return org | payload.texts("api_app_id", "enterprise_id")


def _state_values(view: _Shape) -> dict[str, Any]:
    if view.raw("state") is None:
        return {}
    values = view.shape("state").raw("values")
    if not isinstance(values, dict):
        raise Refused(400, "view.state.values must be an object")
    clean: dict[str, Any] = {}
    for block_id, block in values.items():
        if not isinstance(block, dict) or not all(isinstance(e, dict) for e in block.values()):
            raise Refused(400, "view.state.values must map block ids to element states")
        clean[storable(str(block_id))] = storable_payload(block)
    return clean


def _view(payload: _Shape, *, with_state: bool) -> dict[str, Any]:
    view = payload.shape("view")
    clean: dict[str, Any] = {"type": view.text("type")}
    clean |= view.texts("id", "callback_id", "private_metadata", "hash", "team_id")
    if with_state:
        clean["state"] = {"values": _state_values(view)}
    return clean


def _action(value: object, index: int) -> dict[str, Any]:
    action = _Shape(value, f"actions.{index}")
    return {"action_id": action.text("action_id")} | action.texts(
        "block_id", "value", "type", "action_ts"
    )


def _block_actions(payload: _Shape) -> dict[str, Any]:
    actions = payload.raw("actions")
    if not isinstance(actions, list) or not actions:
        raise Refused(400, "actions must be a non-empty list")
    clean: dict[str, Any] = {
        "type": "block_actions",
        "user": _user(payload),
        "trigger_id": payload.text("trigger_id"),
        "actions": [_action(action, i) for i, action in enumerate(actions[:25])],
        **_org(payload),
        **payload.texts("response_url"),
    }
    container = payload.optional_shape("container")
    if container is not None:
        clean["container"] = container.texts("type", "message_ts", "channel_id", "view_id")
    channel = payload.optional_shape("channel")
    if channel is not None:
        clean["channel"] = channel.texts("id", "name")
    if payload.optional_shape("view") is not None:
        clean["view"] = _view(payload, with_state=False)
    return clean


def _view_submission(payload: _Shape, kind: str) -> dict[str, Any]:
    return {
        "type": kind,
        "user": _user(payload),
        "view": _view(payload, with_state=True),
        **_org(payload),
        **payload.texts("trigger_id"),
    }


def _block_suggestion(payload: _Shape) -> dict[str, Any]:
    return {
        "type": "block_suggestion",
        "user": _user(payload),
        "action_id": payload.text("action_id"),
        "view": _view(payload, with_state=False),
        **_org(payload),
        **payload.texts("block_id", "value"),
    }


def _event_callback(payload: _Shape) -> dict[str, Any]:
    event = payload.shape("event")
    return {
        "type": "event_callback",
        "event": {"type": event.text("type")} | event.texts("user", "tab", "channel", "event_ts"),
        **payload.texts("team_id", "api_app_id", "event_id", "enterprise_id"),
    }


_COMMAND_FIELDS = (
    "team_id", "team_domain", "enterprise_id", "channel_id", "channel_name", "user_name",
    "text", "api_app_id", "response_url", "trigger_id", "is_enterprise_install",
)  # fmt: skip


def _slash_command(payload: _Shape) -> dict[str, Any]:
    return {
        "command": payload.text("command"),
        "user_id": payload.text("user_id"),
        "team_id": payload.text("team_id"),
        **payload.texts(*_COMMAND_FIELDS),
    }


def normalised(payload: dict[str, Any]) -> dict[str, Any]:
    """The payload as Bolt and the listeners get it (see above); raises Refused (400).

    Kinds the bot does not handle keep only their `type`: Bolt answers them as unhandled.
    """
    shape = _Shape(payload, "")
    if "command" in payload and "type" not in payload:
        return _slash_command(shape)
    kind = shape.text("type")
    if kind == "block_actions":
        return _block_actions(shape)
    if kind in ("view_submission", "view_closed"):
        return _view_submission(shape, kind)
    if kind == "block_suggestion":
        return _block_suggestion(shape)
    if kind == "event_callback":
        return _event_callback(shape)
    if kind == "url_verification":
        return {"type": kind, **shape.texts("challenge")}
    return {"type": kind}


def storable_payload(value: Any) -> Any:
    """`value` with every string in it made storable (lone surrogates → U+FFFD)."""
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
