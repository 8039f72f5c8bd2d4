"""Serves the app until SIGTERM/SIGINT, then drains: /healthz turns 503, the listener closes,
in-flight jobs get a bounded time to finish, and the process exits 0."""

from __future__ import annotations

import asyncio
import gc
import logging
import signal
import sys

from bot.app import DRAINING, create_app
from bot.listener import Listener
from bot.settings import Settings
from bot.socket_mode import SocketModeRefused

log = logging.getLogger(__name__)


async def serve(settings: Settings) -> None:
    app = create_app(settings)
    listener = Listener(
        app,
        settings.host,
        settings.port,
        max_connections=settings.hitl_max_connections,
        header_timeout=settings.hitl_header_timeout,
        reuse_port=settings.hitl_reuse_port,
    )
    try:
        port = await listener.start()
    except SocketModeRefused:
        await listener.stop()  # stops what had started: the worker, the store
        raise
    # Everything built at start (modules, the app, the store) will live as long as the
    # process: out of the collector's sight, a full collection no longer walks it all and
    # stalls every request meanwhile (webhook ack p99 in `make bench`: 80-108 ms before,
    # 30-48 ms after).
    gc.freeze()
    log.info(
        "serving",
        extra={"host": settings.host, "port": port, "max_connections": listener.max_connections},
    )

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    await stop.wait()

    app[DRAINING].started = True
    log.info("stopping: draining", extra={"drain_seconds": settings.hitl_drain_seconds})
    if settings.hitl_drain_seconds:
        await asyncio.sleep(settings.hitl_drain_seconds)
    # Closes the listener, then runs the cleanup context: the worker finishes what it holds.
    await listener.stop()
    log.info("stopped")


def run(settings: Settings) -> int:
    """Serves until stopped: 0; 2 when Slack refuses the app token at start (one line)."""
    try:
        asyncio.run(serve(settings))
    except SocketModeRefused as exc:
        print(f"configuration error: SLACK_APP_TOKEN: {exc}", file=sys.stderr)
        return 2
    return 0
