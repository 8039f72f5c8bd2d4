"""Posts and updates a step's channel message through the Slack Web API.

Slack errors are translated here: ones that time or an operator can fix (rate limits,
server errors, a bot not yet invited) are `SlackRetryable`; the rest `SlackPermanent`.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.domain import StepRecord
from bot.metrics import Metrics
from bot.slack.blocks import step_message

# Errors an operator fixes without touching the step (invite the bot, fix the token):
# keep trying until the job's deadline instead of dropping the step.
_FIXABLE_ERRORS = frozenset(
    {
        "not_in_channel",
        "channel_not_found",
        "invalid_auth",
        "not_authed",
        "account_inactive",
        "token_revoked",
        "ratelimited",
        "internal_error",
        "fatal_error",
        "service_unavailable",
        "request_timeout",
    }
)


class SlackRetryable(Exception):
    def __init__(self, reason: str, *, retry_after: float | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retry_after = retry_after


class SlackPermanent(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


# How far back `find_step_message` reads: the channel is the bot's, so a post lost
# moments (or one Slack outage) ago is well within its newest 1000 messages.
_HISTORY_PAGES = 5
_HISTORY_PAGE_SIZE = 200
_STEP_EVENT_TYPE = "hitl_step"


@dataclass(frozen=True)
class PostedMessage:
    channel_id: str
    ts: str
    permalink: str | None


class SlackMessenger:
    def __init__(self, client: AsyncWebClient, *, metrics: Metrics | None = None) -> None:
        self._metrics = metrics or Metrics()
        # This client has no retry handlers: a 429 comes straight back so the job, not
        # a sleeping coroutine, waits out Retry-After.
        self._client = client

    async def post_step(
        self, record: StepRecord, channel_id: str, conversation_url: str | None
    ) -> PostedMessage:
        message = step_message(record, conversation_url=conversation_url, now=time.time())
        response = await self._call(
            "chat_postMessage",
            channel=channel_id,
            text=message["text"],
            blocks=message["blocks"],
            unfurl_links=False,
            unfurl_media=False,
            metadata={
                "event_type": _STEP_EVENT_TYPE,
                "event_payload": {"step_id": record.step.step_id},
            },
        )
        ts = str(response["ts"])
        channel = str(response.get("channel") or channel_id)
        return PostedMessage(
            channel_id=channel, ts=ts, permalink=await self._permalink(channel, ts)
        )

    async def find_step_message(self, channel_id: str, step_id: str) -> PostedMessage | None:
        """The step's message, if an earlier attempt posted it and then lost Slack's reply.

        Looks through the channel's newest messages for the metadata `post_step` attaches;
        needs the `channels:history` scope (`groups:history` for a private channel).
        """
        cursor = ""
        for _ in range(_HISTORY_PAGES):
            page = await self._call(
                "conversations_history",
                channel=channel_id,
                limit=_HISTORY_PAGE_SIZE,
                include_all_metadata=True,
                cursor=cursor or None,
            )
            messages = page.get("messages")
            for message in messages if isinstance(messages, list) else []:
                if _carries_step(message, step_id):
                    ts = str(message["ts"])
                    permalink = await self._permalink(channel_id, ts)
                    return PostedMessage(channel_id=channel_id, ts=ts, permalink=permalink)
            more = page.get("response_metadata")
            cursor = str(more.get("next_cursor") or "") if isinstance(more, dict) else ""
            if not cursor:
                return None
        return None

    async def _permalink(self, channel_id: str, ts: str) -> str | None:
        try:
            link = await self._call("chat_getPermalink", channel=channel_id, message_ts=ts)
        except (SlackRetryable, SlackPermanent):
            return None  # only a convenience for /hitl; never worth re-posting for
        return str(link["permalink"])

    async def update_step(self, record: StepRecord, conversation_url: str | None) -> None:
        if record.channel_id is None or record.message_ts is None:
            return
        message = step_message(record, conversation_url=conversation_url, now=time.time())
        await self._call(
            "chat_update",
            channel=record.channel_id,
            ts=record.message_ts,
            text=message["text"],
            blocks=message["blocks"],
        )

    async def _call(self, method: str, **kwargs: object) -> dict[str, object]:
        try:
            response = await getattr(self._client, method)(**kwargs)
        except SlackApiError as exc:
            error = str(exc.response.get("error") or f"http_{exc.response.status_code}")
            self._metrics.slack_errors.labels(method.replace("_", "."), error).inc()
            raise _translate(method, exc) from exc
        except (TimeoutError, OSError) as exc:
            self._metrics.slack_errors.labels(method.replace("_", "."), "connection").inc()
            raise SlackRetryable(
                f"{method}: could not reach Slack ({exc.__class__.__name__})"
            ) from exc
        return dict(response.data) if isinstance(response.data, dict) else {}


def _carries_step(message: object, step_id: str) -> bool:
    """Whether a message from conversations.history is the request message for `step_id`."""
    if not isinstance(message, dict) or "ts" not in message:
        return False
    metadata = message.get("metadata")
    if not isinstance(metadata, dict) or metadata.get("event_type") != _STEP_EVENT_TYPE:
        return False
    payload = metadata.get("event_payload")
    return isinstance(payload, dict) and payload.get("step_id") == step_id


def _translate(method: str, exc: SlackApiError) -> Exception:
    status = exc.response.status_code
    error = str(exc.response.get("error") or f"http_{status}")
    if status == 429:
        raw = exc.response.headers.get("Retry-After") or exc.response.headers.get("retry-after")
        retry_after = float(raw) if raw and str(raw).replace(".", "", 1).isdigit() else 1.0
        return SlackRetryable(f"{method}: ratelimited", retry_after=retry_after)
    if status >= 500 or error in _FIXABLE_ERRORS:
        return SlackRetryable(f"{method}: {error}")
    return SlackPermanent(f"{method}: {error}")
