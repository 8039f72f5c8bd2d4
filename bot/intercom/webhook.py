"""Verifies and parses Intercom webhook deliveries into the bot's `Step`.

The item follows Intercom's published "Procedure HITL notification object" (see
bot/samples/README.md). Intercom retries a refused delivery once, then drops it, so the
parser refuses (400) only what cannot be read at all: not JSON, or no `step_id`,
`callback_url` or `attributes_to_collect`. A step whose callback the bot will not call
is kept with the reason in `Step.unanswerable` and shown as a notice. Every optional
field of an odd shape costs that field, never the step. Plain Python checks, because a
validator per field doubled the cost of parsing (measured).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from typing import Any
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict

from bot.domain import AuthorType, Step
from bot.intercom.links import intercom_app_url
from bot.intercom.origins import normalise_origin
from bot.untrusted import storable

HITL_TOPIC = "procedure.hitl_notification.created"
MAX_BODY_BYTES = 1024 * 1024
# Ids travel in button values and modal metadata; anything longer is not a real Intercom id.
MAX_ID_LENGTH = 255
# The conversation id becomes a path segment of the callback URL: "/", "%" or a ".." would
# let it name another endpoint (HTTP clients resolve dot segments), so only plain ids pass.
_CONVERSATION_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")
# Printable ASCII, no space or backslash: the string checked is the string called (URL
# splitting strips control characters and whitespace an HTTP client then refuses).
_PLAIN_URL = re.compile(r"[!-\[\]-~]+")
_LATEST_UNIX_SECONDS = 253_402_300_799  # 9999-12-31T23:59:59Z
# Intercom sends the last five parts; more than this many are not kept.
MAX_RECENT_MESSAGES = 10
# A conversation part's HTML kept for display; far more than any message shows.
MAX_BODY_CHARS = 10_000
# Text fields kept whole up to this length (Slack shows less; the store need not hold more).
MAX_TEXT_CHARS = 10_000
_CUSTOMER_AUTHOR_TYPES = {
    "user": AuthorType.USER,
    "lead": AuthorType.USER,
    "contact": AuthorType.USER,
}


class WebhookRejected(Exception):
    """The delivery is refused; `status` is the HTTP answer and `reason` one plain line."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


def signature_is_valid(body: bytes, header: str | None, client_secret: str) -> bool:
    """Checks `X-Hub-Signature: sha1=<hex>` in constant time."""
    if not header or not header.startswith("sha1="):
        return False
    expected = hmac.new(client_secret.encode(), body, hashlib.sha1).hexdigest()
    return hmac.compare_digest(expected, header.removeprefix("sha1=").strip().lower())


class Delivery(BaseModel):
    """What one webhook delivery means: a HITL step to act on, or nothing to do."""

    model_config = ConfigDict(frozen=True)

    topic: str
    notification_id: str | None
    step: Step | None


def parse_delivery(body: bytes, allowed_origins: list[str]) -> Delivery:
    """Parses a verified body; raises `WebhookRejected` (400) when it cannot be read."""
    try:
        envelope = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise WebhookRejected(400, f"body is not valid JSON ({exc.__class__.__name__})") from None
    except RecursionError:
        raise WebhookRejected(400, "body is nested too deeply") from None
    if not isinstance(envelope, dict):
        raise WebhookRejected(400, "body is not a JSON object")
    topic = envelope.get("topic")
    if not isinstance(topic, str):
        raise WebhookRejected(400, "missing topic")
    notification_id = _text(envelope.get("id"))
    if topic != HITL_TOPIC:
        return Delivery(topic=storable(topic), notification_id=notification_id, step=None)
    data = envelope.get("data")
    item = data.get("item") if isinstance(data, dict) else None
    if not isinstance(item, dict):
        raise WebhookRejected(400, "missing data.item")
    app_id = _text(item.get("app_id")) or _text(envelope.get("app_id"))
    step = _step(item, app_id, notification_id, allowed_origins)
    return Delivery(topic=topic, notification_id=notification_id, step=step)


def _step(
    item: dict[str, Any],
    app_id: str | None,
    notification_id: str | None,
    allowed_origins: list[str],
) -> Step:
    step_id = _id(item.get("step_id"))
    if step_id is None:
        raise WebhookRejected(400, "data.item.step_id: missing")
    if not step_id.strip() or len(step_id) > MAX_ID_LENGTH:
        raise WebhookRejected(400, "data.item.step_id is empty or too long")
    callback_url = item.get("callback_url")
    if not isinstance(callback_url, str):
        raise WebhookRejected(400, "data.item.callback_url: missing")
    raw_attributes = item.get("attributes_to_collect")
    if not isinstance(raw_attributes, list):
        raise WebhookRejected(400, "data.item.attributes_to_collect: missing")

    problems: list[str] = []
    conversation_id = _id(item.get("conversation_id")) or ""
    if not conversation_id:
        problems.append("Intercom sent no conversation id")
    elif len(conversation_id) > MAX_ID_LENGTH or not _CONVERSATION_ID.fullmatch(conversation_id):
        problems.append("its conversation id cannot be part of a URL")
        conversation_id = conversation_id[:MAX_ID_LENGTH]
    else:
        problems += _callback_problems(callback_url, conversation_id, allowed_origins)
    attributes = [_attribute(raw, index, problems) for index, raw in enumerate(raw_attributes)]
    _check_unique([a["identifier"] for a in attributes if a is not None], problems)
    # One validation of plain data: cheaper than building each nested model.
    return Step.model_validate(
        {
            "step_id": storable(step_id),
            "conversation_id": storable(conversation_id),
            "callback_url": storable(callback_url[:MAX_TEXT_CHARS]),
            "app_id": app_id,
            "notification_id": notification_id,
            "procedure_name": _text(item.get("procedure_name")),
            "hitl_question": _text(item.get("hitl_question")),
            "attributes": [a for a in attributes if a is not None],
            "expires_at": _unix_time(item.get("expires_at")),
            "priority": _choice(item.get("priority"), ("priority", "not_priority")),
            "assign_to": _assignee(item.get("assign_to")),
            "conversation_url": intercom_app_url(item.get("conversation_url")),
            "recent_messages": _recent_messages(item.get("recent_messages")),
            "unanswerable": "; ".join(problems) if problems else None,
        }
    )


def _callback_problems(url: str, conversation_id: str, allowed_origins: list[str]) -> list[str]:
    """Why the bot will not call `url`; empty when it is Intercom's own collect_agent_input
    URL for this conversation, exactly as written."""
    if not _PLAIN_URL.fullmatch(url):
        return ["its callback URL contains spaces, control characters or other odd characters"]
    try:
        parts = urlsplit(url)
        origin = normalise_origin(url)
    except ValueError:
        return ["its callback URL is not an http(s) URL"]
    if parts.username or parts.password or origin not in allowed_origins:
        return ["its callback URL does not point at an allowed Intercom API origin"]
    expected_path = f"/procedures/{conversation_id}/collect_agent_input"
    if parts.path != expected_path or "?" in url or "#" in url:
        return ["its callback URL is not this conversation's collect_agent_input endpoint"]
    return []


def _attribute(raw: object, index: int, problems: list[str]) -> dict[str, Any] | None:
    """The attribute as plain data; None (with a problem noted) when it has no identifier,
    since no answer could then be sent for it."""
    identifier = _id(raw.get("identifier")) if isinstance(raw, dict) else None
    if not isinstance(raw, dict) or not identifier or not identifier.strip():
        problems.append(f"attribute {index + 1} has no identifier")
        return None
    if storable(identifier) != identifier or len(identifier) > MAX_TEXT_CHARS:
        problems.append(f"attribute {index + 1} has an identifier that can't be sent back")
    data_type = raw.get("data_type")
    data_type = data_type.strip().lower()[:100] if isinstance(data_type, str) else ""
    return {
        "identifier": storable(identifier[:MAX_TEXT_CHARS]),
        # Unknown or missing types are offered as text (bot.domain.DataType).
        "data_type": storable(data_type.strip().lower()[:100])
        if isinstance(data_type, str)
        else "",
        "name": _text(raw.get("name")),
        "label": _text(raw.get("label")),
        "options": _options(raw.get("options")),
    }


def _options(raw: object) -> list[dict[str, str]]:
    """The list's options; one without an id can't be chosen and is left out."""
    if not isinstance(raw, list):
        return []
    options = []
    for option in raw:
        option_id = _id(option.get("id")) if isinstance(option, dict) else None
        if option_id and option_id.strip():
            label = _text(option.get("label")) or _text(option.get("name")) or option_id
            options.append({"id": storable(option_id), "label": label})
    return options


def _check_unique(identifiers: list[str], problems: list[str]) -> None:
    seen: set[str] = set()
    for identifier in identifiers:
        if identifier in seen:
            problems.append(f"two attributes share the identifier {identifier[:100]!r}")
            return
        seen.add(identifier)


def _assignee(raw: object) -> dict[str, Any] | None:
    if not isinstance(raw, dict) or raw.get("type") not in ("admin", "team"):
        return None
    return {"type": raw["type"], "id": _id(raw.get("id")), "name": _text(raw.get("name"))}


def _recent_messages(raw: object) -> list[dict[str, Any]]:
    if not isinstance(raw, list):
        return []
    messages = []
    for part in raw[-MAX_RECENT_MESSAGES:]:
        if not isinstance(part, dict):
            continue
        body = part.get("body")
        messages.append(
            {
                "id": _id(part.get("id")),
                "part_type": _text(part.get("part_type")),
                "created_at": _unix_time(part.get("created_at")),
                "author": _author(part.get("author")),
                "body": storable(body[:MAX_BODY_CHARS]) if isinstance(body, str) else "",
            }
        )
    return messages


def _author(raw: object) -> dict[str, Any] | None:
    if not isinstance(raw, dict):
        return None
    kind = raw.get("type")
    if kind in _CUSTOMER_AUTHOR_TYPES:
        author_type: str = AuthorType.USER
    elif kind in ("admin", "bot", "team"):
        author_type = str(kind)
    else:
        author_type = AuthorType.OTHER
    return {
        "type": author_type,
        "id": _id(raw.get("id")),
        "name": _text(raw.get("name")),
        "email": _text(raw.get("email")),
    }


def _text(value: object) -> str | None:
    """A storable string, or None for anything else (and for blank text)."""
    if not isinstance(value, str) or not value.strip():
        return None
    return storable(value[:MAX_TEXT_CHARS])


def _id(value: object) -> str | None:
    """Intercom ids are strings; one sent as a number becomes text."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return str(value)
    return value if isinstance(value, str) else None


def _choice(value: object, choices: tuple[str, ...]) -> str | None:
    return value if isinstance(value, str) and value in choices else None


def _unix_time(value: object) -> int | None:
    """Whole unix seconds from an int or a float; None for anything else, and for times no
    column or date format holds (before 1970, beyond year 9999, or milliseconds by mistake)."""
    if isinstance(value, float) and value == value and abs(value) != float("inf"):
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        return None
    return value if 0 <= value <= _LATEST_UNIX_SECONDS else None
