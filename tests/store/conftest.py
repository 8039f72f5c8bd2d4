"""Store fixtures: every store test runs on SQLite and, when a server is given, PostgreSQL."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from bot.store import SqlStore, database

from .databases import opened_store


@pytest.fixture
async def store(database_url: str) -> AsyncIterator[SqlStore]:
    async with opened_store(database_url) as opened:
        yield opened


@pytest.fixture
def restart_takes(monkeypatch: pytest.MonkeyPatch) -> float:
    """How long a restarted PostgreSQL stays away, in these tests: longer than the pool's
    window in which a connection is used without a ping (shortened here from 0.5 s)."""
    monkeypatch.setattr(database, "PING_AFTER_IDLE_SECONDS", 0.05)
    return 0.1
