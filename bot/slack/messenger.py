"""Posts and updates a step's channel message through the Slack Web API.

Slack errors are translated here: ones that time or an operator can fix (rate limits,
server errors, a bot not yet invited) are `SlackRetryable`; the rest `SlackPermanent`.

Once Slack answers 429 for a channel, posts (and updates) into it are paced: each takes
the next free slot, Retry-After apart, instead of every job trying and being refused in
turn. A short wait is slept here; a longer one is handed back as `SlackRetryable` with its
delay, so the job waits durably in the store and comes back for the slot booked for it.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.domain import StepRecord
from bot.errors import Permanent, Retryable
from bot.metrics import Metrics
from bot.redact import NO_SECRETS, Redactor
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


class SlackRetryable(Retryable):
    """A Slack call failed in a way time or an operator can fix."""


class SlackRateLimited(SlackRetryable):
    """Slack answered 429: the call did nothing."""


class SlackPermanent(Permanent):
    """Slack refused the call for good."""


# How far back `find_step_message` reads: the channel is the bot's, so a post lost
# moments (or one Slack outage) ago is well within its newest 1000 messages.
_HISTORY_PAGES = 5
_HISTORY_PAGE_SIZE = 200
_STEP_EVENT_TYPE = "hitl_step"


# A wait for a channel's slot up to this long is slept in the job; a longer one goes
# back to the store, so a burst into one channel never holds every worker slot.
MAX_INLINE_WAIT_SECONDS = 1.5
# How many never-posted steps to remember (those settled before a retry stay behind).
_NOT_POSTED_LIMIT = 10_000
# Added to Slack's Retry-After between paced calls, for timing jitter on either side.
_PACE_MARGIN_SECONDS = 0.02
# A booked slot not taken up this long after its time is forgotten (its step moved on).
_FORGET_BOOKING_SECONDS = 60.0


@dataclass
class _Pace:
    interval: float  # the spacing Slack asked for (its last Retry-After)
    next_free: float  # when the next slot not yet booked starts
    last_sent: float = float("-inf")
    booked: dict[str, float] = field(default_factory=dict)  # step_id → its slot's time


class ChannelPacer:
    """Spaces calls of one method into one channel after Slack rate-limited them there."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._paces: dict[tuple[str, str], _Pace] = {}

    def delay(self, method: str, channel: str, step_id: str) -> float:
        """Seconds until this step's call may go (0: at once); books its slot if paced.

        A step given a delay longer than MAX_INLINE_WAIT_SECONDS keeps its slot: asking
        again when that time comes returns 0.
        """
        pace = self._paces.get((method, channel))
        if pace is None:
            return 0.0
        now = self._clock()
        booked = pace.booked.pop(step_id, None)
        if booked is not None:
            return max(0.0, booked - now)
        if not pace.booked and pace.next_free < now - pace.interval:
            # Nothing waits and the channel has been quiet a whole interval: unpaced again.
            del self._paces[(method, channel)]
            return 0.0
        slot = max(now, pace.next_free)
        pace.next_free = slot + pace.interval
        if slot - now > MAX_INLINE_WAIT_SECONDS:
            pace.booked[step_id] = slot
        return slot - now

    def rate_limited(self, method: str, channel: str, step_id: str, retry_after: float) -> float:
        """Slack refused this step's call with Retry-After: books its next slot, the delay."""
        now = self._clock()
        interval = retry_after + _PACE_MARGIN_SECONDS
        pace = self._paces.setdefault(
            (method, channel), _Pace(interval=interval, next_free=now + interval)
        )
        pace.interval = interval
        pace.booked = {
            step: at for step, at in pace.booked.items() if at > now - _FORGET_BOOKING_SECONDS
        }
        slot = max(now + interval, pace.next_free)
        pace.next_free = slot + interval
        pace.booked[step_id] = slot
        return slot - now

    async def sent(self, method: str, channel: str) -> None:
        """Waits until a paced channel's previous call is `interval` old, then claims now.

        Slots are spaced already; this keeps a late-running job (or one taking its slot
        as it comes back from the store) from landing right behind another.
        """
        while (pace := self._paces.get((method, channel))) is not None:
            gap = pace.last_sent + pace.interval - self._clock()
            if gap <= 0:
                pace.last_sent = self._clock()
                return
            await asyncio.sleep(gap)


@dataclass(frozen=True)
class PostedMessage:
    channel_id: str
    ts: str
    permalink: str | None


class SlackMessenger:
    def __init__(
        self,
        client: AsyncWebClient,
        *,
        metrics: Metrics,
        pacer: ChannelPacer | None = None,
        clock: Callable[[], float] = time.time,
        redactor: Redactor = NO_SECRETS,
    ) -> None:
        self._metrics = metrics
        self._redactor = redactor
        self._clock = clock  # what "now" is on a message (e.g. expires vs deadline passed)
        # This client has no retry handlers: a 429 comes straight back so the job, not
        # a sleeping coroutine, waits out Retry-After.
        self._client = client
        self._pacer = pacer or ChannelPacer()
        # Steps whose every post attempt here is known not to have posted (paced, or
        # refused with 429): looking for an earlier post of one would be a wasted call.
        self._not_posted: set[str] = set()
        self._workspace: str | None = None  # see _workspace_url
        self._workspace_asked = False
        self._workspace_lock = asyncio.Lock()

    async def post_step(self, record: StepRecord, channel_id: str) -> PostedMessage:
        message = step_message(record, now=self._clock())
        step_id = record.step.step_id
        response = await self._paced_call(
            "chat_postMessage",
            step_id,
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
        if step_id in self._not_posted:
            return None  # this process made every attempt, and none of them posted
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
        """A link to a top-level message, in the form `chat.getPermalink` answers
        (`<workspace URL>archives/<channel>/p<ts without its dot>`), built from the
        workspace's URL: a second Slack call per post cost more CPU than the post's own
        store transactions. Asked of Slack only while that URL is unknown."""
        base = await self._workspace_url()
        if base is not None:
            return f"{base}archives/{channel_id}/p{ts.replace('.', '')}"
        try:
            link = await self._call("chat_getPermalink", channel=channel_id, message_ts=ts)
        except (SlackRetryable, SlackPermanent):
            return None  # only a convenience for /hitl; never worth re-posting for
        return str(link["permalink"])

    async def _workspace_url(self) -> str | None:
        """The workspace's URL from `auth.test`, asked until Slack answers once (it does
        not change for a bot token); None if that answer had no usable URL."""
        async with self._workspace_lock:
            if not self._workspace_asked:
                try:
                    auth = await self._call("auth_test")
                except (SlackRetryable, SlackPermanent):
                    return None
                self._workspace_asked = True
                url = auth.get("url")
                if isinstance(url, str) and url.startswith("https://"):
                    self._workspace = url if url.endswith("/") else url + "/"
            return self._workspace

    async def update_step(self, record: StepRecord) -> None:
        if record.channel_id is None or record.message_ts is None:
            return
        message = step_message(record, now=self._clock())
        await self._paced_call(
            "chat_update",
            record.step.step_id,
            channel=record.channel_id,
            ts=record.message_ts,
            text=message["text"],
            blocks=message["blocks"],
        )

    async def _paced_call(
        self, method: str, step_id: str, *, channel: str, **kwargs: object
    ) -> dict[str, object]:
        delay = self._pacer.delay(method, channel, step_id)
        posting = method == "chat_postMessage"
        if delay > MAX_INLINE_WAIT_SECONDS:
            if posting:
                self._remember_not_posted(step_id)
            raise SlackRetryable(f"{method}: waiting for the channel's pace", retry_after=delay)
        if delay > 0:
            await asyncio.sleep(delay)
        await self._pacer.sent(method, channel)
        if posting:
            self._not_posted.discard(step_id)
        try:
            response = await self._call(method, channel=channel, **kwargs)
        except SlackRateLimited as exc:
            if posting:
                self._remember_not_posted(step_id)
            retry_after = self._pacer.rate_limited(method, channel, step_id, exc.retry_after or 1.0)
            raise SlackRateLimited(exc.reason, retry_after=retry_after) from exc
        return response

    def _remember_not_posted(self, step_id: str) -> None:
        if len(self._not_posted) >= _NOT_POSTED_LIMIT:
            self._not_posted.clear()  # forgetting only costs a history lookup
        self._not_posted.add(step_id)

    async def _call(self, method: str, **kwargs: object) -> dict[str, object]:
        return await call_slack(self._client, self._metrics, method, self._redactor, **kwargs)


async def call_slack(
    client: AsyncWebClient,
    metrics: Metrics,
    method: str,
    redactor: Redactor = NO_SECRETS,
    **kwargs: object,
) -> dict[str, object]:
    """One Web API call with its failure counted and translated into our error tree.

    Everything sent is redacted first: no configured secret reaches Slack, whatever text
    (an Intercom error message, say) a message was built from.
    """
    try:
        response = await getattr(client, method)(**redactor.deep(kwargs))
    except SlackApiError as exc:
        error = str(exc.response.get("error") or f"http_{exc.response.status_code}")
        metrics.slack_errors.labels(method.replace("_", "."), error).inc()
        raise _translate(method, exc) from exc
    except (TimeoutError, OSError) as exc:
        metrics.slack_errors.labels(method.replace("_", "."), "connection").inc()
        raise SlackRetryable(f"{method}: could not reach Slack ({exc.__class__.__name__})") from exc
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
        return SlackRateLimited(f"{method}: ratelimited", retry_after=retry_after)
    if status >= 500 or error in _FIXABLE_ERRORS:
        return SlackRetryable(f"{method}: {error}")
    return SlackPermanent(f"{method}: {error}")
