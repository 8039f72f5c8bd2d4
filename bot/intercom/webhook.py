"""Verifies Intercom webhook deliveries, and reads the bot's `Step` out of them.

The item follows Intercom's published "Procedure HITL notification object" (see
bot/samples/README.md). Intercom retries a refused delivery once, then drops it, so
`check_delivery` refuses (400) only what cannot be read at all: not JSON, or no
`step_id`, `callback_url` or `attributes_to_collect`. A step whose callback the bot will
not call is kept with the reason (`unanswerable`) and shown as a notice.

Reading is in two halves. Before the webhook answers: the checks, which decide a refusal
and that verdict, and give the columns a step is found by; the body is stored as
Intercom signed it. When the step is read: `step_of_delivery` builds the `Step` a message
shows from that body. Building it before answering cost about half the webhook's CPU
(see docs/architecture.md). Plain Python checks, because a validator per field doubled
the cost of parsing (measured).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from dataclasses import dataclass
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


@dataclass(frozen=True, slots=True)
class Received:
    """A signed HITL step as the webhook stores it: the body exactly as Intercom signed it,
    with what the checks read from it (the columns it is found by) and their verdict.

    The full `Step` is built from `delivery` when the step is read (`step_of_delivery`):
    nothing a teammate sees is needed to answer Intercom, and the webhook's answer waits
    for no more than the checks and the commit.
    """

    step_id: str
    conversation_id: str
    expires_at: int | None
    procedure_name: str | None
    unanswerable: str | None
    delivery: bytes

    def step(self) -> Step:
        return step_of_delivery(self.delivery, self.unanswerable)


@dataclass(frozen=True, slots=True)
class Ignored:
    """A verified delivery of another topic: nothing to do."""

    topic: str


class Delivery(BaseModel):
    """What one webhook delivery means: a HITL step to act on, or nothing to do."""

    model_config = ConfigDict(frozen=True)

    topic: str
    notification_id: str | None
    step: Step | None


def parse_delivery(body: bytes, allowed_origins: list[str]) -> Delivery:
    """Checks a verified body and builds its step in one go (the demo, tests, the bench);
    raises `WebhookRejected` (400) when it cannot be read."""
    checked = check_delivery(body, allowed_origins)
    if isinstance(checked, Ignored):
        notification_id = _text(json.loads(body).get("id"))
        return Delivery(topic=checked.topic, notification_id=notification_id, step=None)
    step = checked.step()
    return Delivery(topic=HITL_TOPIC, notification_id=step.notification_id, step=step)


def check_delivery(body: bytes, allowed_origins: list[str]) -> Received | Ignored:
    """What the webhook checks before it answers: raises `WebhookRejected` (400) when the
    body cannot be read as a step, and notes why a readable step cannot be answered.

    Every check that decides a refusal or a verdict is here, once; the text a message
    shows is read later, from the stored body, by `step_of_delivery`.
    """
    envelope, item = _envelope(body)
    if item is None:
        topic = envelope.get("topic")
        return Ignored(storable(topic) if isinstance(topic, str) else "")
    step_id, callback_url, raw_attributes = _required(item)
    conversation_id, problems = _conversation_id(item)
    if not problems:
        problems += _callback_problems(callback_url, conversation_id, allowed_origins)
    identifiers = []
    for index, raw in enumerate(raw_attributes):
        identifier = _identifier(raw)
        if identifier is None:
            problems.append(f"attribute {index + 1} has no identifier")
            continue
        if storable(identifier) != identifier or len(identifier) > MAX_TEXT_CHARS:
            problems.append(f"attribute {index + 1} has an identifier that can't be sent back")
        identifiers.append(identifier)
    _check_unique(identifiers, problems)
    return Received(
        step_id=storable(step_id),
        conversation_id=storable(conversation_id),
        expires_at=_unix_time(item.get("expires_at")),
        procedure_name=_text(item.get("procedure_name")),
        unanswerable="; ".join(problems) if problems else None,
        delivery=body,
    )


def step_of_delivery(body: bytes, unanswerable: str | None) -> Step:
    """The `Step` in a body `check_delivery` accepted, with the verdict it gave.

    Every optional field of an odd shape costs that field, never the step.
    """
    envelope, item = _envelope(body)
    if item is None:
        raise ValueError("not a HITL step delivery")
    step_id, callback_url, raw_attributes = _required(item)
    conversation_id, _ = _conversation_id(item)
    attributes = [_attribute(raw) for raw in raw_attributes]
    # One validation of plain data: cheaper than building each nested model.
    return Step.model_validate(
        {
            "step_id": storable(step_id),
            "conversation_id": storable(conversation_id),
            "callback_url": storable(callback_url[:MAX_TEXT_CHARS]),
            "app_id": _text(item.get("app_id")) or _text(envelope.get("app_id")),
            "notification_id": _text(envelope.get("id")),
            "procedure_name": _text(item.get("procedure_name")),
            "hitl_question": _text(item.get("hitl_question")),
            "attributes": [a for a in attributes if a is not None],
            "expires_at": _unix_time(item.get("expires_at")),
            "priority": _choice(item.get("priority"), ("priority", "not_priority")),
            "assign_to": _assignee(item.get("assign_to")),
            "conversation_url": intercom_app_url(item.get("conversation_url")),
            "recent_messages": _recent_messages(item.get("recent_messages")),
            "unanswerable": unanswerable,
        }
    )


def _envelope(body: bytes) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """The JSON object and its HITL item (None for another topic)."""
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
    if topic != HITL_TOPIC:
        return envelope, None
    data = envelope.get("data")
    item = data.get("item") if isinstance(data, dict) else None
    if not isinstance(item, dict):
        raise WebhookRejected(400, "missing data.item")
    return envelope, item


def _required(item: dict[str, Any]) -> tuple[str, str, list[Any]]:
    """What a step cannot do without: its id, its callback, its attributes."""
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
    return step_id, callback_url, raw_attributes


def _conversation_id(item: dict[str, Any]) -> tuple[str, list[str]]:
    """The conversation id as kept, and why it cannot be called back (if it cannot)."""
    conversation_id = _id(item.get("conversation_id")) or ""
    if not conversation_id:
        return "", ["Intercom sent no conversation id"]
    if len(conversation_id) > MAX_ID_LENGTH or not _CONVERSATION_ID.fullmatch(conversation_id):
        return conversation_id[:MAX_ID_LENGTH], ["its conversation id cannot be part of a URL"]
    return conversation_id, []


def _callback_problems(url: str, conversation_id: str, allowed_origins: list[str]) -> list[str]:
    """Why the bot will not call `url`; empty when it is Intercom's own collect_agent_input
    URL for this conversation, exactly as written."""
    expected_path = f"/procedures/{conversation_id}/collect_agent_input"
    if any(url == origin + expected_path for origin in allowed_origins):
        return []  # the usual case, read without taking the URL apart
    if not _PLAIN_URL.fullmatch(url):
        return ["its callback URL contains spaces, control characters or other odd characters"]
    try:
        parts = urlsplit(url)
        origin = normalise_origin(url)
    except ValueError:
        return ["its callback URL is not an http(s) URL"]
    if parts.username or parts.password or origin not in allowed_origins:
        return ["its callback URL does not point at an allowed Intercom API origin"]
    if parts.path != expected_path or "?" in url or "#" in url:
        return ["its callback URL is not this conversation's collect_agent_input endpoint"]
    return []


def _identifier(raw: object) -> str | None:
    """An attribute's identifier; None when it has none (no answer could be sent for it)."""
    identifier = _id(raw.get("identifier")) if isinstance(raw, dict) else None
    return identifier if identifier and identifier.strip() else None


def _attribute(raw: Any) -> dict[str, Any] | None:
    """The attribute as plain data; None when it has no identifier (`check_delivery`
    noted that)."""
    identifier = _identifier(raw)
    if identifier is None:
        return None
    data_type = raw.get("data_type")
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
