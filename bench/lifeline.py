"""Lets a benchmark child server stop when the benchmark that started it goes away."""

from __future__ import annotations

import asyncio
import contextlib
import os
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
