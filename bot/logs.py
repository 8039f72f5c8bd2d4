"""Log set-up: one line per event, JSON (`LOG_FORMAT=json`) or text, secrets scrubbed.

Events carry their ids (step_id, conversation_id, …) as `extra=` fields; every line passes
through a filter that replaces any configured secret value with `[redacted]`, so a token
can never reach the logs even from a library's error message.
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from bot.redact import REDACTED, Redactor

# Attributes every LogRecord has; anything else on a record came in through `extra=`.
_STANDARD = frozenset(logging.makeLogRecord({}).__dict__) | {"message", "asctime", "taskName"}
# Signature headers may appear in a library's debug output of a request.
_SENSITIVE_KEYS = ("authorization", "x-hub-signature", "x-slack-signature", "token", "secret")


def event_fields(record: logging.LogRecord) -> dict[str, Any]:
    return {
        k: v for k, v in record.__dict__.items() if k not in _STANDARD and not k.startswith("_")
    }


class SecretScrubber(logging.Filter):
    """Replaces known secret values (and fields named like secrets) on every record."""

    def __init__(self, secrets: Iterable[str]) -> None:
        super().__init__()
        self._redactor = Redactor(secrets)

    def scrub(self, text: str) -> str:
        return self._redactor.text(text)

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = self.scrub(record.getMessage())
        record.args = None
        if record.exc_info and record.exc_info[1] is not None:
            record.exc_text = self.scrub(logging.Formatter().formatException(record.exc_info))
            record.exc_info = None
        for key, value in event_fields(record).items():
            if any(word in key.lower() for word in _SENSITIVE_KEYS) and key != "token_hint":
                setattr(record, key, REDACTED)
            elif isinstance(value, str):
                setattr(record, key, self.scrub(value))
        return True


# One event is one line, whatever text it carries (a peer's error message, a forged
# request): newlines and other control characters are written as escapes, and each value
# and the whole line are cut to these lengths.
MAX_VALUE_CHARS = 2_000
MAX_LINE_CHARS = 8_000
_CONTROL = {code: f"\\x{code:02x}" for code in (*range(0x20), 0x7F)} | {
    0x0A: "\\n",
    0x0D: "\\r",
    0x09: "\\t",
}


def _bounded(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    return f"{text[:limit]}…[+{len(text) - limit} chars]"


def one_line(value: object, limit: int = MAX_VALUE_CHARS) -> str:
    """`value` as text on one line, at most about `limit` characters."""
    return _bounded(str(value), limit).translate(_CONTROL)


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "event": _bounded(record.getMessage(), MAX_VALUE_CHARS),
        }
        for key, value in event_fields(record).items():
            is_plain = value is None or isinstance(value, bool | int | float)
            line[key] = value if is_plain else _bounded(str(value), MAX_VALUE_CHARS)
        if record.exc_text:
            line["exception"] = _bounded(record.exc_text, MAX_LINE_CHARS)
        # json.dumps escapes newlines and control characters: one line.
        return _bounded(json.dumps(line, default=str, ensure_ascii=False), MAX_LINE_CHARS * 2)


class TextFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        stamp = datetime.fromtimestamp(record.created, UTC).strftime("%H:%M:%S")
        fields = " ".join(f"{k}={one_line(v)}" for k, v in event_fields(record).items())
        text = f"{stamp} {record.levelname:<7} {record.name}: {one_line(record.getMessage())}"
        if fields:
            text += f"  {fields}"
        if record.exc_text:
            text += "  exception=" + one_line(record.exc_text, MAX_LINE_CHARS)
        return _bounded(text, MAX_LINE_CHARS * 2)


def configure_logging(level: str, fmt: str, secrets: Iterable[str]) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    handler.addFilter(SecretScrubber(secrets))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # aiohttp's access log is one line per request: noise at INFO for a webhook receiver.
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)
