"""End-to-end fixtures: the stack with Intercom's real API origins allowed as well."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import urlsplit

import pytest

from bot.settings import DEFAULT_INTERCOM_API_ORIGINS
from bot.testing.local_stack import LocalStack

INTERCOM_API_HOSTS = frozenset(
    urlsplit(origin).hostname or "" for origin in DEFAULT_INTERCOM_API_ORIGINS
)


class ProductionOriginsStack(LocalStack):
    """Allows Intercom's own API origins next to the fake's, as a deployed bot does.

    Requests for those hosts are sent to the fake Intercom on loopback (an httpx transport
    changes only the address), so a step as Intercom sends it can be answered end to end.
    """

    def __init__(self, database_url: str, **options: Any) -> None:
        super().__init__(database_url, intercom_hosts=INTERCOM_API_HOSTS, **options)

    def settings_values(self) -> dict[str, Any]:
        values = super().settings_values()
        values["intercom_api_origins"] = [self.intercom.origin, *DEFAULT_INTERCOM_API_ORIGINS]
        return values


@pytest.fixture
async def prod_stack(sqlite_url: str) -> AsyncIterator[LocalStack]:
    async with ProductionOriginsStack(sqlite_url) as running:
        yield running
