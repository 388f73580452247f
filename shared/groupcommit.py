"""Group commit: the small writes of many concurrent message handlers committed in one transaction.

A service handling N messages at once would otherwise open N sessions and commit N transactions for
writes of a few rows each; the commit and the ORM's per-session work, not the rows, are what cost. Here a
handler hands in one item of a named kind ("accept this id", "journal these rows") and waits; whoever
arrives while no batch is being written starts one, and everything that arrived by then is written in
one transaction — one statement per kind, executed for the whole batch. A caller returns only after the
transaction holding its item has committed, so "acknowledge only after the effect is committed" holds
exactly as before; when that transaction fails, each item is retried alone, so one bad item cannot fail
its neighbours.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from shared.db import Database

# One kind's statement for a batch: gets the items, returns one result per item (same order).
KindWriter = Callable[[AsyncConnection, list[Any]], Awaitable[list[Any]]]


@dataclass
class _Batch:
    items: dict[str, list[tuple[Any, asyncio.Future[Any]]]] = field(default_factory=dict)


class GroupCommit:
    """Batches items by kind and writes each batch in one transaction (see the module docstring)."""

    def __init__(self, db: Database, writers: dict[str, KindWriter], *, max_batch: int = 256) -> None:
        self.db = db
        self.writers = writers
        self.max_batch = max_batch
        self._pending = _Batch()
        self._count = 0
        self._writing: asyncio.Task[None] | None = None

    async def submit(self, kind: str, item: Any) -> Any:
        """Write ``item`` with the next batch; return its result once that batch has committed."""
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._pending.items.setdefault(kind, []).append((item, future))
        self._count += 1
        if self._writing is None or self._writing.done():
            self._writing = asyncio.create_task(self._write_all())
        return await future

    async def _write_all(self) -> None:
        while self._count:
            batch, self._pending, self._count = self._pending, _Batch(), 0
            await self._write(batch)

    async def _write(self, batch: _Batch) -> None:
        try:
            results = await self._transaction(batch.items)
        except Exception as exc:
            entries = [(kind, entry) for kind, items in batch.items.items() for entry in items]
            if len(entries) == 1:
                future = entries[0][1][1]
                if not future.done():
                    future.set_exception(exc)
                return
            for kind, entry in entries:  # each alone, so that one bad item fails only its own caller
                await self._write(_Batch({kind: [entry]}))
            return
        for kind, items in batch.items.items():
            for (_, future), result in zip(items, results[kind], strict=True):
                if not future.done():
                    future.set_result(result)

    async def _transaction(self, items: dict[str, list[tuple[Any, asyncio.Future[Any]]]]) -> dict[str, list[Any]]:
        async with self.db.connection() as connection:
            results: dict[str, list[Any]] = {}
            for kind, entries in items.items():
                values = [item for item, _ in entries]
                for start in range(0, len(values), self.max_batch):
                    results.setdefault(kind, []).extend(
                        await self.writers[kind](connection, values[start : start + self.max_batch])
                    )
        return results
