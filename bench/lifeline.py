"""Lets a benchmark child server stop when told to, or when the benchmark that started it
goes away."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
import threading


def stop_when_stdin_closes(loop: asyncio.AbstractEventLoop, stop: asyncio.Event) -> None:
    """The benchmark keeps our stdin open as a pipe; EOF on it means it has gone."""
    if sys.stdin is None or sys.stdin.isatty():
        return

    def watch() -> None:
        # os.read, not sys.stdin: a daemon thread must not hold the buffered reader's lock
        # while the interpreter shuts down.
        with contextlib.suppress(OSError):
            while os.read(0, 4096):
                pass
        with contextlib.suppress(RuntimeError):  # the loop already closed: we are exiting
            loop.call_soon_threadsafe(stop.set)

    threading.Thread(target=watch, daemon=True).start()


async def wait_for_stop() -> None:
    """Returns on SIGTERM, SIGINT, or when the benchmark that started us has gone."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    stop_when_stdin_closes(loop, stop)
    await stop.wait()
