"""The gateway's bus side: its queue's messages through :class:`Gateway`'s checks, then stamped and
delivered — published to the recipient's durable queue (async), or forwarded over the gateway's own
Direct Reply-To hop with the recipient's signed reply relayed back (sync). Refusals are answered with a
refusal signed by the gateway. Every outcome is journaled before the message is acked or answered.
"""

from __future__ import annotations

import datetime as dt
import logging

from aio_pika.abc import AbstractIncomingMessage
from aio_pika.exceptions import DeliveryError

from services.gateway.journal import row
from services.gateway.service import Gateway, in_hand
from shared.messaging.bus import RequestTimeout, Unprocessable
from shared.messaging.dispatch import refusal_payload
from shared.platform.logs import CORRELATION
from shared.wire.contracts import REFUSAL
from shared.wire.envelope import Envelope, peek, seal
from shared.wire.refusals import Refusal, RefusalError
from shared.wire.stamp import STAMP_HEADER, make_stamp
from shared.wire.topology import queue_name

log = logging.getLogger(__name__)


class GatewayHandler:
    """Consumes the gateway's queue (``handle``)."""

    def __init__(self, gateway: Gateway) -> None:
        self.gateway = gateway
        self.runtime = gateway.runtime
        self.journal = gateway.journal

    async def handle(self, message: AbstractIncomingMessage) -> None:
        raw = message.body
        received_at = self.runtime.clock.now()
        channel = "sync" if message.reply_to else "async"
        if len(raw) > self.runtime.settings.max_message_bytes:
            # Refused before parsing, journaled once and dropped: retrying would not make it smaller.
            await self.journal.unreadable(message, channel, received_at, f"refused:{Refusal.MALFORMED}")
            log.warning("oversized message dropped", extra={"bytes": len(raw)})
            return
        try:
            envelope = self.gateway.verify(raw)
        except RefusalError as exc:
            # Parsed again, without verifying, only to journal it and address the refusal.
            unverified = peek(raw)
            if unverified is None:
                await self.journal.unreadable(message, channel, received_at, f"refused:{Refusal.MALFORMED}")
                if message.reply_to:
                    return  # nobody verifiable to answer; the journal has it
                raise Unprocessable("not an envelope") from None
            CORRELATION.set(str(unverified.correlation_id or unverified.id))
            await self.refuse(message, unverified, raw, received_at, exc, answer_sender=False)
            return
        CORRELATION.set(str(envelope.correlation_id or envelope.id))
        try:
            await self.gateway.admit(
                envelope, received_at, sync=bool(message.reply_to), redelivered=message.redelivered
            )
        except RefusalError as exc:
            await self.refuse(message, envelope, raw, received_at, exc, answer_sender=True)
            return
        delivery = in_hand(envelope.sender, envelope.id)
        self.gateway.in_hand.add(delivery)
        log.info("routing", extra={"type": envelope.type, "sender": envelope.sender, "recipient": envelope.recipient})
        try:
            await self.deliver(message, envelope, raw, received_at, channel)
        finally:
            self.gateway.in_hand.discard(delivery)

    async def deliver(
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
            await self.journal.envelope(envelope, channel, raw, received_at, "delivered")
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
            answer = self.gateway.check_reply(reply.body, envelope)
        except RequestTimeout:
            await self.refuse(message, envelope, raw, received_at, RefusalError(Refusal.TIMEOUT), answer_sender=True)
            return
        except DeliveryError:
            exc = RefusalError(Refusal.ROUTE_UNKNOWN, "recipient queue missing")
            await self.refuse(message, envelope, raw, received_at, exc, answer_sender=True)
            return
        except RefusalError as exc:
            log.warning("recipient reply rejected", extra={"code": exc.code, "recipient": envelope.recipient})
            exc = RefusalError(Refusal.INTERNAL, "recipient answered with an invalid message")
            await self.refuse(message, envelope, raw, received_at, exc, answer_sender=True)
            return
        await self.journal.rows(
            [
                row(envelope, channel, raw, received_at, "replied"),
                row(answer, channel, reply.body, self.runtime.clock.now(), "relayed"),
            ]
        )
        await self.runtime.bus.reply(message, reply.body, message_id=str(answer.id), type=answer.type)

    async def refuse(
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
        await self.journal.envelope(
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
        elif answer_sender and envelope.sender in self.gateway.directory:
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
