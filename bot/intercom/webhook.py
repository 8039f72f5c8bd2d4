"""Verifies and parses Intercom webhook deliveries into the bot's `Step`."""

from __future__ import annotations

import hashlib
import hmac
import json
import math
import re
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, ValidationError, field_validator

from bot.domain import Step
from bot.settings import normalise_origin

HITL_TOPIC = "procedure.hitl_notification.created"
MAX_BODY_BYTES = 1024 * 1024
# Ids travel in button values and modal metadata; anything longer is not a real Intercom id.
MAX_ID_LENGTH = 255
# The conversation id becomes a path segment of the callback URL: "/", "%" or a ".." would
# let it name another endpoint (HTTP clients resolve dot segments), so only plain ids pass.
_CONVERSATION_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")
_LATEST_UNIX_SECONDS = 253_402_300_799  # 9999-12-31T23:59:59Z


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


class _Wire(BaseModel):
    # Intercom adds fields over time; unknown ones are ignored, never an error.
    model_config = ConfigDict(extra="ignore")


def _id_as_text(value: object) -> object:
    return str(value) if isinstance(value, int) else value


# Fields Intercom does not document (see fixtures/intercom/README.md) are typed `Any` on
# the wire and read by `_text` / `_unix_time` / `_procedure`: an unexpected shape costs the
# field, never the whole step (a 400 would only make Intercom retry forever). Plain Python
# checks, because a lenient pydantic validator per field doubled the cost of validating.


class _OptionWire(_Wire):
    id: str
    label: Any = None
    name: Any = None

    _id = field_validator("id", mode="before")(_id_as_text)


class _AttributeWire(_Wire):
    identifier: str
    data_type: str
    name: Any = None
    label: Any = None
    description: Any = None
    options: list[_OptionWire] | None = None


class _HitlItemWire(_Wire):
    step_id: str
    conversation_id: str
    callback_url: str
    attributes_to_collect: list[_AttributeWire]
    procedure: Any = None
    instructions: Any = None
    expires_at: Any = None
    created_at: Any = None

    _ids = field_validator("step_id", "conversation_id", mode="before")(_id_as_text)


def _text(value: object) -> str | None:
    return value if isinstance(value, str) else None


def _unix_time(value: object) -> int | None:
    """Whole unix seconds from an int, a float, digits or ISO 8601 text (naive means UTC);
    None for anything else, and for times no column or date format holds (beyond year
    9999, or milliseconds by mistake)."""
    if isinstance(value, float) and math.isfinite(value):
        value = int(value)
    elif isinstance(value, str):
        text = value.strip()
        if text.lstrip("+-").isdigit():
            value = int(text)
        else:
            try:
                moment = datetime.fromisoformat(text)
            except ValueError:
                return None
            if moment.tzinfo is None:
                moment = moment.replace(tzinfo=UTC)
            value = int(moment.timestamp())
    if isinstance(value, bool) or not isinstance(value, int):
        return None
    return value if 0 <= value <= _LATEST_UNIX_SECONDS else None


def _procedure(value: object) -> tuple[str | None, str | None]:
    """(id, name) of the procedure object; an id given as a number becomes text."""
    if not isinstance(value, dict):
        return None, None
    procedure_id = _id_as_text(value.get("id"))
    return _text(procedure_id), _text(value.get("name")) or None


class Delivery(BaseModel):
    """What one webhook delivery means: a HITL step to act on, or nothing to do."""

    model_config = ConfigDict(frozen=True)

    topic: str
    notification_id: str | None
    step: Step | None


def parse_delivery(body: bytes, allowed_origins: list[str]) -> Delivery:
    """Parses a verified body; raises `WebhookRejected` (400) with the first problem found."""
    try:
        envelope = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise WebhookRejected(400, f"body is not valid JSON ({exc.__class__.__name__})") from None
    if not isinstance(envelope, dict):
        raise WebhookRejected(400, "body is not a JSON object")
    topic = envelope.get("topic")
    if not isinstance(topic, str):
        raise WebhookRejected(400, "missing topic")
    notification_id = envelope.get("id") if isinstance(envelope.get("id"), str) else None
    if topic != HITL_TOPIC:
        return Delivery(topic=topic, notification_id=notification_id, step=None)

    data = envelope.get("data")
    item = data.get("item") if isinstance(data, dict) else None
    if not isinstance(item, dict):
        raise WebhookRejected(400, "missing data.item")
    try:
        wire = _HitlItemWire.model_validate(item)
    except ValidationError as exc:
        first = exc.errors(include_input=False, include_url=False)[0]
        where = ".".join(str(part) for part in first["loc"])
        problem = "missing" if first["type"] == "missing" else first["msg"]
        raise WebhookRejected(400, f"data.item.{where}: {problem}") from None

    _check_ids(wire)
    _check_callback_url(wire.callback_url, wire.conversation_id, allowed_origins)
    app_id = envelope.get("app_id") if isinstance(envelope.get("app_id"), str) else None
    return Delivery(
        topic=topic, notification_id=notification_id, step=_to_step(wire, app_id, notification_id)
    )


def _check_ids(wire: _HitlItemWire) -> None:
    for name, value in (("step_id", wire.step_id), ("conversation_id", wire.conversation_id)):
        if not value.strip() or len(value) > MAX_ID_LENGTH:
            raise WebhookRejected(400, f"data.item.{name} is empty or too long")
    if not _CONVERSATION_ID.fullmatch(wire.conversation_id):
        raise WebhookRejected(400, "data.item.conversation_id is not a plain id")
    seen: set[str] = set()
    for attribute in wire.attributes_to_collect:
        if not attribute.identifier.strip():
            raise WebhookRejected(400, "an attribute has an empty identifier")
        if attribute.identifier in seen:
            raise WebhookRejected(400, f"attribute {attribute.identifier!r} appears twice")
        seen.add(attribute.identifier)


def _check_callback_url(url: str, conversation_id: str, allowed_origins: list[str]) -> None:
    """Only Intercom's own collect_agent_input URL for this conversation is ever called."""
    try:
        parts = urlsplit(url)
        origin = normalise_origin(url)
    except ValueError:
        raise WebhookRejected(400, "callback_url is not an http(s) URL") from None
    if parts.username or parts.password or origin not in allowed_origins:
        raise WebhookRejected(400, "callback_url does not point at an allowed Intercom API origin")
    expected_path = f"/procedures/{conversation_id}/collect_agent_input"
    if parts.path != expected_path or parts.query or parts.fragment:
        raise WebhookRejected(
            400, "callback_url is not this conversation's collect_agent_input endpoint"
        )


def _to_step(wire: _HitlItemWire, app_id: str | None, notification_id: str | None) -> Step:
    procedure_id, procedure_name = _procedure(wire.procedure)
    # One validation of plain data: cheaper than model_construct of each nested model.
    return Step.model_validate(
        {
            "step_id": wire.step_id,
            "conversation_id": wire.conversation_id,
            "callback_url": wire.callback_url,
            "app_id": app_id,
            "notification_id": notification_id,
            "procedure_id": procedure_id,
            "procedure_name": procedure_name,
            "instructions": _text(wire.instructions) or None,
            "attributes": [
                {
                    "identifier": a.identifier,
                    "data_type": a.data_type.strip().lower(),
                    "name": _text(a.name) or _text(a.label) or a.identifier,
                    "description": _text(a.description) or None,
                    "options": [
                        {"id": o.id, "label": _text(o.label) or _text(o.name) or o.id}
                        for o in a.options or ()
                    ],
                }
                for a in wire.attributes_to_collect
            ],
            "expires_at": _unix_time(wire.expires_at),
            "created_at": _unix_time(wire.created_at),
        }
    )
