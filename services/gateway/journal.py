"""The gateway's journal and its record of accepted message ids, written by group commit.

Accepted ids and journal rows of all the messages in hand are written together: one statement per kind
for many messages (shared/platform/groupcommit.py), each message still acked or answered only after its own rows
committed. The journal is also the record of what became of an accepted message
(:meth:`Journal.finished`).
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable

from aio_pika.abc import AbstractIncomingMessage
from sqlalchemy import bindparam, insert, select
from sqlalchemy.ext.asyncio import AsyncConnection

from services.gateway.models import AcceptedMessage, JournalRow
from shared.messaging.dispatch import KNOWN_TYPES
from shared.platform.db import Database, insert_new_rows
from shared.platform.groupcommit import GroupCommit
from shared.platform.metrics import ROUTED
from shared.wire.contracts import ESERVICE_REQUEST, ESERVICE_STATUS
from shared.wire.envelope import Envelope
from shared.wire.refusals import Refusal
from shared.wire.stamp import body_hash

Row = dict[str, object]

# Outcomes journaled only for a message the gateway accepted: with one of them in the journal its delivery
# has finished, and a redelivery is a replay. The refusals at admission (signature, right, time window,
# replay) are not among them: a forged copy carrying an accepted id is refused there, and its row must not
# pass for the outcome of the genuine message's delivery. ("No route" is refused at admission and "the
# recipient's queue is missing" at delivery under one code; the former needs the sender's own signature.)
DELIVERY_OUTCOMES = (
    "delivered",
    "replied",
    f"refused:{Refusal.TIMEOUT}",
    f"refused:{Refusal.ROUTE_UNKNOWN}",
    f"refused:{Refusal.INTERNAL}",
)
_journal = JournalRow.__table__
_FINISHED = (
    select(_journal.c.seq)
    .where(
        _journal.c.message_id == bindparam("message_id"),
        _journal.c.sender == bindparam("sender"),
        _journal.c.outcome.in_(DELIVERY_OUTCOMES),
    )
    .limit(1)
)


class Journal:
    """Appends journal rows and records accepted ids; ``label`` names an address for the metrics."""

    def __init__(self, db: Database, label: Callable[[str], str]) -> None:
        self.label = label
        self.db = db
        self.writes = GroupCommit(db, {"accept": self._write_accepted, "journal": self._write_journal})

    async def accept(self, sender: str, message_id: uuid.UUID, at: dt.datetime) -> bool:
        """Record the sender's id as accepted; False when it was recorded before."""
        row = {"sender": sender, "message_id": str(message_id), "accepted_at": at}
        return bool(await self.writes.submit("accept", row))

    async def envelope(self, envelope: Envelope, channel: str, raw: bytes, at: dt.datetime, outcome: str) -> None:
        await self.rows([row(envelope, channel, raw, at, outcome)])

    async def unreadable(self, message: AbstractIncomingMessage, channel: str, at: dt.datetime, outcome: str) -> None:
        """A message that is no envelope at all: what the broker says of it, and the hash of its body."""
        await self.rows(
            [
                {
                    "message_id": (message.message_id or str(uuid.uuid4()))[:64],
                    "correlation_id": None,
                    "type": (message.type or "?")[:100],
                    "sender": "?",
                    "recipient": "?",
                    "channel": channel,
                    "received_at": at,
                    "body_sha256": body_hash(message.body),
                    "outcome": outcome,
                    "request_id": None,
                    "registration_number": None,
                }
            ]
        )

    async def rows(self, rows: list[Row]) -> None:
        """Append to the journal (committed when this returns)."""
        await self.writes.submit("journal", rows)
        for written in rows:
            ROUTED.labels(
                self.label(str(written["sender"])),
                self.label(str(written["recipient"])),
                written["type"] if written["type"] in KNOWN_TYPES else "other",
                str(written["outcome"]),
            ).inc()

    @staticmethod
    async def _write_accepted(connection: AsyncConnection, rows: list[Row]) -> list[bool]:
        """Insert a batch of accepted ids; True for each one that was new (the first copy within the batch
        too), False for an id already recorded."""
        table = AcceptedMessage.__table__
        # mypy ignores the next line: as for upsert: __table__ is a Table
        return await insert_new_rows(connection, table, ("sender", "message_id"), rows)  # type: ignore[arg-type]

    @staticmethod
    async def _write_journal(connection: AsyncConnection, batches: list[list[Row]]) -> list[None]:
        await connection.execute(insert(JournalRow.__table__), [written for batch in batches for written in batch])
        return [None] * len(batches)

    async def finished(self, sender: str, message_id: uuid.UUID) -> bool:
        """Whether the delivery of a sender's accepted message has an outcome in the journal."""
        async with self.db.reading() as connection:
            found = await connection.execute(_FINISHED, {"sender": sender, "message_id": str(message_id)})
            return found.first() is not None


def row(envelope: Envelope, channel: str, raw: bytes, at: dt.datetime, outcome: str) -> Row:
    """The journal row of an envelope: who, to whom, what, when, the body's hash and the outcome."""
    return {
        "message_id": str(envelope.id),
        "correlation_id": str(envelope.correlation_id) if envelope.correlation_id else None,
        "type": envelope.type,
        "sender": envelope.sender,
        "recipient": envelope.recipient,
        "channel": channel,
        "received_at": at,
        "body_sha256": body_hash(raw),
        "outcome": outcome,
        **searchable(envelope),
    }


def searchable(envelope: Envelope) -> dict[str, str | None]:
    """The request id and registration number an e-service message carries, for the journal's search
    (only from the message types that define them; bounded, never personal data)."""
    if envelope.type not in (ESERVICE_REQUEST, ESERVICE_STATUS):
        return {"request_id": None, "registration_number": None}
    request_id, number = envelope.payload.get("request_id"), envelope.payload.get("registration_number")
    return {
        "request_id": str(request_id)[:36] if request_id else None,
        "registration_number": str(number)[:40] if number else None,
    }
