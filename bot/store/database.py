"""How a store transaction runs on each backend: the store writes plain synchronous
SQLAlchemy Core against a `Connection`, and a `Database` runs it in one transaction.

SQLite runs on one dedicated thread with the standard library driver, so a transaction is
one hand-off between the event loop and that thread, whatever its number of statements.
(Through aiosqlite every statement cost 3 to 5 hand-offs of about 70 µs of CPU each on the
2-core benchmark machine; that was most of the cost of storing a webhook.) One thread and
one connection also mean our own transactions never wait on each other's locks.

PostgreSQL runs through asyncpg on the event loop: its statements are awaited without any
thread, so the same synchronous code runs under SQLAlchemy's `run_sync`.
The webhook's batch, one statement, skips SQLAlchemy there too and goes alone through
an asyncpg connection of its own (`PostgresDatabase.statement`).

Urgent work (a request is waiting to be answered) jumps SQLite's queue ahead of the
worker's background jobs, so a busy worker never delays a webhook's acknowledgement.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import math
import queue
import sqlite3
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar

import asyncpg
from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.util import await_

T = TypeVar("T")
Work = Callable[[Connection], T]

# Marks read-only work: on SQLite it starts a deferred transaction, which in WAL mode
# neither takes nor waits for the write lock another process may hold.
_READ_ONLY = "hitl_read_only"
_WAL_SWITCH_SECONDS = 5.0


class Database(Protocol):
    dialect: str
    # How many write transactions are worth running at once: more only queue.
    write_concurrency: int

    async def write(self, work: Work[T], *, urgent: bool = False) -> T:
        """Runs `work` in a transaction that commits when it returns (rolls back if it raises).

        `urgent`: someone is waiting for this to answer a request; it goes first where
        transactions queue (SQLite), ahead of the worker's.
        """
        ...

    async def read(self, work: Work[T], *, urgent: bool = False) -> T:
        """Runs read-only `work`; nothing it does is committed."""
        ...

    async def close(self) -> None: ...


def open_database(database_url: str) -> Database:
    """The backend for the operator's DATABASE_URL; connections open lazily."""
    if database_url.startswith("sqlite:///"):
        return SqliteDatabase(database_url)
    for prefix in ("postgresql://", "postgres://"):
        if database_url.startswith(prefix):
            return PostgresDatabase("postgresql+asyncpg://" + database_url.removeprefix(prefix))
    raise ValueError("DATABASE_URL must start with sqlite:/// or postgresql://")


class SqliteDatabase:
    dialect = "sqlite"
    write_concurrency = 1  # one connection on one thread

    def __init__(self, database_url: str) -> None:
        # One connection, only ever used on the store's own thread.
        self._engine = create_engine(make_url(database_url), pool_size=1, max_overflow=0)
        _tune_sqlite(self._engine)
        self._thread = _PriorityThread("sqlite")
        # Held for the thread's lifetime rather than checked out of the pool for each
        # transaction: the checkout, the reset on check-in and their events cost ~85 µs
        # of CPU per transaction (a third of storing a lone webhook).
        self._conn: Connection | None = None

    async def write(self, work: Work[T], *, urgent: bool = False) -> T:
        return await self._thread.run(self._write, work, urgent=urgent)

    async def read(self, work: Work[T], *, urgent: bool = False) -> T:
        return await self._thread.run(self._read, work, urgent=urgent)

    async def close(self) -> None:
        # Queued behind whatever is still waiting, so nothing is cut short.
        await self._thread.run(self._dispose, urgent=False)
        self._thread.stop()

    def _dispose(self) -> None:
        if self._conn is not None:
            self._conn.close()
        self._engine.dispose()

    async def write_driver(
        self, work: Callable[[sqlite3.Connection], T], *, urgent: bool = False
    ) -> T:
        """As `write`, for work written against the driver's own connection (the webhook's
        batch of new steps): its BEGIN IMMEDIATE and COMMIT skip SQLAlchemy's transaction
        and its events, which cost more CPU than the batch's statements."""
        return await self._thread.run(self._write_driver, work, urgent=urgent)

    def _held(self) -> Connection:
        if self._conn is not None and self._conn.invalidated:
            self._conn.close()  # lost (an I/O error, say): the next transaction gets a new one
        if self._conn is None or self._conn.closed:
            self._conn = self._engine.connect()
        return self._conn

    def _connection(self, read_only: bool) -> Connection:
        # Read by _on_begin: this transaction's BEGIN is deferred or IMMEDIATE.
        return self._held().execution_options(**{_READ_ONLY: read_only})

    def _write(self, work: Work[T]) -> T:
        conn = self._connection(read_only=False)
        with conn.begin():
            return work(conn)

    def _write_driver(self, work: Callable[[sqlite3.Connection], T]) -> T:
        driver = self._held().connection.driver_connection
        assert isinstance(driver, sqlite3.Connection)
        driver.execute("BEGIN IMMEDIATE")
        try:
            result = work(driver)
            driver.execute("COMMIT")
        except BaseException:
            if driver.in_transaction:
                driver.execute("ROLLBACK")
            raise
        return result

    def _read(self, work: Work[T]) -> T:
        conn = self._connection(read_only=True)
        transaction = conn.begin()
        try:
            return work(conn)
        finally:
            transaction.rollback()  # read-only: nothing it did is kept


class _PriorityThread:
    """One thread running calls one at a time: urgent ones (a request waits for its
    answer) before the rest (the worker's jobs), each kind in arrival order.

    A cancelled caller does not stop a call already queued: a transaction commits or rolls
    back whole, as it would had the process stopped there.
    """

    def __init__(self, name: str) -> None:
        self._queue: queue.PriorityQueue[_Call] = queue.PriorityQueue()
        self._order = itertools.count()
        self._thread = threading.Thread(target=self._serve, name=name, daemon=True)
        self._thread.start()
        self._stopped = False

    async def run(self, function: Callable[..., T], *args: Any, urgent: bool) -> T:
        # Once stopped, nothing would ever answer: say so rather than wait forever.
        if self._stopped:
            raise RuntimeError("the store is closed")
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()
        self._queue.put(_Call(0 if urgent else 1, next(self._order), function, args, future))
        return await future

    def stop(self) -> None:
        self._stopped = True
        self._queue.put(_Call(2, next(self._order), None, (), None))

    def _serve(self) -> None:
        while True:
            call = self._queue.get()
            if call.function is None or call.future is None:
                return
            try:
                result = call.function(*call.args)
            except BaseException as exc:  # handed to the caller, whatever it is
                _answer(call.future, _set_exception, exc)
            else:
                _answer(call.future, _set_result, result)


def _answer(future: asyncio.Future[Any], setter: Callable[..., None], value: Any) -> None:
    # RuntimeError: the event loop has closed, so nobody is waiting any more.
    with contextlib.suppress(RuntimeError):
        future.get_loop().call_soon_threadsafe(setter, future, value)


@dataclass(order=True)
class _Call:
    priority: int
    order: int
    function: Callable[..., Any] | None = field(compare=False)
    args: tuple[Any, ...] = field(compare=False)
    future: asyncio.Future[Any] | None = field(compare=False)


def _set_result(future: asyncio.Future[Any], result: Any) -> None:
    if not future.done():  # the caller may have been cancelled meanwhile
        future.set_result(result)


def _set_exception(future: asyncio.Future[Any], exc: BaseException) -> None:
    if not future.done():
        future.set_exception(exc)


class PostgresDatabase:
    dialect = "postgresql"
    # One webhook batch at a time, as on SQLite: the next batch grows while this one's
    # round trip runs, and a batch's fixed cost (about 100 µs of the bot's CPU, and a
    # commit on the server) is shared by more steps. Paired against 3 in flight, 4 rounds
    # of 6,000 webhooks: 0.46x against 0.41x the bare receiver, 115-120 against 135-145 µs
    # of CPU per webhook, ack p99 9.2-15.3 against 9.9-11.7 ms (2 in flight fell between).
    write_concurrency = 1

    def __init__(self, async_url: str) -> None:
        self._engine: AsyncEngine = create_async_engine(async_url, pool_size=10, max_overflow=10)
        for name, listener in _POOL_LISTENERS.items():
            event.listen(self._engine.sync_engine, name, listener)
        # The same pool, its connections in autocommit while they read.
        self._reads = self._engine.execution_options(isolation_level="AUTOCOMMIT")
        self._statements: asyncpg.Connection | None = None
        self._statements_turn = asyncio.Lock()  # one statement at a time on it

    # Each transaction has its own pooled connection here, so none queues behind another.
    async def write(self, work: Work[T], *, urgent: bool = False) -> T:
        async with self._engine.begin() as conn:
            return await conn.run_sync(work)

    async def read(self, work: Work[T], *, urgent: bool = False) -> T:
        # Each statement alone, without BEGIN and ROLLBACK around it: two round trips
        # fewer on a click's path, and the same snapshots as READ COMMITTED gives
        # statements inside a transaction.
        async with self._reads.connect() as conn:
            return await conn.run_sync(work)

    async def statement(self, sql: str, *args: Any) -> list[Any]:
        """Runs one statement alone, which PostgreSQL makes a transaction of its own, and
        returns its rows: for the webhook's batch of new steps, one round trip where a
        pooled SQLAlchemy transaction costs three or four (BEGIN, the statement, COMMIT,
        and a ping after an idle spell) and a third of the webhook's CPU in its own code.

        It runs on one asyncpg connection of its own, one statement at a time (the
        intake sends one batch at a time anyway): asyncpg's pool, even unreset, cost a
        batch of 12 about 90 µs more CPU than the statement itself on that connection
        (210 against 120 µs). A connection found dead (the server restarted, say) is
        dropped and the statement sent once more on a new one, so only idempotent
        statements belong here; a statement abandoned half way (its caller cancelled)
        drops the connection too, as its answer may still be on the wire.
        """
        async with self._statements_turn:
            try:
                return await self._fetch(sql, args)
            except _CONNECTION_LOST:
                return await self._fetch(sql, args)  # on a new connection

    async def _fetch(self, sql: str, args: tuple[Any, ...]) -> list[Any]:
        connection = self._statements or await self._connect_statements()
        try:
            rows: list[Any] = await connection.fetch(sql, *args)
        except asyncpg.PostgresError as exc:
            if isinstance(exc, _CONNECTION_LOST):
                self._drop_statements()
            raise  # otherwise the server refused the statement: the connection is fine
        except BaseException:
            # Lost (the socket closed) or abandoned half way (its caller was cancelled):
            # the answer may still be on the wire, so the connection is not used again.
            self._drop_statements()
            raise
        return rows

    async def _connect_statements(self) -> asyncpg.Connection:
        # The engine's own URL, read as SQLAlchemy reads it for asyncpg.
        args, options = self._engine.dialect.create_connect_args(self._engine.url)
        self._statements = await asyncpg.connect(*args, **options)
        return self._statements

    def _drop_statements(self) -> None:
        if self._statements is not None:
            self._statements.terminate()
            self._statements = None

    async def close(self) -> None:
        async with self._statements_turn:
            if self._statements is not None:
                await self._statements.close()
                self._statements = None
        await self._engine.dispose()


# A connection back in the pool for less than this is used without a ping, as HikariCP
# does (its aliveBypassWindowMs, 500 ms by default): it answered moments ago, and a
# server that restarted takes longer than that to come back.
PING_AFTER_IDLE_SECONDS = 0.5
_RETURNED_AT = "hitl_returned_at"


def _returned(_dbapi_connection: Any, record: Any, *_: Any) -> None:
    record.info[_RETURNED_AT] = time.monotonic()


def _ping_if_idle(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
    """Finds a pooled connection the server dropped (a restart, say) before a transaction
    uses it: the pool then replaces it, so a teammate's click never fails on it.

    SQLAlchemy's own pre-ping wraps its ping in BEGIN and ROLLBACK (for pgbouncer), three
    round trips before every transaction; one is enough, and none for a connection that
    was in use a moment ago.
    """
    idle = time.monotonic() - record.info.get(_RETURNED_AT, -math.inf)
    if idle < PING_AFTER_IDLE_SECONDS:
        return
    try:
        await_(dbapi_connection.driver_connection.fetchrow(";"))
    except Exception as exc:
        raise DisconnectionError("the pooled connection failed its ping") from exc


# New connections count as just returned: they have only now answered.
_POOL_LISTENERS: dict[str, Callable[..., None]] = {
    "connect": _returned,
    "checkin": _returned,
    "checkout": _ping_if_idle,
}


# How a connection reports that it died under a statement: the socket closed, the server
# said it ends the session (a restart, pg_terminate_backend), or, when that notice comes
# in while the statement is being sent, the client's protocol finds itself mid-operation
# (seen in 3 of 5 tries).
_CONNECTION_LOST = (
    OSError,
    asyncpg.PostgresConnectionError,
    asyncpg.OperatorInterventionError,
    asyncpg.InterfaceError,
    asyncpg.InternalClientError,
)


def _tune_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Take transaction control from the driver so every transaction can BEGIN IMMEDIATE.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        # busy_timeout covers a second process on the same file. WAL + NORMAL: a commit
        # survives a killed process (not a power cut) at far less fsync cost.
        cursor.execute("PRAGMA busy_timeout=5000")
        _use_wal(cursor)
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        # Take the write lock up front: a deferred transaction that later writes can fail
        # at once with SQLITE_BUSY when another process holds the lock. Reads need no lock
        # in WAL mode and stay deferred.
        if conn.get_execution_options().get(_READ_ONLY):
            conn.exec_driver_sql("BEGIN")
        else:
            conn.exec_driver_sql("BEGIN IMMEDIATE")


def _use_wal(cursor: Any) -> None:
    """Puts the file in WAL mode (it stays so), once. Switching needs the file to itself
    and SQLite does not wait for that under busy_timeout: instances opening a new file
    together retry for a few seconds instead of failing (seen: 1 start in 10)."""
    deadline = time.monotonic() + _WAL_SWITCH_SECONDS
    while True:
        try:
            cursor.execute("PRAGMA journal_mode=WAL")
            return  # WAL, or a file that cannot be (an in-memory one): nothing to wait for
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
        time.sleep(0.01)
