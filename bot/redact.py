"""Secret values kept out of everything the bot writes: log lines, and all it sends to Slack.

An error message from Intercom may echo the request, bearer token included; a library may
print a URL with a password in it. Whatever the source, a configured secret is replaced
by `[redacted]` before it leaves the process.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

REDACTED = "[redacted]"
# Short values would redact innocent text; real secrets are long.
_SHORTEST_SECRET = 8


class Redactor:
    def __init__(self, secrets: Iterable[str]) -> None:
        # Longest first, so a secret that contains another is replaced whole.
        self._secrets = sorted(
            {s for s in secrets if len(s) >= _SHORTEST_SECRET}, key=len, reverse=True
        )

    def text(self, text: str) -> str:
        for secret in self._secrets:
            if secret in text:
                text = text.replace(secret, REDACTED)
        return text

    def deep(self, value: Any) -> Any:
        """`value` with every string in it (dict values, list items) redacted."""
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, dict):
            return {key: self.deep(item) for key, item in value.items()}
        if isinstance(value, list | tuple):
            return [self.deep(item) for item in value]
        return value


NO_SECRETS = Redactor(())
