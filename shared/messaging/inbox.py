"""Processed-message store: the idempotency and replay rule (docs/architecture.md), kept in each service's database.

A row is written in the same transaction as the message's effect, with the outcome (the sealed reply
and follow-up messages). A redelivery finds the row and re-sends that outcome; nothing is applied twice.
A message counts once *per sender*: ids are chosen by senders, and one sender's id (reused by accident or
on purpose) must never stand for another's message. Rows written before the sender was kept have the
sender ``""`` and still answer for their id.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from sqlalchemy import Column, MetaData, String, Table, Text, bindparam, delete, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from shared.platform.db import UtcDateTime, rows_affected


class Inbox:
    """Rows of ``processed_messages`` in one service's database."""

    def __init__(self, metadata: MetaData) -> None:
        self.table = Table(
            "processed_messages",
            metadata,
            Column("sender", String(100), primary_key=True, server_default=""),
            Column("message_id", String(36), primary_key=True),
            Column("outcome", Text, nullable=False),
            Column("processed_at", UtcDateTime, nullable=False, index=True),
            keep_existing=True,  # a second app in one process (tests, migrations) shares the table
        )
        self._outcome = (
            select(self.table.c.outcome)
            .where(
                self.table.c.message_id == bindparam("message_id"), self.table.c.sender.in_([bindparam("sender"), ""])
            )
            .order_by(self.table.c.sender.desc())  # the sender's own row before one kept without a sender
            .limit(1)
        )

    async def outcome(self, session: AsyncSession, sender: str, message_id: str) -> dict[str, Any] | None:
        row = await session.scalar(self._outcome, {"sender": sender, "message_id": message_id})
        return None if row is None else json.loads(row)

    async def record(
        self, session: AsyncSession, sender: str, message_id: str, outcome: dict[str, Any], now: dt.datetime
    ) -> None:
        await session.execute(
            insert(self.table).values(
                sender=sender, message_id=message_id, outcome=json.dumps(outcome), processed_at=now
            )
        )

    async def purge(self, session: AsyncSession, older_than: dt.datetime) -> int:
        """Forget ids older than any message could still be valid (keep ≥ the envelope max TTL)."""
        result = await session.execute(delete(self.table).where(self.table.c.processed_at < older_than))
        return rows_affected(result)
