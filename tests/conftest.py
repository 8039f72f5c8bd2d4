"""Shared fixtures: a clean environment and the real bot served against loopback fakes."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.testing.local_stack import LocalStack, Transport
from tests.store.databases import fresh_postgres_database, postgres_server_url

_CLEARED_PREFIXES = ("SLACK_", "INTERCOM_", "HITL_", "LOG_")
_CLEARED_NAMES = ("DATABASE_URL", "HOST", "PORT")


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No test sees the developer's settings or `.env`."""
    for name in list(os.environ):
        cleared = name.startswith(_CLEARED_PREFIXES) or name in _CLEARED_NAMES
        if cleared and name != "HITL_TEST_POSTGRES_URL":
            monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'hitl.db'}"


@pytest.fixture
def transport() -> Transport:
    """How Slack reaches the bot in a test's stacks: HTTP unless the test is marked
    `@over_both_transports` (tests/transports.py)."""
    return "http"


@pytest.fixture
async def stack(sqlite_url: str, transport: Transport) -> AsyncIterator[LocalStack]:
    async with LocalStack(sqlite_url, transport=transport) as running:
        yield running


@pytest.fixture(params=["sqlite", "postgresql"])
async def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    """An empty database of each kind, this test's own (PostgreSQL skips without a server)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'store.db'}"
        return
    async with fresh_postgres_database(postgres_server_url()) as url:
        yield url


@pytest.fixture
async def postgres_url() -> AsyncIterator[str]:
    """An empty PostgreSQL database, this test's own."""
    async with fresh_postgres_database(postgres_server_url()) as url:
        yield url
