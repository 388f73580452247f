"""The ШЭП's routing: every message between СФЕ passes here (regulation, diagrams 1 and 2).

For each message: verify the sender's signature and identity → known recipient → access right →
time window → not a replay → stamp → deliver. Sync requests are forwarded over the gateway's own
Direct Reply-To hop and the recipient's signed reply is relayed back; async messages go to the
recipient's durable queue, where they wait if the recipient is down. Every message is journaled.
"""

from __future__ import annotations

import datetime as dt
import logging
import uuid

from aio_pika.abc import AbstractIncomingMessage
from aio_pika.exceptions import DeliveryError
from sqlalchemy import bindparam, delete, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from services.gateway.access import AccessRights
from services.gateway.models import AcceptedMessage, JournalRow, Provider
from shared.bus import RequestTimeout, Unprocessable
from shared.contracts import ESERVICE_REQUEST, ESERVICE_STATUS, REFUSAL
from shared.db import insert_new_rows
from shared.envelope import MAX_TTL, Envelope, check_window, open_envelope, peek, seal
from shared.groupcommit import GroupCommit
from shared.logs import CORRELATION
from shared.messaging import GATEWAY_ANSWER_MARGIN_SECONDS, KNOWN_TYPES, refusal_payload
from shared.metrics import ROUTED
from shared.refusals import Refusal, RefusalError
from shared.runtime import ServiceRuntime
from shared.seed import ClinicsFile
from shared.stamp import STAMP_HEADER, body_hash, make_stamp
from shared.topology import GATEWAY, SERVICE_ADDRESSES, arm_address, queue_name

log = logging.getLogger(__name__)


class Gateway:
    """Routes signed envelopes between services; see module docstring for the order of checks."""

    def __init__(self, runtime: ServiceRuntime, rights: AccessRights) -> None:
        self.runtime = runtime
        self.rights = rights
        self.in_hand: set[str] = set()  # ids this process is delivering right now
        self.sync_patience = dt.timedelta(seconds=runtime.settings.rpc_timeout_seconds + GATEWAY_ANSWER_MARGIN_SECONDS)
        self.directory: dict[str, str] = {}  # address → БИН (clinics) or "" (services)
        # Accepted ids and journal rows of all the messages in hand are committed together (group commit):
        # one transaction for many messages, each still acked or answered only after its rows committed.
        self.writes = GroupCommit(runtime.db, {"accept": self._write_accepted, "journal": self._write_journal})

    @property
    def addresses(self) -> list[str]:
        return sorted(self.directory)

    async def load_directory(self, clinics: ClinicsFile) -> None:
        """Upsert providers from the seed and build the routing table."""
        async with self.runtime.db.transaction() as session:
            for clinic in clinics.clinics:
                await session.merge(Provider(bin=clinic.bin, name=clinic.name, address=arm_address(clinic.bin)))
        async with self.runtime.db.sessions() as session:
            providers = list(await session.scalars(select(Provider)))
        self.directory = {address: "" for address in SERVICE_ADDRESSES if address != GATEWAY}
        self.directory.update({p.address: p.bin for p in providers})

    # -- the routing pipeline ----------------------------------------------------------------
    async def handle(self, message: AbstractIncomingMessage) -> None:
        raw = message.body
        received_at = self.runtime.clock.now()
        channel = "sync" if message.reply_to else "async"
        if len(raw) > self.runtime.settings.max_message_bytes:
            # Refused before parsing, journaled once and dropped: retrying would not make it smaller.
            await self._journal_unreadable(message, channel, received_at, f"refused:{Refusal.MALFORMED}")
            log.warning("oversized message dropped", extra={"bytes": len(raw)})
            return
        envelope = peek(raw)
        if envelope is None:
            await self._journal_unreadable(message, channel, received_at, f"refused:{Refusal.MALFORMED}")
            if message.reply_to:
                return  # nobody verifiable to answer; the journal has it
            raise Unprocessable("not an envelope")
        CORRELATION.set(str(envelope.correlation_id or envelope.id))
        verified = False
        try:
            open_envelope(raw, self.runtime.store, self.runtime.clock, check_expiry=False)
            verified = True
            if envelope.recipient not in self.directory:
                raise RefusalError(Refusal.ROUTE_UNKNOWN, f"no route to {envelope.recipient}")
            if not self.rights.is_allowed(envelope.sender, envelope.type, envelope.recipient):
                raise RefusalError(Refusal.ACCESS_DENIED, f"{envelope.type} to {envelope.recipient} not allowed")
            check_window(envelope, self.runtime.clock)
            if message.reply_to and received_at - envelope.issued_at > self.sync_patience:
                raise RefusalError(Refusal.EXPIRED, "the caller has stopped waiting for this request")
            if not await self._accept(envelope.id, received_at, message.redelivered):
                raise RefusalError(Refusal.REPLAYED)
        except RefusalError as exc:
            await self._refuse(message, envelope, raw, received_at, exc, answer_sender=verified)
            return
        self.in_hand.add(str(envelope.id))
        log.info("routing", extra={"type": envelope.type, "sender": envelope.sender, "recipient": envelope.recipient})
        try:
            await self._deliver(message, envelope, raw, received_at, channel)
        finally:
            self.in_hand.discard(str(envelope.id))

    async def _deliver(
        self, message: AbstractIncomingMessage, envelope: Envelope, raw: bytes, received_at: dt.datetime, channel: str
    ) -> None:
        """Stamp and deliver an accepted message: publish (async) or forward and relay the reply (sync)."""
        stamp = make_stamp(self.runtime.identity, envelope, raw, received_at, sync=bool(message.reply_to))
        headers = {STAMP_HEADER: stamp}
        target = queue_name(self.runtime.settings.namespace, envelope.recipient)
        if not message.reply_to:
            await self.runtime.bus.publish(
                target, raw, message_id=str(envelope.id), type=envelope.type, headers=headers
            )
            await self._journal_envelope(envelope, channel, raw, received_at, "delivered")
            return
        try:
            reply = await self.runtime.bus.request(
                target,
                raw,
                message_id=str(envelope.id),
                type=envelope.type,
                headers=headers,
                timeout=self.runtime.settings.rpc_timeout_seconds,
            )
            answer = self._check_reply(reply.body, envelope)
        except RequestTimeout:
            await self._refuse(message, envelope, raw, received_at, RefusalError(Refusal.TIMEOUT), answer_sender=True)
            return
        except DeliveryError:
            exc = RefusalError(Refusal.ROUTE_UNKNOWN, "recipient queue missing")
            await self._refuse(message, envelope, raw, received_at, exc, answer_sender=True)
            return
        except RefusalError as exc:
            log.warning("recipient reply rejected", extra={"code": exc.code, "recipient": envelope.recipient})
            exc = RefusalError(Refusal.INTERNAL, "recipient answered with an invalid message")
            await self._refuse(message, envelope, raw, received_at, exc, answer_sender=True)
            return
        await self._journal_many(
            [
                self._row(envelope, channel, raw, received_at, "replied"),
                self._row(answer, channel, reply.body, self.runtime.clock.now(), "relayed"),
            ]
        )
        await self.runtime.bus.reply(message, reply.body, message_id=str(answer.id), type=answer.type)

    def _check_reply(self, raw: bytes, request: Envelope) -> Envelope:
        answer = open_envelope(raw, self.runtime.store, self.runtime.clock).envelope
        if (
            answer.sender != request.recipient
            or answer.recipient != request.sender
            or answer.correlation_id != request.id
        ):
            raise RefusalError(Refusal.SIGNATURE_INVALID, "reply does not belong to the request")
        return answer

    async def _accept(self, message_id: uuid.UUID, now: dt.datetime, redelivered: bool) -> bool:
        """Record the id as accepted; False when this message must not be delivered (again).

        The gateway's own record decides: a message it has finished with (delivered, replied or refused)
        is never delivered again, whatever the broker says, and a copy arriving while the first is still
        in hand is refused at once. Only a redelivery of a message whose handling never finished (the
        gateway died between accepting and delivering it) is delivered — receivers are idempotent."""
        if await self.writes.submit("accept", {"message_id": str(message_id), "accepted_at": now}):
            return True
        async with self.runtime.db.sessions() as session:
            record = await session.get(AcceptedMessage, str(message_id))
        unfinished = record is not None and record.outcome is None
        return unfinished and redelivered and str(message_id) not in self.in_hand

    @staticmethod
    async def _write_accepted(connection: AsyncConnection, rows: list[dict[str, object]]) -> list[bool]:
        """Insert a batch of accepted ids; True for each one that was new (the first copy within the batch
        too), False for an id already recorded."""
        return await insert_new_rows(connection, AcceptedMessage.__table__, "message_id", rows)  # type: ignore[arg-type]

    async def _refuse(
        self,
        message: AbstractIncomingMessage,
        envelope: Envelope,
        raw: bytes,
        received_at: dt.datetime,
        exc: RefusalError,
        *,
        answer_sender: bool,
    ) -> None:
        """Journal the refusal and answer it with a refusal signed by the gateway.

        A sync request is answered on its reply-to. An async one is answered in the sender's queue, but
        only when the sender's signature was verified: a forged sender gets nothing delivered in its name.
        """
        log.info("refused", extra={"code": exc.code, "type": envelope.type, "recipient": envelope.recipient})
        await self._journal_envelope(
            envelope, "sync" if message.reply_to else "async", raw, received_at, f"refused:{exc.code}"
        )
        refusal_id, refusal = seal(
            self.runtime.identity,
            type=REFUSAL,
            recipient=envelope.sender,
            payload=refusal_payload(exc),
            clock=self.runtime.clock,
            correlation_id=envelope.id,
        )
        if message.reply_to:
            await self.runtime.bus.reply(message, refusal, message_id=str(refusal_id), type=REFUSAL)
        elif answer_sender and envelope.sender in self.directory:
            refusal_envelope = peek(refusal)
            assert refusal_envelope is not None
            headers = {STAMP_HEADER: make_stamp(self.runtime.identity, refusal_envelope, refusal, received_at)}
            await self.runtime.bus.publish(
                queue_name(self.runtime.settings.namespace, envelope.sender),
                refusal,
                message_id=str(refusal_id),
                type=REFUSAL,
                headers=headers,
            )

    # -- journal ------------------------------------------------------------------------------
    @staticmethod
    def _row(envelope: Envelope, channel: str, raw: bytes, at: dt.datetime, outcome: str) -> dict[str, object]:
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
            **_searchable(envelope),
        }

    async def _journal_envelope(
        self, envelope: Envelope, channel: str, raw: bytes, at: dt.datetime, outcome: str
    ) -> None:
        await self._journal_many([self._row(envelope, channel, raw, at, outcome)])

    async def _journal_unreadable(
        self, message: AbstractIncomingMessage, channel: str, at: dt.datetime, outcome: str
    ) -> None:
        await self._journal_many(
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

    async def _journal_many(self, rows: list[dict[str, object]]) -> None:
        """Append to the journal and, in the same transaction, record each message's outcome."""
        await self.writes.submit("journal", rows)
        for row in rows:
            ROUTED.labels(
                self._label(str(row["sender"])),
                self._label(str(row["recipient"])),
                row["type"] if row["type"] in KNOWN_TYPES else "other",
                str(row["outcome"]),
            ).inc()

    @staticmethod
    async def _write_journal(connection: AsyncConnection, batches: list[list[dict[str, object]]]) -> list[None]:
        rows = [row for batch in batches for row in batch]
        await connection.execute(insert(JournalRow.__table__), rows)
        outcomes = [
            {"id_": row["message_id"], "outcome_": row["outcome"]}
            for row in rows
            # a refused copy says nothing about what became of the message itself
            if row["outcome"] != f"refused:{Refusal.REPLAYED}"
        ]
        if outcomes:
            table = AcceptedMessage.__table__
            await connection.execute(
                update(table)
                .where(table.c.message_id == bindparam("id_"), table.c.outcome.is_(None))
                .values(outcome=bindparam("outcome_")),
                outcomes,
            )
        return [None] * len(batches)

    def _label(self, address: str) -> str:
        """An address as a metric label: known addresses as they are, anything else as ``other``."""
        return address if address in self.directory or address in ("?", "gateway") else "other"

    async def purge_accepted(self) -> int:
        """Forget accepted ids older than any envelope can live (they can no longer be replayed)."""
        cutoff = self.runtime.clock.now() - MAX_TTL - dt.timedelta(hours=1)
        async with self.runtime.db.transaction() as session:
            result = await session.execute(delete(AcceptedMessage).where(AcceptedMessage.accepted_at < cutoff))
        return result.rowcount or 0  # type: ignore[attr-defined]


def _searchable(envelope: Envelope) -> dict[str, str | None]:
    """The request id and registration number an e-service message carries, for the journal's search
    (only from the message types that define them; bounded, never personal data)."""
    if envelope.type not in (ESERVICE_REQUEST, ESERVICE_STATUS):
        return {"request_id": None, "registration_number": None}
    request_id, number = envelope.payload.get("request_id"), envelope.payload.get("registration_number")
    return {
        "request_id": str(request_id)[:36] if request_id else None,
        "registration_number": str(number)[:40] if number else None,
    }
