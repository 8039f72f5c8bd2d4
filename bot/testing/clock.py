"""A bot clock that runs faster than the wall, for timings measured in a step's lifetime
(escalation at 50 % / 80 % / 95 %, claims of 15 minutes) without waiting them out."""

from __future__ import annotations

import time


class FastClock:
    """`speed` bot seconds pass per real second, from `start` (default: now).

    Only the bot's own times run fast: Slack's signatures keep the wall clock (the app
    checks them against `time.time()`), so requests signed now stay valid.
    """

    def __init__(self, speed: float, start: float | None = None) -> None:
        self.speed = speed
        self._start = time.time() if start is None else start
        self._began = time.monotonic()

    def __call__(self) -> float:
        return self._start + (time.monotonic() - self._began) * self.speed

    def real_seconds(self, bot_seconds: float) -> float:
        """How long `bot_seconds` of the bot's time take on the wall."""
        return bot_seconds / self.speed
