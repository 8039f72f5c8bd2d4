"""Slack's Socket Mode side, for the loopback FakeSlack: real WebSockets on 127.0.0.1.

`apps.connections.open` (with the app-level token) hands out a one-use `ws://` URL on the
fake's port; a client connecting there gets `hello`, then the envelopes a test sends
(`interactive`, `slash_commands`, `events_api`), and answers each with an ack that is
recorded with its payload. A test can send `disconnect` (the client opens a new socket),
drop the socket, or lose the next ack with its socket. As Slack does, an envelope not
acknowledged is delivered again, with `retry_attempt` raised, on the next socket the app
opens (or when the test asks).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from aiohttp import web

APP_ID = "A0HITL"
ENVELOPE_TYPES = ("interactive", "slash_commands", "events_api")


@dataclass
class Envelope:
    """One envelope the fake sent, and how it was answered."""

    envelope_id: str
    type: str
    payload: dict[str, Any]
    accepts_response_payload: bool
    sent_at: list[float] = field(default_factory=list)
    connections: list[int] = field(default_factory=list)
    acked_at: float | None = None

    @property
    def attempts(self) -> int:
        return len(self.sent_at)

    @property
    def acked(self) -> bool:
        return self.acked_at is not None


@dataclass(frozen=True)
class RecordedAck:
    """An ack the fake received: for which envelope, on which socket, with what payload,
    and how long after the envelope's latest delivery."""

    envelope_id: str
    payload: dict[str, Any] | None
    connection: int
    seconds: float


@dataclass
class _Connection:
    number: int
    socket: web.WebSocketResponse
    transport: asyncio.Transport | None
    greeted: bool = False
    closed: bool = False


class FakeSocketMode:
    """Serves within the FakeSlack's aiohttp app; `notify` and `wait_until` are the fake's,
    so tests wait on one condition for Web API calls and socket traffic alike."""

    def __init__(
        self,
        *,
        base_url: Callable[[], str],
        notify: Callable[[], Awaitable[None]],
        wait_until: Callable[[Callable[[], bool], float, Callable[[], str]], Awaitable[None]],
    ) -> None:
        self._base_url = base_url
        self._notify = notify
        self._wait_until = wait_until
        self._tickets: set[str] = set()
        self.connections: list[_Connection] = []
        self.envelopes: dict[str, Envelope] = {}
        self.acks: list[RecordedAck] = []
        self.lost_acks: list[str] = []
        self.messages: list[dict[str, Any]] = []  # anything else the client sent
        self._lose_next_acks = 0
        self._send_lock = asyncio.Lock()

    # -- what FakeSlack wires ----------------------------------------------------------

    def add_routes(self, app: web.Application) -> None:
        app.router.add_get("/socket/{ticket}", self._handle_socket)

    def open_url(self) -> str:
        """`apps.connections.open`'s URL: one use, on the fake's loopback port."""
        ticket = uuid.uuid4().hex
        self._tickets.add(ticket)
        return self._base_url().replace("http://", "ws://", 1) + f"/socket/{ticket}"

    async def close_all(self) -> None:
        for connection in self.connections:
            if not connection.closed:
                await connection.socket.close(code=aiohttp.WSCloseCode.GOING_AWAY)

    # -- scripting -----------------------------------------------------------------------

    @property
    def current(self) -> _Connection | None:
        """The newest open socket: where envelopes go."""
        for connection in reversed(self.connections):
            if not connection.closed and connection.greeted:
                return connection
        return None

    async def send(
        self,
        envelope_type: str,
        payload: dict[str, Any],
        *,
        timeout: float = 5.0,  # noqa: ASYNC109 - a deadline for the socket, part of the API
    ) -> str:
        """Sends an envelope on the current socket (waiting up to `timeout` for one);
        its envelope_id."""
        if envelope_type not in ENVELOPE_TYPES:
            raise ValueError(f"envelope type must be one of {ENVELOPE_TYPES}")
        envelope = Envelope(
            envelope_id=str(uuid.uuid4()),
            type=envelope_type,
            payload=payload,
            accepts_response_payload=envelope_type != "events_api",
        )
        self.envelopes[envelope.envelope_id] = envelope
        await self._deliver(envelope, await self.wait_connected(timeout=timeout))
        return envelope.envelope_id

    async def request(
        self,
        envelope_type: str,
        payload: dict[str, Any],
        *,
        timeout: float = 5.0,  # noqa: ASYNC109 - a deadline for the ack, part of the API
    ) -> RecordedAck:
        """Sends an envelope and waits for its ack."""
        envelope_id = await self.send(envelope_type, payload, timeout=timeout)
        return await self.wait_ack(envelope_id, timeout=timeout)

    async def disconnect(self, reason: str = "refresh_requested") -> None:
        """Slack's `disconnect` envelope on the current socket: the client opens another."""
        connection = await self.wait_connected()
        await self._send_json(
            connection, {"type": "disconnect", "reason": reason, "debug_info": {"host": "fake"}}
        )

    async def drop(self, *, abrupt: bool = False) -> None:
        """Closes the current socket (a close frame), or with `abrupt` cuts its TCP
        connection, as a network failure would."""
        connection = self.current
        if connection is None:
            return
        connection.closed = True
        if abrupt and connection.transport is not None:
            connection.transport.abort()
        else:
            await connection.socket.close(code=aiohttp.WSCloseCode.GOING_AWAY)
        await self._notify()

    def lose_next_acks(self, count: int = 1) -> None:
        """The next `count` acks are lost with their socket: not recorded, and the socket
        each arrived on is dropped, so Slack delivers those envelopes again."""
        self._lose_next_acks += count

    async def redeliver_unacked(self) -> list[str]:
        """Delivers every unacknowledged envelope again on the current socket."""
        connection = await self.wait_connected()
        pending = [e for e in self.envelopes.values() if not e.acked]
        for envelope in pending:
            await self._deliver(envelope, connection)
        return [e.envelope_id for e in pending]

    # -- inspection and waiting ----------------------------------------------------------

    def acks_for(self, envelope_id: str) -> list[RecordedAck]:
        return [a for a in self.acks if a.envelope_id == envelope_id]

    async def wait_connected(
        self,
        count: int = 1,
        timeout: float = 5.0,  # noqa: ASYNC109 - a deadline for the wait, part of the API
    ) -> _Connection:
        """Waits until `count` sockets have been greeted and one is open; the current one."""

        def ready() -> bool:
            return sum(c.greeted for c in self.connections) >= count and self.current is not None

        def describe() -> str:
            return f"wanted {count} socket(s) and one open; {self._connections_summary()}"

        await self._wait_until(ready, timeout, describe)
        current = self.current
        assert current is not None
        return current

    async def wait_ack(
        self,
        envelope_id: str,
        count: int = 1,
        timeout: float = 5.0,  # noqa: ASYNC109 - a deadline for the wait, part of the API
    ) -> RecordedAck:
        """Waits for `count` acks of the envelope; the first."""

        def describe() -> str:
            envelope = self.envelopes.get(envelope_id)
            attempts = envelope.attempts if envelope else 0
            return (
                f"wanted {count} ack(s) of envelope {envelope_id} (sent {attempts} time(s)); "
                f"got {len(self.acks_for(envelope_id))}; {self._connections_summary()}"
            )

        await self._wait_until(lambda: len(self.acks_for(envelope_id)) >= count, timeout, describe)
        return self.acks_for(envelope_id)[0]

    async def wait_delivered(
        self,
        envelope_id: str,
        attempts: int,
        timeout: float = 5.0,  # noqa: ASYNC109 - a deadline for the wait, part of the API
    ) -> Envelope:
        """Waits until the envelope was sent `attempts` times."""
        envelope = self.envelopes[envelope_id]
        await self._wait_until(
            lambda: envelope.attempts >= attempts,
            timeout,
            lambda: f"envelope {envelope_id} sent {envelope.attempts} of {attempts} time(s)",
        )
        return envelope

    def _connections_summary(self) -> str:
        opened = len(self.connections)
        open_now = sum(not c.closed for c in self.connections)
        return f"sockets opened: {opened}, open now: {open_now}"

    # -- the socket ------------------------------------------------------------------------

    async def _deliver(self, envelope: Envelope, connection: _Connection) -> None:
        message: dict[str, Any] = {
            "envelope_id": envelope.envelope_id,
            "type": envelope.type,
            "payload": envelope.payload,
            "accepts_response_payload": envelope.accepts_response_payload,
        }
        if envelope.type == "events_api":
            message["retry_attempt"] = envelope.attempts
            message["retry_reason"] = "timeout" if envelope.attempts else ""
        elif envelope.attempts:
            message["retry_attempt"] = envelope.attempts
            message["retry_reason"] = "timeout"
        envelope.sent_at.append(time.monotonic())
        envelope.connections.append(connection.number)
        await self._send_json(connection, message)
        await self._notify()

    async def _send_json(self, connection: _Connection, message: dict[str, Any]) -> None:
        async with self._send_lock:
            with contextlib.suppress(ConnectionError, RuntimeError):
                await connection.socket.send_str(json.dumps(message))

    async def _handle_socket(self, request: web.Request) -> web.StreamResponse:
        ticket = request.match_info["ticket"]
        if ticket not in self._tickets:
            return web.json_response({"ok": False, "error": "invalid_ticket"}, status=401)
        self._tickets.discard(ticket)
        socket = web.WebSocketResponse(autoping=True)
        await socket.prepare(request)
        connection = _Connection(len(self.connections) + 1, socket, request.transport)
        self.connections.append(connection)
        hello = {
            "type": "hello",
            "num_connections": sum(not c.closed for c in self.connections),
            "debug_info": {"host": "fake", "approximate_connection_time": 3600},
            "connection_info": {"app_id": APP_ID},
        }
        await self._send_json(connection, hello)
        connection.greeted = True
        # As Slack does: what the app has not acknowledged comes again on its new socket.
        for envelope in [e for e in self.envelopes.values() if not e.acked]:
            await self._deliver(envelope, connection)
        await self._notify()
        try:
            async for message in socket:
                if message.type == aiohttp.WSMsgType.TEXT:
                    await self._received(connection, message.data)
        finally:
            connection.closed = True
            await self._notify()
        return socket

    async def _received(self, connection: _Connection, text: str) -> None:
        try:
            message = json.loads(text)
        except ValueError:
            message = {"unparsed": text}
        if not isinstance(message, dict) or "envelope_id" not in message:
            self.messages.append(message if isinstance(message, dict) else {"value": message})
            return
        envelope_id = str(message["envelope_id"])
        if self._lose_next_acks:
            self._lose_next_acks -= 1
            self.lost_acks.append(envelope_id)
            connection.closed = True
            await connection.socket.close(code=aiohttp.WSCloseCode.GOING_AWAY)
            await self._notify()
            return
        envelope = self.envelopes.get(envelope_id)
        now = time.monotonic()
        seconds = now - envelope.sent_at[-1] if envelope and envelope.sent_at else 0.0
        payload = message.get("payload")
        self.acks.append(
            RecordedAck(
                envelope_id,
                payload if isinstance(payload, dict) else None,
                connection.number,
                seconds,
            )
        )
        if envelope is not None and envelope.acked_at is None:
            envelope.acked_at = now
        await self._notify()
