"""`@over_both_transports`: a test runs once with Slack reaching the bot over HTTP
(`POST /slack/events`) and once over Socket Mode, through the same driver calls.

It parametrises the `transport` fixture (tests/conftest.py), which every stack fixture
passes to LocalStack; a test building its own stack takes `transport` as an argument.
"""

from __future__ import annotations

import pytest

TRANSPORTS = ("http", "socket")

over_both_transports = pytest.mark.parametrize("transport", TRANSPORTS)
