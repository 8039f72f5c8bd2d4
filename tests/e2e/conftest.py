"""End-to-end fixtures: the stack with Intercom's real API origins allowed as well."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from bot.fakes.local_stack import LocalStack
from bot.settings import DEFAULT_INTERCOM_API_ORIGINS


class ProductionOriginsStack(LocalStack):
    """Allows Intercom's own API origins next to the fake's, as a deployed bot does.

    Steps whose callback_url is on a real Intercom host may be received and posted here,
    but never answered: nothing in these tests reaches beyond loopback.
    """

    def settings_values(self) -> dict[str, Any]:
        values = super().settings_values()
        values["intercom_api_origins"] = [self.intercom.origin, *DEFAULT_INTERCOM_API_ORIGINS]
        return values


@pytest.fixture
async def prod_stack(sqlite_url: str) -> AsyncIterator[LocalStack]:
    async with ProductionOriginsStack(sqlite_url) as running:
        yield running
