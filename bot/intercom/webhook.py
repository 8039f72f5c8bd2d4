"""Verifies and parses Intercom webhook deliveries into the bot's `Step`."""

from __future__ import annotations

import hashlib
import hmac
import json
import math
import re
from datetime import UTC, datetime
from typing import Annotated
from urllib.parse import urlsplit

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    ValidationError,
    ValidatorFunctionWrapHandler,
    WrapValidator,
    field_validator,
)

from bot.domain import Attribute, Option, Step
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


def _or_none(value: object, handler: ValidatorFunctionWrapHandler) -> object:
    try:
        return handler(value)
    except ValidationError:
        return None


def _unix_seconds(value: object) -> object:
    """Whole seconds from a float or an ISO 8601 string (naive means UTC); else unchanged."""
    if isinstance(value, float) and math.isfinite(value):
        return int(value)
    if isinstance(value, str) and not value.strip().lstrip("+-").isdigit():
        try:
            moment = datetime.fromisoformat(value.strip())
        except ValueError:
            return value
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        return int(moment.timestamp())
    return value


def _plausible_time(value: int | None) -> int | None:
    # Beyond year 9999 (or milliseconds by mistake) no database column or date format holds it.
    if value is not None and not 0 <= value <= _LATEST_UNIX_SECONDS:
        raise ValueError("not a plausible unix time")
    return value


# Fields Intercom does not document (see fixtures/intercom/README.md): an unexpected shape
# costs the field, never the whole step (a 400 would only make Intercom retry forever).
_Lenient = WrapValidator(_or_none)
_LenientText = Annotated[str | None, _Lenient]
_LenientTime = Annotated[
    int | None, BeforeValidator(_unix_seconds), AfterValidator(_plausible_time), _Lenient
]


class _OptionWire(_Wire):
    id: str
    label: _LenientText = None
    name: _LenientText = None

    @field_validator("id", mode="before")
    @classmethod
    def _id_as_text(cls, value: object) -> object:
        return str(value) if isinstance(value, int) else value


class _AttributeWire(_Wire):
    identifier: str
    data_type: str
    name: _LenientText = None
    label: _LenientText = None
    description: _LenientText = None
    options: list[_OptionWire] | None = None


class _ProcedureWire(_Wire):
    id: str | None = None
    name: _LenientText = None

    @field_validator("id", mode="before")
    @classmethod
    def _id_as_text(cls, value: object) -> object:
        return str(value) if isinstance(value, int) else value


class _HitlItemWire(_Wire):
    step_id: str
    conversation_id: str
    callback_url: str
    attributes_to_collect: list[_AttributeWire]
    procedure: Annotated[_ProcedureWire | None, _Lenient] = None
    instructions: _LenientText = None
    expires_at: _LenientTime = None
    created_at: _LenientTime = None

    @field_validator("step_id", "conversation_id", mode="before")
    @classmethod
    def _id_as_text(cls, value: object) -> object:
        return str(value) if isinstance(value, int) else value


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
    # model_construct: every value was validated as it came off the wire just above, and
    # validating the same values again was a third of the cost of a webhook's parsing.
    attributes = tuple(
        Attribute.model_construct(
            identifier=a.identifier,
            data_type=a.data_type.strip().lower(),
            name=(a.name or a.label or a.identifier),
            description=a.description or None,
            options=tuple(
                Option.model_construct(id=o.id, label=o.label or o.name or o.id)
                for o in (a.options or [])
            ),
        )
        for a in wire.attributes_to_collect
    )
    procedure = wire.procedure or _ProcedureWire()
    return Step.model_construct(
        step_id=wire.step_id,
        conversation_id=wire.conversation_id,
        callback_url=wire.callback_url,
        app_id=app_id,
        notification_id=notification_id,
        procedure_id=procedure.id,
        procedure_name=procedure.name or None,
        instructions=wire.instructions or None,
        attributes=attributes,
        expires_at=wire.expires_at,
        created_at=wire.created_at,
    )
