"""Transactional outbox: messages decided in a database transaction are sent only after it commits,
and surely — a crash between the commit and the sending leaves the row, which the relay sends later.

Each row carries its envelope id, so a row sent twice (the process died before marking it) is the same
message both times and the gateway refuses the second as ``REPLAYED``: the effect happens once.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import logging
import uuid
from typing import Any

from sqlalchemy import Column, MetaData, String, Table, Text, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from shared.messaging.dispatch import MeshClient
from shared.platform.db import Database, UtcDateTime

log = logging.getLogger(__name__)


class Outbox:
    """Rows of ``outbox_messages`` in one service's database, and the relay that sends them."""

    def __init__(self, metadata: MetaData) -> None:
        self.table = Table(
            "outbox_messages",
            metadata,
            Column("message_id", String(36), primary_key=True),
            Column("recipient", String(100), nullable=False),
            Column("type", String(100), nullable=False),
            Column("payload", Text, nullable=False),
            Column("sender", String(100)),
            Column("created_at", UtcDateTime, nullable=False, index=True),
            Column("sent_at", UtcDateTime, index=True),
            keep_existing=True,  # a second app in one process (tests, migrations) shares the table
        )
        self.wake = asyncio.Event()

    async def add(
        self,
        session: AsyncSession,
        recipient: str,
        type: str,
        payload: dict[str, Any],
        now: dt.datetime,
        *,
        sender: str | None = None,
    ) -> str:
        """Queue a message in the caller's transaction; call :meth:`nudge` after the commit."""
        message_id = str(uuid.uuid4())
        await session.execute(
            insert(self.table).values(
                message_id=message_id,
                recipient=recipient,
                type=type,
                payload=json.dumps(payload, ensure_ascii=False),
                sender=sender,
                created_at=now,
                sent_at=None,
            )
        )
        return message_id

    def nudge(self) -> None:
        """Tell the relay that there is something to send now (it also looks by itself every second)."""
        self.wake.set()

    async def relay_once(self, db: Database, client: MeshClient, now: dt.datetime, batch: int = 100) -> int:
        """Send pending rows in the order they were written; stop at the first failure (kept for later)."""
        async with db.sessions() as session:
            rows = (
                await session.execute(
                    select(self.table)
                    .where(self.table.c.sent_at.is_(None))
                    .order_by(self.table.c.created_at)
                    .limit(batch)
                )
            ).all()
        sent = 0
        for row in rows:
            await client.send(
                row.recipient,
                row.type,
                json.loads(row.payload),
                message_id=uuid.UUID(row.message_id),
                sender=row.sender,
            )
            async with db.transaction() as session:
                await session.execute(
                    update(self.table).where(self.table.c.message_id == row.message_id).values(sent_at=now)
                )
            sent += 1
        return sent

    async def run(self, db: Database, client: MeshClient, clock: Any, every: float = 1.0) -> None:
        """The relay loop, for a service's lifetime."""
        while True:
            try:
                await asyncio.wait_for(self.wake.wait(), every)
            except TimeoutError:
                pass
            self.wake.clear()
            try:
                while await self.relay_once(db, client, clock.now()) > 0:
                    pass
            except Exception:
                log.warning("outbox relay failed; will retry", exc_info=True)
