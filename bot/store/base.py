"""What the store's parts share: the database, and how their transactions are run on it."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from sqlalchemy import Connection

from bot.store.database import Database

T = TypeVar("T")


class StoreBase:
    """Each method's transaction is a plain synchronous function of a `Connection`, run
    whole by the `Database` (see bot/store/database.py for why)."""

    def __init__(self, database: Database, *, urgent: bool = True) -> None:
        self._db = database
        self._dialect = database.dialect
        # Whether a request waits on this store's transactions (on SQLite they then go
        # ahead of the worker's).
        self._urgent = urgent

    async def _write(self, work: Callable[[Connection], T], *, urgent: bool = False) -> T:
        return await self._db.write(work, urgent=urgent or self._urgent)

    async def _read(self, work: Callable[[Connection], T]) -> T:
        return await self._db.read(work, urgent=self._urgent)
