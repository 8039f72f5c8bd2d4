"""The one error tree for work done against Slack and Intercom.

`Retryable`: time may fix it (a network error, a 429 or 5xx, a bot not yet invited): the
worker runs the job again, after `retry_after` seconds when the peer said so, until the
job kind's deadline. `Permanent`: trying again will not help; the job ends, and says why.
Each boundary translates its own failures into these (`raise … from exc`), so job
handlers and the worker know nothing of HTTP status codes or Slack error strings.
"""

from __future__ import annotations


class BotError(Exception):
    """A failure worth one plain line: `reason` says what happened."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class Retryable(BotError):
    def __init__(self, reason: str, *, retry_after: float | None = None) -> None:
        super().__init__(reason)
        self.retry_after = retry_after


class Permanent(BotError):
    pass
