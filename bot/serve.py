"""Serves the app until SIGTERM/SIGINT, then drains: /healthz turns 503, the listener closes,
in-flight jobs get a bounded time to finish, and the process exits 0."""

from __future__ import annotations

import asyncio
import logging
import signal

from bot.app import DRAINING, create_app
from bot.listener import Listener
from bot.settings import Settings

log = logging.getLogger(__name__)


async def serve(settings: Settings) -> None:
    app = create_app(settings)
    listener = Listener(
        app,
        settings.host,
        settings.port,
        max_connections=settings.hitl_max_connections,
        header_timeout=settings.hitl_header_timeout,
    )
    port = await listener.start()
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


def run(settings: Settings) -> None:
    asyncio.run(serve(settings))
