"""Slack's requests over Socket Mode: envelopes from a WebSocket the bot opens, handed to the
same dispatch as `POST /slack/events` (bot/routes.py), acknowledged with its answer.

Bolt's own asyncio adapter (`slack_bolt.adapter.socket_mode.async_handler`, aiohttp-based)
holds the connection: it asks `apps.connections.open` for a URL with the app-level token,
reconnects after Slack's `disconnect` envelope or a dropped socket, and pings. What is ours:

- the envelope's payload goes through `dispatch` (shape, workspace, Bolt and the
  listeners), exactly as an HTTP request's does; the ack carries what an HTTP answer's
  body would (options, `response_action` errors, an ephemeral reply);
- an answer Slack should retry (a 5xx over HTTP) is not acknowledged, so Slack delivers
  the envelope again; a refusal (4xx) is acknowledged empty, as there is nothing to retry;
- Slack may deliver an envelope again (after a reconnect, or an ack lost with its socket):
  the last `REMEMBERED` envelopes' ids, trigger ids and event ids are kept with their ack,
  so a repeat is answered with the same ack and handled once; a repeat arriving while
  the first is still being handled waits for it;
- a stop lets envelopes being handled finish (and ack) before the socket closes; ones
  arriving meanwhile are left unacknowledged, for Slack to deliver again.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import aiohttp
from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler
from slack_bolt.async_app import AsyncApp
from slack_sdk.errors import SlackApiError
from slack_sdk.socket_mode.async_client import AsyncBaseSocketModeClient
from slack_sdk.socket_mode.request import SocketModeRequest
from slack_sdk.socket_mode.response import SocketModeResponse
from slack_sdk.web.async_client import AsyncWebClient

from bot.routes import dispatch
from bot.slack.edge import Workspace

log = logging.getLogger(__name__)

# Envelopes remembered for repeats: far more than Slack holds unacknowledged for one app.
REMEMBERED = 500
# Seconds between pings on the socket (Bolt's default); a socket found dead reconnects.
PING_INTERVAL_SECONDS = 10.0
# What `apps.connections.open` answers for a token that will never work.
_TOKEN_ERRORS = frozenset(
    {"invalid_auth", "not_authed", "account_inactive", "token_revoked", "not_allowed_token_type"}
)


class SocketModeRefused(Exception):
    """Slack refused the app-level token: the bot cannot receive anything from Slack."""


@dataclass(frozen=True)
class Ack:
    """How an envelope is answered: acknowledged (with the payload, if any) or not."""

    sent: bool
    payload: dict[str, Any] | None = None


NOT_ACKNOWLEDGED = Ack(sent=False)


def envelope_keys(request: SocketModeRequest) -> tuple[str, ...]:
    """What identifies an envelope when Slack delivers it again: its id, and the id of
    what it carries (an interaction's trigger_id, an event's event_id)."""
    keys = [f"envelope:{request.envelope_id}"]
    payload = request.payload
    for field in ("trigger_id", "event_id"):
        value = payload.get(field)
        if isinstance(value, str) and value:
            keys.append(f"{field}:{value}")
    return tuple(keys)


class RecentEnvelopes:
    """The acks of the last `size` envelopes, by each of their keys."""

    def __init__(self, size: int = REMEMBERED) -> None:
        self._size = size
        self._entries: OrderedDict[int, tuple[tuple[str, ...], asyncio.Future[Ack]]] = OrderedDict()
        self._by_key: dict[str, int] = {}
        self._next = 0

    def __len__(self) -> int:
        return len(self._entries)

    async def once(
        self, keys: tuple[str, ...], handle: Callable[[], Awaitable[Ack]]
    ) -> tuple[Ack, bool]:
        """(the ack, whether it is a repeat's): `handle()` runs unless an envelope with one
        of `keys` was acknowledged (or is being handled, and then is)."""
        while (entry := self._find(keys)) is not None:
            ack = await asyncio.shield(entry)
            if ack.sent:
                return ack, True
            # The first delivery was not acknowledged and is forgotten: handle this one.
        future: asyncio.Future[Ack] = asyncio.get_running_loop().create_future()
        number = self._remember(keys, future)
        try:
            ack = await handle()
        except BaseException:
            self._forget(number)
            future.set_result(NOT_ACKNOWLEDGED)
            raise
        if not ack.sent:
            self._forget(number)
        future.set_result(ack)
        return ack, False

    def _find(self, keys: tuple[str, ...]) -> asyncio.Future[Ack] | None:
        for key in keys:
            number = self._by_key.get(key)
            if number is not None:
                return self._entries[number][1]
        return None

    def _remember(self, keys: tuple[str, ...], future: asyncio.Future[Ack]) -> int:
        number = self._next
        self._next += 1
        self._entries[number] = (keys, future)
        for key in keys:
            self._by_key[key] = number
        while len(self._entries) > self._size:
            self._forget(next(iter(self._entries)))
        return number

    def _forget(self, number: int) -> None:
        entry = self._entries.pop(number, None)
        if entry is None:
            return
        for key in entry[0]:
            if self._by_key.get(key) == number:
                del self._by_key[key]


def ack_for(status: int, body: str, content_type: str) -> Ack:
    """The ack for dispatch's answer: its JSON body as the payload when it succeeded; empty
    for a refusal; none when the answer asks Slack to try again."""
    if status >= 500:
        return NOT_ACKNOWLEDGED
    if status >= 300 or not body:
        return Ack(sent=True)
    if content_type.startswith("application/json"):
        payload = json.loads(body)
        return Ack(sent=True, payload=payload if isinstance(payload, dict) else None)
    return Ack(sent=True, payload={"text": body})


class _Handler(AsyncSocketModeHandler):
    """Bolt's handler with its `handle` replaced by ours (see SocketMode.handle)."""

    def __init__(self, owner: SocketMode, **options: Any) -> None:
        super().__init__(**options)
        self._owner = owner

    async def handle(self, client: AsyncBaseSocketModeClient, req: SocketModeRequest) -> None:
        await self._owner.handle(client, req)


class SocketMode:
    """Started and stopped by the app's lifecycle (bot/app.py), after the store and before
    it; `/intercom/webhook`, `/healthz` and `/metrics` stay on the HTTP listener."""

    def __init__(
        self,
        bolt: AsyncApp,
        workspace: Workspace,
        *,
        app_token: str,
        web_client: AsyncWebClient,
        ping_interval: float = PING_INTERVAL_SECONDS,
        remembered: int = REMEMBERED,
    ) -> None:
        self._bolt = bolt
        self._workspace = workspace
        self._app_token = app_token
        self._web_client = web_client
        self._ping_interval = ping_interval
        self.recent = RecentEnvelopes(remembered)
        self._handler: _Handler | None = None
        self._connecting: asyncio.Task[None] | None = None
        self._handling: set[asyncio.Task[Any]] = set()
        self._stopping = False

    async def start(self) -> None:
        """Asks Slack for a socket URL (a refused token raises SocketModeRefused), then
        connects in the background: the HTTP routes serve meanwhile, and an unreachable
        Slack is retried every ping interval."""
        # Bolt's client starts a task and a session when built: built in the running loop.
        handler = _Handler(
            self,
            app=self._bolt,
            app_token=self._app_token,
            logger=logging.getLogger("bot.slack.socket"),
            web_client=self._web_client,
            ping_interval=self._ping_interval,
        )
        self._handler = handler
        try:
            handler.client.wss_uri = await handler.client.issue_new_wss_url()
        except SlackApiError as exc:
            error = exc.response.get("error") if isinstance(exc.response.data, dict) else None
            if error in _TOKEN_ERRORS:
                await handler.close_async()  # type: ignore[no-untyped-call]
                raise SocketModeRefused(
                    f"Slack refused it ({error}): it must be an app-level token of this "
                    "app with the connections:write scope"
                ) from None
            log.warning("socket mode: no URL from Slack yet; retrying", extra={"error": error})
        except (OSError, aiohttp.ClientError, TimeoutError) as exc:
            log.warning(
                "socket mode: Slack unreachable; retrying", extra={"error": type(exc).__name__}
            )
        self._connecting = asyncio.create_task(
            handler.connect_async(),  # type: ignore[no-untyped-call]
            name="slack-socket-connect",
        )
        log.info("socket mode: connecting to Slack")

    async def handle(self, client: AsyncBaseSocketModeClient, req: SocketModeRequest) -> None:
        """One envelope: dispatched once (see RecentEnvelopes), then acknowledged."""
        if self._stopping:
            return  # unacknowledged: Slack delivers it again, to this bot's next socket
        task = asyncio.current_task()
        if task is not None:
            self._handling.add(task)
        try:
            ack, repeat = await self.recent.once(envelope_keys(req), lambda: self._dispatch(req))
            if not ack.sent:
                log.warning(
                    "slack envelope not acknowledged; Slack will deliver it again",
                    extra={"envelope_type": req.type, "retry_attempt": req.retry_attempt},
                )
                return
            if repeat:
                log.info(
                    "slack envelope delivered again; answered as before",
                    extra={"envelope_type": req.type, "retry_attempt": req.retry_attempt},
                )
            await self._send(client, SocketModeResponse(req.envelope_id, ack.payload))
        finally:
            if task is not None:
                self._handling.discard(task)

    async def _dispatch(self, req: SocketModeRequest) -> Ack:
        headers: dict[str, str] = {}
        if req.retry_attempt is not None:
            headers["x-slack-retry-num"] = str(req.retry_attempt)
        if req.retry_reason is not None:
            headers["x-slack-retry-reason"] = req.retry_reason
        status, body, answer_headers = await dispatch(
            self._bolt, self._workspace, req.payload, headers
        )
        return ack_for(status, body, answer_headers.get("Content-Type", "application/json"))

    @staticmethod
    async def _send(client: AsyncBaseSocketModeClient, response: SocketModeResponse) -> None:
        try:
            await client.send_socket_mode_response(response)
        except (OSError, aiohttp.ClientError, RuntimeError) as exc:
            # The socket went away with the ack: Slack delivers the envelope again and the
            # repeat is answered with this ack (RecentEnvelopes).
            log.warning(
                "slack ack not sent; the socket closed", extra={"error": type(exc).__name__}
            )

    async def stop(self, grace: float) -> None:
        """Lets envelopes being handled finish and ack within `grace` seconds (ones
        arriving now are left for Slack to deliver again), then closes the socket."""
        self._stopping = True
        if self._handling:
            _, late = await asyncio.wait(set(self._handling), timeout=grace)
            for task in late:
                task.cancel()
            await asyncio.gather(*late, return_exceptions=True)
        handler, self._handler = self._handler, None
        if handler is not None:
            await handler.close_async()  # type: ignore[no-untyped-call]
            # Bolt's client cancels its tasks without waiting for them to end.
            client = handler.client
            tasks = (
                client.message_processor,
                client.current_session_monitor,
                client.message_receiver,
            )
            await asyncio.gather(*(t for t in tasks if t is not None), return_exceptions=True)
        connecting, self._connecting = self._connecting, None
        if connecting is not None:
            connecting.cancel()
            await asyncio.gather(connecting, return_exceptions=True)
