"""Text from outside (Intercom's payloads, Slack submissions) made safe to store and show.

JSON can carry a lone UTF-16 surrogate (`"\\ud83d"`, what a JavaScript-truncated emoji
becomes); Python holds it, but no UTF-8 store or HTTP body can encode it. It becomes the
replacement character at the edge, before anything else sees the text.
"""

from __future__ import annotations

import re

_LONE_SURROGATE = re.compile(r"[\ud800-\udfff]")
REPLACEMENT = "\ufffd"


def storable(text: str) -> str:
    """`text` with every lone surrogate replaced by U+FFFD (unchanged when it has none)."""
    if text.isascii():
        return text
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return _LONE_SURROGATE.sub(REPLACEMENT, text)
    return text
