"""Sends answers to a step's `callback_url` and maps Intercom's answers to outcomes.

Failures are translated into the bot's error tree (bot/errors.py): `IntercomRetryable`
(network, timeouts, 429, 5xx) is worth another try later; every other answer to a
callback is final and comes back as a `CallbackResult`.
"""

from __future__ import annotations

import html
import logging
import time
from dataclasses import dataclass, replace
from enum import StrEnum
from urllib.parse import quote, urlsplit

import httpx

from bot.domain import AnswerValue, Step
from bot.errors import Permanent, Retryable
from bot.metrics import Metrics
from bot.redact import Redactor

log = logging.getLogger(__name__)

INTERCOM_VERSION = "Preview"


class CallbackOutcome(StrEnum):
    ACCEPTED = "accepted"
    EXPIRED = "expired"
    ALREADY_ANSWERED = "already_answered"
    REFUSED = "refused"


@dataclass(frozen=True)
class CallbackResult:
    outcome: CallbackOutcome
    status: int
    # A plain sentence for the channel and the operator; never contains the token.
    detail: str


class IntercomRetryable(Retryable):
    """The request may not have arrived (network, timeout, 429, 5xx): try again later."""


class IntercomRefused(Permanent):
    """Intercom refused the audit note for good (4xx other than 429)."""


# The audit note's wording; `{…}` fields are filled with HTML-escaped text.
NOTE_ANSWERED = "Answered in Slack by {name} ({user_id}): {values}"
NOTE_COMMENT = "<br>Comment: {comment}"
_NOTE_TEXT_MAX = 4000


def note_body_text(
    name: str, user_id: str, values: list[tuple[str, str]], comment: str | None
) -> str:
    """The note's HTML body: who answered in Slack, what (label, shown value), and why."""
    shown = "; ".join(f"{label}: {value}" for label, value in values)
    text = NOTE_ANSWERED.format(
        name=html.escape(name), user_id=html.escape(user_id), values=html.escape(shown)
    )
    if comment and comment.strip():
        text += NOTE_COMMENT.format(comment=html.escape(comment.strip()))
    return text[:_NOTE_TEXT_MAX]


NOTE_CLAIMED = "{name} is looking at this from Slack."


def claim_note_text(name: str) -> str:
    """The note saying who is on the step, so teammates in the Inbox do not start it too."""
    return NOTE_CLAIMED.format(name=html.escape(name))[:_NOTE_TEXT_MAX]


def note_url(callback_url: str, conversation_id: str) -> str:
    """Where a conversation's replies go, on the same API origin as the step's callback."""
    parts = urlsplit(callback_url)
    return f"{parts.scheme}://{parts.netloc}/conversations/{quote(conversation_id, safe='')}/reply"


def callback_body(step: Step, values: tuple[AnswerValue, ...]) -> dict[str, object]:
    """The JSON Intercom expects: one value for every attribute, in the step's order."""
    by_identifier = {value.identifier: value.value for value in values}
    missing = [a.identifier for a in step.attributes if a.identifier not in by_identifier]
    if missing or len(by_identifier) != len(step.attributes):
        raise ValueError(f"answer does not match the step's attributes (missing {missing})")
    return {
        "step_id": step.step_id,
        "attribute_values": [
            {"identifier": a.identifier, "value": by_identifier[a.identifier]}
            for a in step.attributes
        ],
    }


class IntercomClient:
    """The one place that knows the callback's headers and error codes."""

    def __init__(
        self,
        http: httpx.AsyncClient,
        access_token: str,
        *,
        metrics: Metrics,
        redactor: Redactor | None = None,
    ) -> None:
        self._http = http
        self._metrics = metrics
        # Intercom's error messages end up on Slack messages: its own token at least (an
        # echoed request would carry it) never does.
        self._redactor = redactor or Redactor([access_token])
        self._headers = {
            "Authorization": f"Bearer {access_token}",
            "Content-Type": "application/json",
            "Accept": "application/json",
            "Intercom-Version": INTERCOM_VERSION,
        }

    async def send_answer(self, step: Step, values: tuple[AnswerValue, ...]) -> CallbackResult:
        body = callback_body(step, values)
        started = time.perf_counter()
        try:
            response = await self._http.post(step.callback_url, json=body, headers=self._headers)
        except httpx.TimeoutException as exc:
            self._metrics.callback_attempts.labels("0").inc()
            raise IntercomRetryable("Intercom did not answer in time") from exc
        except httpx.TransportError as exc:
            self._metrics.callback_attempts.labels("0").inc()
            raise IntercomRetryable(f"could not reach Intercom ({exc.__class__.__name__})") from exc
        finally:
            self._metrics.callback_latency.observe(time.perf_counter() - started)
        self._metrics.callback_attempts.labels(str(response.status_code)).inc()
        result = _result_of(response)
        return replace(result, detail=self._redactor.text(result.detail))

    async def add_note(self, step: Step, admin_id: str, body: str) -> None:
        """Adds an internal note to the step's conversation, as `admin_id`.

        Raises IntercomRetryable (network, 429, 5xx) or IntercomRefused (other 4xx).
        """
        url = note_url(step.callback_url, step.conversation_id)
        payload = {"message_type": "note", "type": "admin", "admin_id": admin_id, "body": body}
        try:
            response = await self._http.post(url, json=payload, headers=self._headers)
        except httpx.TimeoutException as exc:
            raise IntercomRetryable("Intercom did not answer the note in time") from exc
        except httpx.TransportError as exc:
            raise IntercomRetryable(
                f"could not reach Intercom for the note ({exc.__class__.__name__})"
            ) from exc
        status = response.status_code
        if 200 <= status < 300:
            return
        if status == 429 or status >= 500:
            raise IntercomRetryable(
                f"Intercom answered the note with {status}", retry_after=_retry_after(response)
            )
        reason = self._redactor.text(_error_message(response) or "no reason given")
        raise IntercomRefused(f"Intercom refused the note ({status}): {reason}")


def _result_of(response: httpx.Response) -> CallbackResult:
    status = response.status_code
    message = _error_message(response)
    if 200 <= status < 300:
        return CallbackResult(CallbackOutcome.ACCEPTED, status, "Intercom accepted the answer")
    if status == 429 or status >= 500:
        raise IntercomRetryable(f"Intercom answered {status}", retry_after=_retry_after(response))
    if status == 404:
        return CallbackResult(
            CallbackOutcome.EXPIRED, status, message or "This HITL request has expired"
        )
    if status == 409:
        return CallbackResult(
            CallbackOutcome.ALREADY_ANSWERED,
            status,
            message or "This HITL request has already been fulfilled",
        )
    if status == 401:
        detail = "Intercom rejected the access token (401): check INTERCOM_ACCESS_TOKEN"
    elif status == 403:
        detail = (
            f"Intercom refused the answer (403): {message or 'forbidden'}. The token's admin "
            "needs access to the conversation and the Procedures HITL API must be enabled"
        )
    else:
        detail = f"Intercom refused the answer ({status}): {message or 'no reason given'}"
    return CallbackResult(CallbackOutcome.REFUSED, status, detail)


def _error_message(response: httpx.Response) -> str | None:
    """The first error message of an `error.list` answer, if there is one."""
    try:
        payload = response.json()
    except ValueError:
        return None
    errors = payload.get("errors") if isinstance(payload, dict) else None
    if isinstance(errors, list) and errors and isinstance(errors[0], dict):
        message = errors[0].get("message") or errors[0].get("code")
        return str(message)[:500] if message else None
    return None


def _retry_after(response: httpx.Response) -> float | None:
    raw = response.headers.get("Retry-After")
    try:
        return max(0.0, float(raw)) if raw is not None else None
    except ValueError:
        return None
