"""Group commit: the small writes of many concurrent message handlers committed by a few statements.

A service handling N messages at once would otherwise open N sessions and commit N transactions for
writes of a few rows each; the commit and the ORM's per-session work, not the rows, are what cost. Here a
handler hands in one item of a named kind ("accept this id", "journal these rows") and waits; whoever
arrives while no batch is being written starts one, and everything that arrived by then is written by one
statement per kind (an ``executemany`` for the whole batch), each committed on its own — an item is always
within one statement, and one statement is atomic, so no transaction is needed around it (on PostgreSQL
that saves BEGIN and COMMIT, two round trips, per statement: :meth:`shared.platform.db.Database.one_statement`).
A caller returns only after the statement holding its item has committed, so "acknowledge only after the
effect is committed" holds exactly as before; when a statement fails, each of its items is retried alone,
so one bad item cannot fail its neighbours.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from shared.platform.db import Database

# One kind's statement for a batch: gets the items, executes exactly one statement (an executemany counts as
# one) and returns one result per item (same order).
KindWriter = Callable[[AsyncConnection, list[Any]], Awaitable[list[Any]]]
Entry = tuple[Any, "asyncio.Future[Any]"]


@dataclass
class _Batch:
    items: dict[str, list[Entry]] = field(default_factory=dict)


class GroupCommit:
    """Batches items by kind and writes each kind's batch with one statement (see the module docstring)."""

    def __init__(self, db: Database, writers: dict[str, KindWriter], *, max_batch: int = 256) -> None:
        self.db = db
        self.writers = writers
        # Small enough that an INSERT … RETURNING stays one statement: SQLAlchemy sends an executemany with
        # RETURNING as multi-row INSERTs of up to 1,000 rows each, and two of those would not be atomic.
        self.max_batch = max_batch
        self._pending = _Batch()
        self._count = 0
        self._writing: asyncio.Task[None] | None = None

    async def submit(self, kind: str, item: Any) -> Any:
        """Write ``item`` with the next batch; return its result once its statement has committed."""
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._pending.items.setdefault(kind, []).append((item, future))
        self._count += 1
        if self._writing is None or self._writing.done():
            self._writing = asyncio.create_task(self._write_all())
        return await future

    async def _write_all(self) -> None:
        while self._count:
            batch, self._pending, self._count = self._pending, _Batch(), 0
            for kind, entries in batch.items.items():
                for start in range(0, len(entries), self.max_batch):
                    await self._statement(kind, entries[start : start + self.max_batch])

    async def _statement(self, kind: str, entries: list[Entry]) -> None:
        try:
            async with self.db.one_statement() as connection:
                results = await self.writers[kind](connection, [item for item, _ in entries])
        except Exception as exc:
            if len(entries) == 1:
                future = entries[0][1]
                if not future.done():
                    future.set_exception(exc)
                return
            for entry in entries:  # each alone, so that one bad item fails only its own caller
                await self._statement(kind, [entry])
            return
        for (_, future), result in zip(entries, results, strict=True):
            if not future.done():
                future.set_result(result)
