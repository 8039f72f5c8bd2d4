"""Store fixtures: every store test runs on SQLite and, when a server is given, PostgreSQL."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from bot.store import SqlStore


@pytest.fixture
async def store(database_url: str) -> AsyncIterator[SqlStore]:
    opened = await SqlStore.open(database_url)
    try:
        yield opened
    finally:
        await opened.close()
