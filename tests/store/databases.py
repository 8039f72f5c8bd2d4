"""Fresh databases for tests: a SQLite file, or a new PostgreSQL database per test."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import pytest

from bot.store import SqlStore

POSTGRES_ENV = "HITL_TEST_POSTGRES_URL"


def postgres_server_url() -> str:
    """The PostgreSQL URL tests may create databases on, or a skip saying how to set it."""
    url = os.environ.get(POSTGRES_ENV, "").strip()
    if not url:
        pytest.skip(
            f"{POSTGRES_ENV} is not set: PostgreSQL tests need a server to create "
            "databases on, e.g. postgresql://postgres@127.0.0.1:5432/test"
        )
    return url


def _with_database(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, f"/{name}", parts.query, ""))


def _asyncpg_dsn(url: str) -> str:
    # asyncpg knows postgresql:// and postgres://; SQLAlchemy-style +driver suffixes go.
    scheme, _, rest = url.partition("://")
    return f"{scheme.split('+')[0]}://{rest}"


@asynccontextmanager
async def fresh_postgres_database(server_url: str) -> AsyncIterator[str]:
    """Creates an empty database (dropped afterwards) and yields its `postgresql://` URL."""
    name = f"hitl_test_{uuid.uuid4().hex[:16]}"
    admin_dsn = _asyncpg_dsn(_with_database(server_url, "postgres"))
    admin = await asyncpg.connect(admin_dsn)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    try:
        yield _with_database(server_url, name)
    finally:
        admin = await asyncpg.connect(admin_dsn)
        try:
            # FORCE: a killed bot process may still hold connections the server has not
            # noticed are gone.
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await admin.close()


@asynccontextmanager
async def opened_store(database_url: str) -> AsyncIterator[SqlStore]:
    """A store on `database_url`, migrated, closed afterwards."""
    store = await SqlStore.open(database_url)
    try:
        yield store
    finally:
        await store.close()
