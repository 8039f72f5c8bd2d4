"""Store fixtures: every store test runs on SQLite and, when a server is given, PostgreSQL."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from bot.store import SqlStore

from .databases import opened_store


@pytest.fixture
async def store(database_url: str) -> AsyncIterator[SqlStore]:
    async with opened_store(database_url) as opened:
        yield opened
