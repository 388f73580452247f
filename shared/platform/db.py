"""Async database access (SQLAlchemy 2): SQLite file by default, PostgreSQL by URL."""

from __future__ import annotations

import asyncio
import datetime as dt
import fcntl
import functools
import os
import zlib
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from enum import StrEnum
from pathlib import Path
from typing import Any, Generic, TypeVar, cast

from sqlalchemy import CursorResult, DateTime, Dialect, MetaData, Result, String, Table, TypeDecorator, event, text
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine

from shared.platform.metrics import DB_COMMITS


class Database:
    """One engine and session factory for one service's database."""

    def __init__(self, url: str, *, service: str = "") -> None:
        self.url = url
        self.is_sqlite = url.startswith("sqlite")
        if self.is_sqlite:
            path = url.split("///", 1)[-1]
            if path and path != ":memory:":
                Path(path).parent.mkdir(parents=True, exist_ok=True)
            # As many pooled connections as messages in hand (prefetch): a connection opened beyond the pool
            # is closed after one use, and for SQLite that is a new thread each time.
            self.engine: AsyncEngine = create_async_engine(
                url, connect_args={"timeout": 30}, pool_size=32, max_overflow=32
            )
            event.listen(self.engine.sync_engine, "connect", _sqlite_pragmas)
        else:
            # Bounded: PostgreSQL serves 100 connections by default, shared by every service (and replica).
            # The pool holds most of them open, because a connection opened beyond it is closed after one use
            # (a new PostgreSQL backend per message under load). No pre-ping: it costs three round trips per
            # checkout (BEGIN; a probe; ROLLBACK); a connection found dead when used fails that one unit of
            # work (its message is redelivered, its HTTP request answered 503) and SQLAlchemy then replaces
            # every connection of the pool that is older than the failure.
            self.engine = create_async_engine(url, pool_size=20, max_overflow=10, pool_recycle=3600)
        self._commits = DB_COMMITS.labels(service) if service else None
        if self._commits is not None:
            commits = self._commits
            event.listen(self.engine.sync_engine, "commit", lambda _connection: commits.inc())
        # Reads need no transaction: on PostgreSQL a read in autocommit is one round trip per statement
        # instead of BEGIN, statement, ROLLBACK, and sees exactly what a statement of a READ COMMITTED
        # transaction would (the latest committed data). SQLite's driver opens no transaction for a read.
        self._autocommit = (
            self.engine if self.is_sqlite else self.engine.execution_options(isolation_level="AUTOCOMMIT")
        )
        #: ORM sessions for reads. Write through :meth:`transaction` (atomic): on PostgreSQL a flush through
        #: one of these would commit each statement on its own.
        self.sessions = async_sessionmaker(self._autocommit, expire_on_commit=False)
        self._writing_sessions = async_sessionmaker(self.engine, expire_on_commit=False)
        # SQLite has one writer at a time. Queueing writers here is far cheaper than letting pooled
        # connections collide and back off in SQLite's busy handler (which sleeps for up to 100 ms).
        self._write_lock = asyncio.Lock() if self.is_sqlite else None

    async def create_all(self, metadata: MetaData) -> None:
        """Create the tables directly: for throw-away test databases (services migrate: services/migrate.py)."""
        async with self.engine.begin() as conn:
            await conn.run_sync(metadata.create_all)

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncSession]:
        """A session inside one transaction: committed on success, rolled back on any error."""
        async with AsyncExitStack() as stack:
            if self._write_lock is not None:
                await stack.enter_async_context(self._write_lock)
            session = await stack.enter_async_context(self._writing_sessions())
            await stack.enter_async_context(session.begin())
            yield session

    @asynccontextmanager
    async def file_lock(self, name: str) -> AsyncIterator[None]:
        """For SQLite, a lock file beside the database held by one process at a time (waited for in a
        thread, not in the event loop); nothing for PostgreSQL, whose locks live in the database."""
        path = self.url.split("///", 1)[-1]
        if not self.is_sqlite or not path or path == ":memory:":
            yield
            return
        descriptor = os.open(f"{path}.{name}.lock", os.O_CREAT | os.O_RDWR, 0o600)
        try:
            await asyncio.to_thread(fcntl.flock, descriptor, fcntl.LOCK_EX)
            yield
        finally:
            os.close(descriptor)  # closing releases the lock

    @asynccontextmanager
    async def exclusive_transaction(self, name: str) -> AsyncIterator[AsyncSession]:
        """A transaction that one process at a time runs under ``name``: for start-up writes that look
        before they insert (seeding an empty database), so that replicas starting at once do not both
        insert. PostgreSQL: an advisory lock held until the transaction ends; SQLite: :meth:`file_lock`."""
        async with self.file_lock(name), self.transaction() as session:
            await lock_until_commit(await session.connection(), name)
            yield session

    @asynccontextmanager
    async def connection(self) -> AsyncIterator[AsyncConnection]:
        """A Core connection inside one transaction: the light path for a batch of plain statements."""
        async with AsyncExitStack() as stack:
            if self._write_lock is not None:
                await stack.enter_async_context(self._write_lock)
            yield await stack.enter_async_context(self.engine.begin())

    @asynccontextmanager
    async def reading(self) -> AsyncIterator[AsyncConnection]:
        """A Core connection for reads outside any transaction: each statement sees the latest committed
        data on its own (use :meth:`transaction` where several reads must agree with each other)."""
        async with self._autocommit.connect() as connection:
            yield connection

    @asynccontextmanager
    async def one_statement(self) -> AsyncIterator[AsyncConnection]:
        """A Core connection for exactly one writing statement, committed as it executes.

        On PostgreSQL the statement runs in autocommit: one round trip where a transaction costs three
        (BEGIN, the statement, COMMIT), and a single statement is atomic on its own — an ``executemany``
        too (asyncpg runs it as one atomic operation). On SQLite it is an ordinary transaction.
        """
        if self.is_sqlite:
            async with self.connection() as connection:
                yield connection
            return
        async with self._autocommit.connect() as connection:
            yield connection
        if self._commits is not None:
            self._commits.inc()  # counted like a transaction's commit (the engine's commit event is not fired)

    async def ping(self) -> None:
        async with self.engine.connect() as conn:
            await conn.execute(text("SELECT 1"))

    async def close(self) -> None:
        await self.engine.dispose()


async def lock_until_commit(connection: AsyncConnection, name: str) -> None:
    """On PostgreSQL, an advisory lock on ``name`` held until the connection's transaction ends — one
    process at a time gets past it (SQLite has no such lock: :meth:`Database.file_lock`)."""
    if connection.dialect.name == "postgresql":
        key = zlib.crc32(name.encode())  # the same in every process (hash() is salted per process)
        await connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": key})


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # WAL lets readers run beside the single writer; busy_timeout makes writers queue instead of failing.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


class UtcDateTime(TypeDecorator[dt.datetime]):
    """A timestamp stored in UTC and always returned timezone-aware (SQLite keeps no zone of its own)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Dialect) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetimes are not stored; give a timezone")
        value = value.astimezone(dt.UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: dt.datetime | None, dialect: Dialect) -> dt.datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


E = TypeVar("E", bound=StrEnum)


class StrEnumColumn(TypeDecorator[E], Generic[E]):
    """A status kept as its value in a plain ``VARCHAR`` (the schema of a string column: no database enum,
    no migration), read back as the enum. Writing a value the enum does not have is a ``ValueError``, so a
    misspelt status never reaches the table."""

    impl = String
    cache_ok = True

    def __init__(self, enum: type[E], length: int = 20) -> None:
        super().__init__(length)
        self.enum = enum

    def process_bind_param(self, value: str | None, dialect: Dialect) -> str | None:
        return None if value is None else self.enum(value).value

    def process_result_value(self, value: str | None, dialect: Dialect) -> E | None:
        return None if value is None else self.enum(value)


def dialect_of(session: AsyncSession) -> str:
    return session.bind.dialect.name if session.bind is not None else "sqlite"


def dialect_insert(dialect: str, table: Table) -> Any:
    """``INSERT`` in the dialect's own form (SQLite or PostgreSQL), which knows ``ON CONFLICT``."""
    return postgresql_insert(table) if dialect == "postgresql" else sqlite_insert(table)


def insert_ignoring_conflicts(dialect: str, table: Table) -> Any:
    """``INSERT … ON CONFLICT DO NOTHING`` in the dialect's own form (SQLite or PostgreSQL)."""
    return dialect_insert(dialect, table).on_conflict_do_nothing()


async def upsert(session: AsyncSession, table: Table, values: dict[str, Any]) -> None:
    """Insert the row, or update it where its primary key is taken, in one statement.

    ``session.merge`` reads first and inserts when it found nothing, so two writers of one new key (a
    status handler and an HTTP request, two logins) collide on the key and one of them fails; an
    ``INSERT … ON CONFLICT DO UPDATE`` is decided by the database, atomically.
    """
    keys = [column.name for column in table.primary_key.columns]
    statement = dialect_insert(dialect_of(session), table).values(**values)
    await session.execute(
        statement.on_conflict_do_update(index_elements=keys, set_={k: v for k, v in values.items() if k not in keys})
    )


@functools.cache
def _insert_returning(dialect: str, table: Table, keys: tuple[str, ...]) -> Any:
    return insert_ignoring_conflicts(dialect, table).returning(*(table.c[key] for key in keys))


async def insert_new_rows(
    connection: AsyncConnection, table: Table, keys: tuple[str, ...], rows: list[dict[str, Any]]
) -> list[bool]:
    """Insert a batch, skipping rows whose key (the columns ``keys``) is taken; True for each row that was
    new. Of two copies within the batch only the first counts as new."""
    # One statement for any number of rows (executemany with RETURNING, which SQLAlchemy sends as
    # multi-row INSERTs): compiled once, where ``.values(rows)`` was compiled again for every batch size.
    statement = _insert_returning(connection.dialect.name, table, keys)
    inserted = {tuple(found) for found in await connection.execute(statement, rows)}
    results = []
    for row in rows:
        key = tuple(row[k] for k in keys)
        results.append(key in inserted)
        inserted.discard(key)
    return results


async def insert_or_ignore(session: AsyncSession, table: Table, values: dict[str, Any]) -> bool:
    """INSERT that skips a row violating a unique constraint; True when the row was inserted.

    Used where the database arbitrates a race (a slot booked once, one open attachment): the loser
    learns it lost without an exception aborting its whole transaction.
    """
    statement = insert_ignoring_conflicts(dialect_of(session), table).values(**values)
    result = await session.execute(statement)
    return bool(rows_affected(result))


def rows_affected(result: Result[Any]) -> int:
    """How many rows an INSERT, UPDATE or DELETE changed. SQLAlchemy types ``execute`` as returning a plain
    ``Result``, which has no ``rowcount``; for those statements the object is a ``CursorResult``."""
    return int(cast(CursorResult[Any], result).rowcount or 0)
