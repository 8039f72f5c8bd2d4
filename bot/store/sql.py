"""The SQL store (SQLite or PostgreSQL through SQLAlchemy Core) over one database, migrated
at start by Alembic: step rows and their transitions (bot/store/steps.py), working a step
(bot/store/working.py), the lists' reads (bot/store/lists.py), the job queue
(bot/store/jobs.py).

Every state change and the jobs it causes are written in one transaction (a transactional
outbox), so a crash can never leave a change without the work that must follow it.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection

from bot.store.database import open_database
from bot.store.jobs import JobRows
from bot.store.lists import ListReads
from bot.store.steps import StepRows
from bot.store.working import WorkingRows

T = TypeVar("T")

_MIGRATIONS = Path(__file__).parent / "migrations"
# Any fixed number works; it only has to be the same for every instance.
_MIGRATION_LOCK_KEY = 0x48_49_54_4C


class SqlStore(StepRows, WorkingRows, ListReads, JobRows):
    """One interface over SQLite (embedded default) and PostgreSQL (several instances)."""

    @property
    def write_concurrency(self) -> int:
        """How many write transactions are worth running at once on this backend."""
        return self._db.write_concurrency

    def background(self) -> SqlStore:
        """This store for the worker: on SQLite its transactions queue behind those of
        requests waiting for an answer (webhooks, clicks, submissions, /hitl)."""
        return SqlStore(self._db, urgent=False)

    @classmethod
    def connect(cls, database_url: str) -> SqlStore:
        """A store whose connections open lazily; call `migrate()` before use."""
        return cls(open_database(database_url))

    @classmethod
    async def open(cls, database_url: str) -> SqlStore:
        """Connects and migrates to the newest schema."""
        store = cls.connect(database_url)
        try:
            await store.migrate()
        except BaseException:
            await store.close()
            raise
        return store

    async def close(self) -> None:
        await self._db.close()

    async def migrate(self) -> None:
        def work(conn: Connection) -> None:
            if self._dialect == "postgresql":
                # Instances starting together must not race each other's CREATE TABLE.
                conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock({_MIGRATION_LOCK_KEY})")
            _upgrade_to_head(conn)

        await self._write(work)

    async def run_in_transaction(self, work: Callable[[Connection], T]) -> T:
        """Runs `work` in one write transaction: for tools (the benchmark's bulk loads)."""
        return await self._write(work)


def _upgrade_to_head(connection: Connection) -> None:
    config = Config()
    config.set_main_option("script_location", str(_MIGRATIONS))
    config.attributes["connection"] = connection
    command.upgrade(config, "head")
