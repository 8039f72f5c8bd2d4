"""The bot's TCP listener and what it will hold open for a client: a connection cap, a
deadline for the request's headers and for its body, and the process's descriptor limit.

Without them, 1,100 connections that never finish their headers take every descriptor of
a 1,024-descriptor process and stall `/healthz` and every webhook for an hour. With them:
- headers (and an idle keep-alive connection) get `header_timeout` seconds;
- a body gets `body_timeout` seconds to arrive (`read_body`, 408 after that);
- at the cap, the longest-open connection with no request in progress is closed to make
  room, so clients that send a request at once (Intercom, Slack, a load balancer) are
  served while slow ones churn; only when every connection is mid-request is the new one
  answered 503; either way a log line, at most one a second.
"""

from __future__ import annotations

import asyncio
import logging
import resource
import time
from typing import Any

from aiohttp import web
from aiohttp.web_protocol import RequestHandler

log = logging.getLogger(__name__)

DEFAULT_HEADER_TIMEOUT_SECONDS = 10.0
DEFAULT_BODY_TIMEOUT_SECONDS = 10.0
DEFAULT_MAX_CONNECTIONS = 1000
# Descriptors kept for everything else: the database, Slack's and Intercom's connections,
# log files, the event loop's own.
_RESERVED_DESCRIPTORS = 128
_REFUSED_LOG_INTERVAL_SECONDS = 1.0
_SERVICE_UNAVAILABLE = (
    b"HTTP/1.1 503 Service Unavailable\r\nConnection: close\r\nContent-Length: 0\r\n\r\n"
)


def raise_descriptor_limit() -> int:
    """Raises the soft limit on open descriptors to the hard limit; the limit now held."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and soft < hard:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
            soft = hard
        except (ValueError, OSError):
            log.warning("could not raise the open-descriptor limit", extra={"limit": soft})
    return soft


def connection_cap(wanted: int, descriptor_limit: int) -> int:
    """At most `wanted`, and never so many that the process runs out of descriptors."""
    return max(1, min(wanted, descriptor_limit - _RESERVED_DESCRIPTORS))


class _Connections:
    """Admits connections up to the cap, evicting idle ones first."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._open: dict[RequestHandler, None] = {}  # in order of arrival
        self._last_refusal_log = -float("inf")
        self._refused_since_log = 0

    def admit(self, handler: RequestHandler, transport: asyncio.Transport) -> bool:
        if len(self._open) >= self.limit and not self._evict_idle():
            self._refuse(transport)
            return False
        self._open[handler] = None
        return True

    def lost(self, handler: RequestHandler) -> None:
        self._open.pop(handler, None)

    def _evict_idle(self) -> bool:
        for handler in self._open:
            # A connection with a request in progress is never the one evicted: aiohttp's
            # own flag (test_at_the_cap_a_request_in_progress_is_never_the_one_closed).
            if not handler._request_in_progress:
                del self._open[handler]
                handler.force_close()
                self._note("connection cap reached; closed the oldest idle connection")
                return True
        return False

    def _refuse(self, transport: asyncio.Transport) -> None:
        transport.write(_SERVICE_UNAVAILABLE)
        transport.close()
        self._note("connection cap reached and every connection is busy; refused one")

    def _note(self, event: str) -> None:
        self._refused_since_log += 1
        now = time.monotonic()
        if now - self._last_refusal_log >= _REFUSED_LOG_INTERVAL_SECONDS:
            log.warning(event, extra={"cap": self.limit, "times": self._refused_since_log})
            self._last_refusal_log = now
            self._refused_since_log = 0


class _Runner(web.AppRunner):
    def __init__(self, app: web.Application, *, max_connections: int, **kwargs: Any) -> None:
        super().__init__(app, **kwargs)
        self.connections = _Connections(max_connections)

    async def _make_server(self) -> web.Server:
        server = await super()._make_server()
        connections = self.connections
        made, lost = server.connection_made, server.connection_lost

        # aiohttp has no connection cap of its own: the server's two hooks are wrapped.
        def connection_made(handler: RequestHandler, transport: asyncio.Transport) -> None:
            if connections.admit(handler, transport):
                made(handler, transport)

        def connection_lost(handler: RequestHandler, exc: BaseException | None = None) -> None:
            connections.lost(handler)
            lost(handler, exc)

        server.connection_made = connection_made  # type: ignore[method-assign]
        server.connection_lost = connection_lost  # type: ignore[method-assign]
        return server


class Listener:
    """Serves `app` on `host:port` with the limits above; `port` 0 picks a free one."""

    def __init__(
        self,
        app: web.Application,
        host: str,
        port: int,
        *,
        max_connections: int = DEFAULT_MAX_CONNECTIONS,
        header_timeout: float = DEFAULT_HEADER_TIMEOUT_SECONDS,
        reuse_port: bool = False,
    ) -> None:
        self._host, self._port = host, port
        self._reuse_port = reuse_port
        cap = connection_cap(max_connections, raise_descriptor_limit())
        # aiohttp's keep-alive timeout closes a connection that is idle or still sending
        # its headers: the header deadline (its default is an hour).
        self._runner = _Runner(
            app,
            max_connections=cap,
            access_log=None,
            handle_signals=False,
            keepalive_timeout=header_timeout,
        )
        self.max_connections = cap

    async def start(self) -> int:
        """Starts listening; the port it listens on."""
        await self._runner.setup()
        # SO_REUSEPORT: several processes listen on one port, the kernel spreads new
        # connections among them (HITL_REUSE_PORT; one process per core on PostgreSQL).
        site = web.TCPSite(
            self._runner, self._host, self._port, reuse_port=self._reuse_port or None
        )
        await site.start()
        port: int = self._runner.addresses[0][1]
        return port

    async def stop(self) -> None:
        """Stops listening, then runs the app's cleanup (its worker, its store)."""
        await self._runner.cleanup()


async def read_body(request: web.Request, limit: int, seconds: float) -> bytes:
    """The request's body, at most `limit` bytes, arriving within `seconds`.

    Raises web.HTTPRequestEntityTooLarge (413) or web.HTTPRequestTimeout (408).
    """
    if request.content_length is not None and request.content_length > limit:
        raise web.HTTPRequestEntityTooLarge(max_size=limit, actual_size=request.content_length)
    if request.content_length is not None and request.content.is_eof():
        # All of it (no more than the limit, checked above) came with the headers, the
        # usual case for a webhook: nothing to wait for, so no deadline to set.
        return await request.read()
    chunks: list[bytes] = []
    size = 0
    try:
        async with asyncio.timeout(seconds):
            async for chunk in request.content.iter_chunked(64 * 1024):
                size += len(chunk)
                if size > limit:
                    raise web.HTTPRequestEntityTooLarge(max_size=limit, actual_size=size)
                chunks.append(chunk)
    except TimeoutError:
        raise web.HTTPRequestTimeout(text="the request body did not arrive in time") from None
    return b"".join(chunks)
