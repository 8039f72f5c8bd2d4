"""A loopback fake of Slack's Web API, served by a real aiohttp server on 127.0.0.1.

One module for the one API: every method the bot calls, its rate limits, scripted faults
and what it recorded, so a test reads one place to know what "Slack" did.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import time
from collections import Counter, deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from bot.testing.loopback import LoopbackServer
from bot.testing.slack_socket import FakeSocketMode

Params = dict[str, Any]
Predicate = Callable[[Params], bool]

TEAM_ID = "T0001"
BOT_USER_ID = "UBOT"
BOT_ID = "BBOT"
PERMALINK_ORIGIN = "https://fake.slack.test"
MAX_MESSAGE_BLOCKS = 50
MAX_VIEW_BLOCKS = 100

# Form-encoded senders JSON-encode these; JSON senders pass objects. Decode to one shape.
_JSON_PARAMS = ("blocks", "view", "metadata", "attachments")
# 2026-11-23T00:00:00Z: a fixed epoch keeps message timestamps deterministic.
_TS_EPOCH = 1795478400


@dataclass
class SlackCall:
    """One Web API call the fake answered, in arrival order."""

    method: str
    params: Params
    at: float
    failed: bool = False
    error: str | None = None


@dataclass
class _Fault:
    error: str | None
    status: int
    retry_after: int | None
    delay: float
    after: bool = False  # the call is carried out first; only its answer is late


@dataclass
class _Bucket:
    tokens: float
    updated: float


@dataclass
class _Answer:
    body: dict[str, Any]
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)

    @property
    def failed(self) -> bool:
        return self.status != 200 or not self.body.get("ok", False)


def _ok(**fields: Any) -> _Answer:
    return _Answer({"ok": True, **fields})


def _error(error: str, status: int = 200, headers: Mapping[str, str] | None = None) -> _Answer:
    return _Answer({"ok": False, "error": error}, status, dict(headers or {}))


def _too_many_blocks(blocks: Any, limit: int) -> bool:
    return isinstance(blocks, list) and len(blocks) > limit


def _str_param(params: Params, name: str) -> str | None:
    value = params.get(name)
    return value if isinstance(value, str) and value else None


async def _read_params(request: web.Request) -> Params:
    """Merge query string, JSON body and form body into one dict, as Slack does."""
    params: Params = dict(request.query)
    if request.can_read_body:
        if request.content_type == "application/json":
            try:
                body = await request.json()
            except ValueError:
                body = None
            if isinstance(body, dict):
                params.update(body)
        elif request.content_type in ("application/x-www-form-urlencoded", "multipart/form-data"):
            form = await request.post()
            params.update({k: v for k, v in form.items() if isinstance(v, str)})
    for name in _JSON_PARAMS:
        value = params.get(name)
        if isinstance(value, str):
            with contextlib.suppress(ValueError):
                params[name] = json.loads(value)
    return params


class FakeSlack(LoopbackServer):
    """Slack's Web API on a loopback port, recording every call for tests to inspect.

    Point slack_sdk at it with ``AsyncWebClient(token=..., base_url=fake.base_url)`` and
    give ``fake.response_url(key)`` as a payload's ``response_url``. ``fake.socket`` is its
    Socket Mode side (bot/testing/slack_socket.py), opened with ``app_token``.
    """

    name = "FakeSlack"

    def __init__(
        self,
        token: str = "xoxb-test-token",  # noqa: S107 - a test token
        *,
        member_channels: set[str] | None = None,
        channel_rate_per_second: float | None = None,
        channel_burst: int = 1,
        app_token: str = "xapp-1-A0HITL-1-fake-app-token",  # noqa: S107 - a test token
    ) -> None:
        super().__init__()
        if channel_rate_per_second is not None and channel_rate_per_second <= 0:
            raise ValueError("channel_rate_per_second must be positive")
        if channel_burst < 1:
            raise ValueError("channel_burst must be at least 1")
        self.token = token
        self.app_token = app_token
        self.socket = FakeSocketMode(
            base_url=lambda: self.url, notify=self._notify, wait_until=self._wait_until
        )
        # None means the bot is in every channel.
        self.member_channels = set(member_channels) if member_channels is not None else None
        self.channel_rate_per_second = channel_rate_per_second
        self.channel_burst = channel_burst
        self.usergroups: dict[str, list[str]] = {}
        # Per-user fields merged over the generated users.info answer.
        self.users: dict[str, dict[str, Any]] = {}

        self.calls: list[SlackCall] = []
        self.messages: dict[tuple[str, str], dict[str, Any]] = {}
        self.ephemerals: list[dict[str, Any]] = []
        self.views: dict[str, dict[str, Any]] = {}
        self.home_views: dict[str, dict[str, Any]] = {}
        self.responses: dict[str, list[dict[str, Any]]] = {}
        self.rate_limited_count = 0
        # The Enterprise Grid org the app is installed in (auth.test's enterprise_id).
        self.installation_enterprise: str | None = None

        self._faults: dict[str, deque[_Fault]] = {}
        self._buckets: dict[str, _Bucket] = {}
        self._ts_counter = 0
        self._view_counter = 0
        self._hash_counter = 0
        self._methods: dict[str, Callable[[Params], _Answer]] = {
            "auth.test": self._auth_test,
            "apps.connections.open": self._apps_connections_open,
            "chat.postMessage": self._chat_post_message,
            "chat.update": self._chat_update,
            "chat.postEphemeral": self._chat_post_ephemeral,
            "chat.getPermalink": self._chat_get_permalink,
            "views.open": self._views_open,
            "views.update": self._views_update,
            "views.publish": self._views_publish,
            "users.info": self._users_info,
            "usergroups.users.list": self._usergroups_users_list,
            "conversations.info": self._conversations_info,
            "conversations.open": self._conversations_open,
            "conversations.history": self._conversations_history,
        }

    # -- routes and address (serving: bot/testing/loopback.py) ------------------------------

    def _add_routes(self, app: web.Application) -> None:
        app.router.add_get("/api/{method}", self._handle_api, allow_head=False)
        app.router.add_post("/api/{method}", self._handle_api)
        app.router.add_post("/response/{key}", self._handle_response)
        self.socket.add_routes(app)

    async def stop(self) -> None:
        """Closes open sockets (the bot's client sees Slack go away), then stops serving."""
        if self._runner is not None:
            await self.socket.close_all()
        await super().stop()

    @property
    def url(self) -> str:
        """``http://127.0.0.1:<port>``."""
        return self._base_url

    @property
    def base_url(self) -> str:
        """The Web API root, as slack_sdk's ``base_url`` wants it (trailing slash)."""
        return f"{self.url}/api/"

    def response_url(self, key: str) -> str:
        """A response_url whose posts land in ``responses[key]``."""
        return f"{self.url}/response/{key}"

    # -- scripting -------------------------------------------------------------------------

    def fail_next(
        self,
        method: str,
        *,
        error: str | None = None,
        status: int = 200,
        retry_after: int | None = None,
        times: int = 1,
        delay: float = 0.0,
    ) -> None:
        """Make the next ``times`` calls of ``method`` fail (or, with only ``delay``, be slow).

        status 429 answers ``ratelimited`` with ``Retry-After`` (default 1); other non-200
        statuses answer that status; ``error`` alone answers HTTP 200 ``ok: false``.
        """
        if error is None and status == 200 and delay <= 0:
            raise ValueError("fail_next needs an error, a non-200 status or a delay")
        queue = self._faults.setdefault(method, deque())
        queue.extend(_Fault(error, status, retry_after, delay) for _ in range(times))

    def answer_late(self, method: str, *, delay: float) -> None:
        """Carry out the next call of ``method``, then hold its answer for ``delay``
        seconds: Slack did it, and the caller has not heard so yet."""
        self._faults.setdefault(method, deque()).append(_Fault(None, 200, None, delay, after=True))

    # -- inspection ------------------------------------------------------------------------

    def calls_to(self, method: str, *, include_failed: bool = False) -> list[Params]:
        """Params of the calls of ``method`` answered ok (all attempts with include_failed)."""
        return [
            c.params for c in self.calls if c.method == method and (include_failed or not c.failed)
        ]

    def posted(self, channel: str | None = None) -> list[dict[str, Any]]:
        """Current state of top-level messages, in posting order."""
        return [
            m
            for m in self.messages.values()
            if m["thread_ts"] in (None, m["ts"]) and channel in (None, m["channel"])
        ]

    def thread_replies(self, channel: str, ts: str) -> list[dict[str, Any]]:
        """Current state of the replies in the thread under ``ts``, in posting order."""
        return [
            m
            for m in self.messages.values()
            if m["channel"] == channel and m["thread_ts"] == ts and m["ts"] != ts
        ]

    async def wait_for(
        self,
        method: str,
        count: int = 1,
        timeout: float = 5.0,  # noqa: ASYNC109 - a deadline for the wait, part of the API
        predicate: Predicate | None = None,
        *,
        include_failed: bool = False,
    ) -> list[Params]:
        """Wait until ``count`` calls of ``method`` (answered ok, matching) exist; return them."""

        def matching() -> list[Params]:
            return [
                p
                for p in self.calls_to(method, include_failed=include_failed)
                if predicate is None or predicate(p)
            ]

        def describe() -> str:
            which = "" if include_failed else "successful "
            extra = " matching the predicate" if predicate is not None else ""
            return (
                f"wanted {count} {which}{method} call(s){extra}, got {len(matching())}; "
                f"calls seen: {self._summary()}"
            )

        await self._wait_until(lambda: len(matching()) >= count, timeout, describe)
        return matching()

    async def wait_for_response(
        self,
        key: str,
        count: int = 1,
        timeout: float = 5.0,  # noqa: ASYNC109 - a deadline for the wait, part of the API
    ) -> list[dict[str, Any]]:
        """Wait until ``count`` posts reached ``response_url(key)``; return their bodies."""

        def describe() -> str:
            seen = {k: len(v) for k, v in self.responses.items()}
            return f"wanted {count} post(s) to response_url {key!r}; posts seen: {seen}"

        await self._wait_until(lambda: len(self.responses.get(key, [])) >= count, timeout, describe)
        return self.responses[key]

    def _summary(self) -> str:
        if not self.calls:
            return "none"
        totals = Counter(c.method for c in self.calls)
        failures: dict[str, list[str]] = {}
        for c in self.calls:
            if c.failed:
                failures.setdefault(c.method, []).append(c.error or "failed")
        parts = []
        for method, n in totals.items():
            failed = failures.get(method)
            suffix = f" ({len(failed)} failed: {', '.join(failed)})" if failed else ""
            parts.append(f"{method} x{n}{suffix}")
        return "; ".join(parts)

    # -- HTTP handlers ---------------------------------------------------------------------

    async def _handle_api(self, request: web.Request) -> web.StreamResponse:
        arrived = time.monotonic()
        method = request.match_info["method"]
        params = await _read_params(request)
        answer = self._authorize(request, params, method)
        late = self._late_answer(method) if answer is None else None
        if answer is None and late is None:
            answer = await self._apply_fault(method)
        if answer is None:
            answer = self._throttle(method, params)
        if answer is None:
            handler = self._methods.get(method)
            answer = handler(params) if handler else _error("unknown_method")
        error = answer.body.get("error")
        self.calls.append(
            SlackCall(
                method=method,
                params=params,
                at=arrived,
                failed=answer.failed,
                error=error if isinstance(error, str) else None,
            )
        )
        await self._notify()
        if late is not None:  # done and recorded; only the answer waits
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), late.delay)
        return web.json_response(answer.body, status=answer.status, headers=answer.headers)

    async def _handle_response(self, request: web.Request) -> web.StreamResponse:
        key = request.match_info["key"]
        try:
            body = await request.json()
        except ValueError:
            body = {"text": await request.text()}
        if not isinstance(body, dict):
            body = {"value": body}
        self.responses.setdefault(key, []).append(body)
        await self._notify()
        return web.Response(text="ok")

    def _authorize(self, request: web.Request, params: Params, method: str) -> _Answer | None:
        # Slack also takes the token as a form field; never keep it in recorded params.
        body_token = params.pop("token", None)
        header = request.headers.get("Authorization", "")
        sent = header.removeprefix("Bearer ") if header.startswith("Bearer ") else body_token
        if method == "apps.connections.open":
            # Only an app-level token opens a socket; a bot token is the wrong type.
            if isinstance(sent, str) and sent.startswith("xoxb-"):
                return _error("not_allowed_token_type")
            return None if sent == self.app_token else _error("invalid_auth")
        if isinstance(sent, str) and sent.startswith("xapp-"):
            return _error("not_allowed_token_type")
        return None if sent == self.token else _error("invalid_auth")

    def _late_answer(self, method: str) -> _Fault | None:
        queue = self._faults.get(method)
        if queue and queue[0].after:
            return queue.popleft()
        return None

    async def _apply_fault(self, method: str) -> _Answer | None:
        queue = self._faults.get(method)
        if not queue:
            return None
        fault = queue.popleft()
        if fault.delay > 0:
            # Waking on stop() keeps a long delay from holding the server's shutdown.
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), fault.delay)
        if fault.status == 429:
            self.rate_limited_count += 1
            retry_after = 1 if fault.retry_after is None else fault.retry_after
            return _error("ratelimited", 429, {"Retry-After": str(retry_after)})
        headers = {} if fault.retry_after is None else {"Retry-After": str(fault.retry_after)}
        if fault.status >= 500:
            return _error(fault.error or "internal_error", fault.status, headers)
        if fault.status != 200:
            return _error(fault.error or "request_failed", fault.status, headers)
        if fault.error is not None:
            return _error(fault.error)
        return None  # only slow: answer normally

    def _throttle(self, method: str, params: Params) -> _Answer | None:
        rate = self.channel_rate_per_second
        channel = _str_param(params, "channel")
        if rate is None or method != "chat.postMessage" or channel is None:
            return None
        now = time.monotonic()
        capacity = float(self.channel_burst)
        bucket = self._buckets.setdefault(channel, _Bucket(tokens=capacity, updated=now))
        bucket.tokens = min(capacity, bucket.tokens + (now - bucket.updated) * rate)
        bucket.updated = now
        if bucket.tokens >= 1.0:
            bucket.tokens -= 1.0
            return None
        self.rate_limited_count += 1
        retry_after = max(1, math.ceil((1.0 - bucket.tokens) / rate))
        return _error("ratelimited", 429, {"Retry-After": str(retry_after)})

    # -- Web API methods -------------------------------------------------------------------

    def _is_member(self, channel: str) -> bool:
        # The bot is always in its own direct-message channels.
        return self.member_channels is None or channel in self.member_channels or channel[:1] == "D"

    def _next_ts(self) -> str:
        self._ts_counter += 1
        n = self._ts_counter
        return f"{_TS_EPOCH + n // 10_000}.{(n % 10_000) * 100:06d}"

    def _store_view(self, view_id: str, view: dict[str, Any]) -> dict[str, Any]:
        # A new hash on every store, as Slack changes it on every update.
        self._hash_counter += 1
        stored = {
            **view,
            "id": view_id,
            "team_id": TEAM_ID,
            "hash": f"{_TS_EPOCH}.hash{self._hash_counter}",
        }
        self.views[view_id] = stored
        return stored

    def _new_view_id(self) -> str:
        self._view_counter += 1
        return f"V{self._view_counter:08d}"

    @staticmethod
    def _message_json(message: dict[str, Any]) -> dict[str, Any]:
        out: dict[str, Any] = {
            "type": "message",
            "user": BOT_USER_ID,
            "bot_id": BOT_ID,
            "ts": message["ts"],
            "text": message["text"],
        }
        for key in ("blocks", "thread_ts", "metadata"):
            if message.get(key) is not None:
                out[key] = message[key]
        return out

    def _auth_test(self, params: Params) -> _Answer:
        return _ok(
            url=f"{PERMALINK_ORIGIN}/",
            team="Fake",
            user="fakebot",
            team_id=TEAM_ID,
            user_id=BOT_USER_ID,
            bot_id=BOT_ID,
            is_enterprise_install=False,
            **(
                {"enterprise_id": self.installation_enterprise}
                if self.installation_enterprise
                else {}
            ),
        )

    def _apps_connections_open(self, params: Params) -> _Answer:
        return _ok(url=self.socket.open_url())

    def _chat_post_message(self, params: Params) -> _Answer:
        channel = _str_param(params, "channel")
        if channel is None:
            return _error("channel_not_found")
        if not self._is_member(channel):
            return _error("not_in_channel")
        blocks = params.get("blocks")
        if not params.get("text") and not blocks and not params.get("attachments"):
            return _error("no_text")
        if _too_many_blocks(blocks, MAX_MESSAGE_BLOCKS):
            return _error("invalid_blocks")
        ts = self._next_ts()
        thread_ts = params.get("thread_ts")
        message: dict[str, Any] = {
            "channel": channel,
            "ts": ts,
            "text": params.get("text"),
            "blocks": blocks,
            "thread_ts": str(thread_ts) if thread_ts else None,
            "metadata": params.get("metadata"),
            "updates": 0,
        }
        self.messages[(channel, ts)] = message
        return _ok(channel=channel, ts=ts, message=self._message_json(message))

    def _chat_update(self, params: Params) -> _Answer:
        channel = _str_param(params, "channel")
        ts = _str_param(params, "ts")
        message = self.messages.get((channel, ts)) if channel and ts else None
        if message is None:
            return _error("message_not_found")
        blocks = params.get("blocks")
        if _too_many_blocks(blocks, MAX_MESSAGE_BLOCKS):
            return _error("invalid_blocks")
        # Like Slack, fields left out of the update keep their old values.
        for key in ("text", "blocks", "metadata"):
            if key in params:
                message[key] = params[key]
        message["updates"] += 1
        return _ok(
            channel=channel, ts=ts, text=message["text"], message=self._message_json(message)
        )

    def _chat_post_ephemeral(self, params: Params) -> _Answer:
        channel = _str_param(params, "channel")
        user = _str_param(params, "user")
        if channel is None:
            return _error("channel_not_found")
        if user is None:
            return _error("user_not_found")
        if not self._is_member(channel):
            return _error("not_in_channel")
        ts = self._next_ts()
        self.ephemerals.append(
            {
                "channel": channel,
                "user": user,
                "text": params.get("text"),
                "blocks": params.get("blocks"),
                "thread_ts": params.get("thread_ts"),
                "message_ts": ts,
            }
        )
        return _ok(message_ts=ts)

    def _chat_get_permalink(self, params: Params) -> _Answer:
        channel = _str_param(params, "channel")
        ts = _str_param(params, "message_ts")
        if channel is None:
            return _error("channel_not_found")
        if ts is None:
            return _error("message_not_found")
        permalink = f"{PERMALINK_ORIGIN}/archives/{channel}/p{ts.replace('.', '')}"
        return _ok(channel=channel, permalink=permalink)

    def _views_open(self, params: Params) -> _Answer:
        view = params.get("view")
        if not _str_param(params, "trigger_id") or not isinstance(view, dict):
            return _error("invalid_arguments")
        if _too_many_blocks(view.get("blocks"), MAX_VIEW_BLOCKS):
            return _error("invalid_arguments")
        return _ok(view=self._store_view(self._new_view_id(), view))

    def _views_update(self, params: Params) -> _Answer:
        view = params.get("view")
        if not isinstance(view, dict):
            return _error("invalid_arguments")
        if _too_many_blocks(view.get("blocks"), MAX_VIEW_BLOCKS):
            return _error("invalid_arguments")
        view_id = _str_param(params, "view_id")
        external_id = _str_param(params, "external_id")
        if view_id is None and external_id is not None:
            view_id = next(
                (v["id"] for v in self.views.values() if v.get("external_id") == external_id),
                None,
            )
        if view_id is None:
            return _error("not_found")
        # An unknown view_id is accepted: tests often hand-craft view_submission payloads.
        return _ok(view=self._store_view(view_id, view))

    def _views_publish(self, params: Params) -> _Answer:
        user_id = _str_param(params, "user_id")
        view = params.get("view")
        if user_id is None or not isinstance(view, dict):
            return _error("invalid_arguments")
        if _too_many_blocks(view.get("blocks"), MAX_VIEW_BLOCKS):
            return _error("invalid_arguments")
        existing = self.home_views.get(user_id)
        view_id = existing["id"] if existing else self._new_view_id()
        stored = self._store_view(view_id, view)
        self.home_views[user_id] = stored
        return _ok(view=stored)

    def _users_info(self, params: Params) -> _Answer:
        user_id = _str_param(params, "user")
        if user_id is None:
            return _error("user_not_found")
        overrides = self.users.get(user_id, {})
        profile = {"display_name": f"user-{user_id}", "real_name": f"User {user_id}"}
        profile.update(overrides.get("profile", {}))
        user: dict[str, Any] = {
            "id": user_id,
            "team_id": TEAM_ID,
            "name": f"user-{user_id}",
            "real_name": f"User {user_id}",
            "is_bot": False,
            "deleted": False,
            "tz": "UTC",
            **overrides,
            "profile": profile,
        }
        return _ok(user=user)

    def _conversations_open(self, params: Params) -> _Answer:
        """The bot's direct-message channel with one user (`D` + the user id here)."""
        users = _str_param(params, "users")
        if not users or "," in users:
            return _error("invalid_arguments")
        return _ok(channel={"id": f"D{users}", "is_im": True, "user": users})

    def _usergroups_users_list(self, params: Params) -> _Answer:
        group = _str_param(params, "usergroup")
        if group is None or group not in self.usergroups:
            return _error("no_such_subteam")
        return _ok(users=list(self.usergroups[group]))

    def _conversations_history(self, params: Params) -> _Answer:
        """Top-level messages newest first, paged by an offset cursor; metadata on request."""
        channel = _str_param(params, "channel")
        if channel is None:
            return _error("channel_not_found")
        if not self._is_member(channel):
            return _error("not_in_channel")
        try:
            limit = max(1, min(999, int(params.get("limit") or 100)))
            start = int(_str_param(params, "cursor") or 0)
            oldest = float(params.get("oldest") or 0)
        except (TypeError, ValueError):
            return _error("invalid_arguments")
        with_metadata = str(params.get("include_all_metadata", "")).lower() in ("1", "true")
        history = sorted(
            (m for m in self.posted(channel) if float(m["ts"]) > oldest),
            key=lambda m: float(m["ts"]),
            reverse=True,
        )
        messages = []
        for message in history[start : start + limit]:
            shown = self._message_json(message)
            if not with_metadata:
                shown.pop("metadata", None)
            messages.append(shown)
        more = start + limit < len(history)
        return _ok(
            messages=messages,
            has_more=more,
            response_metadata={"next_cursor": str(start + limit) if more else ""},
        )

    def _conversations_info(self, params: Params) -> _Answer:
        channel = _str_param(params, "channel")
        if channel is None:
            return _error("channel_not_found")
        return _ok(
            channel={
                "id": channel,
                "name": f"channel-{channel.lower()}",
                "is_channel": True,
                "is_member": self._is_member(channel),
            }
        )
