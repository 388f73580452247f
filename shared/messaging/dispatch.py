"""Typed message handling over the gateway: the dispatcher behind every service queue, and the client.

A handler receives a :class:`MessageContext` and the payload already parsed into the model the message
type declares (:data:`~shared.wire.contracts.MESSAGES`), and returns the reply model (or ``None``); it
raises :class:`~shared.wire.refusals.RefusalError` for a business refusal. The dispatcher parses (a payload
that does not fit is a ``MALFORMED`` refusal) and dumps, so no handler repeats either.

Transactional routes run inside one database transaction that also records the message id and its sealed
outcome (reply and follow-up messages), so a redelivered message re-sends the same outcome and never
applies its effect twice.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from aio_pika.abc import AbstractIncomingMessage
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from shared.messaging.bus import Bus, Unprocessable
from shared.messaging.inbox import Inbox
from shared.platform.db import Database
from shared.platform.logs import CORRELATION
from shared.platform.metrics import BUS_LATENCY, BUS_MESSAGES, REFUSALS
from shared.wire.certs import CertIdentity, TrustStore
from shared.wire.clock import Clock
from shared.wire.contracts import (
    MESSAGE_TYPES,
    MESSAGES,
    PING,
    PONG,
    REFUSAL,
    Contract,
    Ping,
    Pong,
    RefusalPayload,
    parse_payload,
    reply_type,
)
from shared.wire.envelope import Envelope, ServiceIdentity, open_envelope, peek, seal
from shared.wire.refusals import Refusal, RefusalError
from shared.wire.stamp import STAMP_HEADER, check_stamp
from shared.wire.topology import GATEWAY, queue_name

log = logging.getLogger(__name__)
KNOWN_TYPES = MESSAGE_TYPES | {reply_type(t) for t in MESSAGE_TYPES}

# A client waits this much longer than the gateway waits for the recipient (both use the same
# ``rpc_timeout_seconds``), so that a slow recipient is reported by the gateway's signed TIMEOUT refusal,
# never by the client giving up first while the gateway is still waiting.
GATEWAY_ANSWER_MARGIN_SECONDS = 5.0


@dataclass(slots=True)
class MessageContext:
    """What a handler sees: the verified envelope, its signer, and (transactional routes) a session."""

    envelope: Envelope
    signer: CertIdentity
    accepted_at: dt.datetime
    session: AsyncSession | None = None
    prepared: Any = None
    outgoing: list[tuple[str, str, dict[str, Any], str | None]] = field(default_factory=list)

    def send(self, type: str, recipient: str, payload: Contract, correlation_id: str | None = None) -> None:
        """Queue a follow-up message; it is sent only after the transaction commits."""
        self.outgoing.append((type, recipient, payload.model_dump(mode="json"), correlation_id))


P = TypeVar("P", bound=Contract)


@dataclass(frozen=True, slots=True)
class MeshEndpoint:
    """Who a participant is on the mesh: its bus, signing identity, trust store, clock and namespace."""

    bus: Bus
    identity: ServiceIdentity
    store: TrustStore
    clock: Clock
    namespace: str


@dataclass(frozen=True, slots=True)
class Route(Generic[P]):
    """A message type's handler, given the parsed payload. ``prepare`` (transactional routes) runs first,
    outside the transaction, for slow reads such as lookups through the gateway; its result is
    ``context.prepared``. ``contract`` replaces the declared payload model (a test's own probe)."""

    handler: Callable[[MessageContext, P], Awaitable[Contract | None]]
    transactional: bool = False
    prepare: Callable[[MessageContext, P], Awaitable[Any]] | None = None
    contract: type[P] | None = None

    def parse(self, envelope: Envelope) -> P:
        """The envelope's payload as the model its type declares; ``MALFORMED`` when it does not fit."""
        contract: type[Any] = self.contract or MESSAGES[envelope.type].payload
        parsed: P = parse_payload(contract, envelope.payload)
        return parsed

    async def run(self, context: MessageContext, payload: P) -> dict[str, Any] | None:
        """The handler's reply, checked against the declared reply model and dumped for the wire."""
        reply = await self.handler(context, payload)
        if reply is None:
            return None
        declared = MESSAGES[context.envelope.type].reply if context.envelope.type in MESSAGES else None
        if declared is not None and not isinstance(reply, declared):  # a bug, never the sender's fault
            raise TypeError(f"{context.envelope.type} replies {declared.__name__}, not {type(reply).__name__}")
        return reply.model_dump(mode="json")


def refusal_payload(exc: RefusalError) -> dict[str, Any]:
    """A refusal's payload for the wire (:meth:`RefusalPayload.of`, dumped)."""
    return RefusalPayload.of(exc).model_dump(mode="json")


class Dispatcher:
    """Consumes a service's queues: verify, check the gateway stamp, route by type, reply, ack."""

    def __init__(
        self,
        endpoint: MeshEndpoint,
        routes: dict[str, Route[Any]],
        *,
        db: Database | None = None,
        inbox: Inbox | None = None,
        reply_ttl: dt.timedelta = dt.timedelta(minutes=5),
        max_message_bytes: int = 12 * 1024 * 1024,
        sync_patience: dt.timedelta = dt.timedelta(seconds=15),
    ) -> None:
        self.endpoint = endpoint
        self.max_message_bytes = max_message_bytes
        self.sync_patience = sync_patience  # how long a synchronous caller waits (then its request is stale)
        self._answered: dict[str, dt.datetime] = {}  # requests answered, by id, oldest first
        self.identity, self.store, self.clock = endpoint.identity, endpoint.store, endpoint.clock
        self.bus, self.namespace = endpoint.bus, endpoint.namespace
        self.routes = routes
        self.db = db
        self.inbox = inbox
        self.reply_ttl = reply_ttl
        self.addresses: set[str] = set()

    async def handle(self, message: AbstractIncomingMessage) -> None:
        """Handle one delivery; counted and timed by type and outcome (``/metrics``)."""
        started = time.perf_counter()
        kind = message.type if message.type in KNOWN_TYPES else "other"  # a bounded label
        outcome = "failed"
        try:
            outcome = await self._handle(message)
        except Unprocessable:
            outcome = "dead-lettered"
            raise
        finally:
            BUS_MESSAGES.labels(self.identity.address, kind, outcome).inc()
            BUS_LATENCY.labels(self.identity.address, kind).observe(time.perf_counter() - started)

    async def _handle(self, message: AbstractIncomingMessage) -> str:
        raw = message.body
        if len(raw) > self.max_message_bytes:
            raise Unprocessable(f"message of {len(raw)} bytes is above the limit")  # before any parsing
        try:
            opened = open_envelope(raw, self.store, self.clock, check_expiry=False)
            accepted_at = check_stamp(
                message.headers.get(STAMP_HEADER),
                opened.envelope,
                raw,
                self.store,
                self.addresses,
                sync=bool(message.reply_to),
            )
        except RefusalError as exc:
            envelope = peek(raw)
            if envelope is not None and message.reply_to:
                await self._publish(message, self._seal_reply(envelope, REFUSAL, refusal_payload(exc)), None)
            if exc.code is Refusal.MALFORMED:
                # Unreadable input (not JSON, NaN, huge integers, too deep…) is refused once and dropped: it
                # can never become readable, and keeping it would only fill the dead-letter queue.
                log.warning("malformed message dropped", extra={"detail": exc.detail, "id": message.message_id})
                REFUSALS.labels(self.identity.address, exc.code.value).inc()
                return "dropped"
            REFUSALS.labels(self.identity.address, exc.code.value).inc()
            raise Unprocessable(f"{exc.code}: {exc.detail}") from None
        envelope = opened.envelope
        CORRELATION.set(str(envelope.correlation_id or envelope.id))  # every log line of this handling
        log.info("handling", extra={"type": envelope.type, "sender": envelope.sender, "id": str(envelope.id)})
        if message.reply_to and self.clock.now() - accepted_at > self.sync_patience:
            # The caller has given up (the service was down or swamped): answering is pointless, and a
            # request nobody waits for is dropped, not kept or re-driven.
            log.info("stale synchronous request dropped", extra={"type": envelope.type, "id": str(envelope.id)})
            return "dropped"
        context = MessageContext(envelope=envelope, signer=opened.signer, accepted_at=accepted_at)
        route = self.routes.get(envelope.type)
        is_sync = bool(message.reply_to)
        if is_sync and not self._first_answer(f"{envelope.sender} {envelope.id}", accepted_at):
            # This very stamp was answered already (copied off the queue and sent again): no second answer.
            await self._publish(
                message, self._refusal_outcome(envelope, RefusalError(Refusal.REPLAYED), True)["reply"], None
            )
            return "refused"
        if route is None:
            outcome = self._refusal_outcome(
                envelope, RefusalError(Refusal.MALFORMED, f"unknown type {envelope.type}"), is_sync
            )
        elif route.transactional:
            outcome = await self._run_transactional(route, context, is_sync)
        else:
            try:
                outcome = self._outcome(context, await route.run(context, route.parse(envelope)), is_sync)
            except RefusalError as exc:
                outcome = self._refusal_outcome(envelope, exc, is_sync)
        await self._publish(message, outcome.get("reply"), outcome.get("messages", []))
        sent = [outcome.get("reply"), *(outcome.get("messages") or [])]
        return "refused" if any(m is not None and m[1] == REFUSAL for m in sent) else "accepted"

    def _first_answer(self, message: str, accepted_at: dt.datetime) -> bool:
        """Whether this delivery — this stamp: the message and when the gateway accepted it — is answered for
        the first time. A stamp copied and sent again is refused; a message the gateway itself delivers again
        (its first handling cut off by a broker incident) carries a new stamp and is answered, since its
        caller is still waiting. Remembered while such a request can live (``sync_patience``); older ones
        are dropped as stale anyway."""
        horizon = self.clock.now() - self.sync_patience
        while self._answered and next(iter(self._answered.values())) < horizon:
            self._answered.pop(next(iter(self._answered)))
        delivery = f"{message}@{accepted_at.isoformat()}"  # message: "<sender> <id>", ids are per sender
        if delivery in self._answered:
            return False
        self._answered[delivery] = accepted_at
        return True

    async def _run_transactional(self, route: Route[Any], context: MessageContext, is_sync: bool) -> dict[str, Any]:
        assert self.db is not None and self.inbox is not None, "transactional routes need a database"
        sender, message_id = context.envelope.sender, str(context.envelope.id)
        try:
            payload = route.parse(context.envelope)
        except RefusalError as exc:
            return await self._record(sender, message_id, self._refusal_outcome(context.envelope, exc, is_sync))
        if route.prepare is not None:
            # Before the preparation's exchanges: a redelivery is answered without repeating them. (Without
            # a preparation, the check inside the transaction below is the only one needed.)
            async with self.db.sessions() as session:
                prior = await self.inbox.outcome(session, sender, message_id)
            if prior is not None:
                log.info("redelivered message: re-sending its recorded outcome", extra={"id": message_id})
                return prior
            try:
                context.prepared = await route.prepare(context, payload)
            except RefusalError as exc:
                return await self._record(sender, message_id, self._refusal_outcome(context.envelope, exc, is_sync))
        try:
            async with self.db.transaction() as session:
                prior = await self.inbox.outcome(session, sender, message_id)
                if prior is not None:
                    log.info("redelivered message: re-sending its recorded outcome", extra={"id": message_id})
                    return prior
                context.session = session
                outcome = self._outcome(context, await route.run(context, payload), is_sync)
                await self.inbox.record(session, sender, message_id, outcome, self.clock.now())
                return outcome
        except RefusalError as exc:
            return await self._record(sender, message_id, self._refusal_outcome(context.envelope, exc, is_sync))
        except IntegrityError:
            # Either a concurrent delivery of the same id committed first (its outcome is recorded), or
            # the effect itself hit a constraint; then the message is retried and the handler's own
            # checks see the committed state.
            async with self.db.sessions() as session:
                prior = await self.inbox.outcome(session, sender, message_id)
            if prior is None:
                raise
            return prior

    async def _record(self, sender: str, message_id: str, outcome: dict[str, Any]) -> dict[str, Any]:
        """Record a refusal outcome (its effect was rolled back) unless another delivery recorded one."""
        assert self.db is not None and self.inbox is not None
        try:
            async with self.db.transaction() as session:
                prior = await self.inbox.outcome(session, sender, message_id)
                if prior is not None:
                    return prior
                await self.inbox.record(session, sender, message_id, outcome, self.clock.now())
                return outcome
        except IntegrityError:
            async with self.db.sessions() as session:
                prior = await self.inbox.outcome(session, sender, message_id)
            assert prior is not None
            return prior

    def _seal_reply(self, envelope: Envelope, type: str, payload: dict[str, Any]) -> list[str]:
        message_id, body = seal(
            self.identity,
            type=type,
            recipient=envelope.sender,
            payload=payload,
            clock=self.clock,
            correlation_id=envelope.id,
            ttl=self.reply_ttl,
            sender=envelope.recipient,
        )
        return [str(message_id), type, body.decode()]

    def _outcome(self, context: MessageContext, reply: dict[str, Any] | None, is_sync: bool) -> dict[str, Any]:
        envelope = context.envelope
        messages = []
        for type, recipient, payload, correlation_id in context.outgoing:
            message_id, body = seal(
                self.identity,
                type=type,
                recipient=recipient,
                payload=payload,
                clock=self.clock,
                correlation_id=correlation_id or envelope.correlation_id or envelope.id,
                ttl=dt.timedelta(days=1),
                sender=envelope.recipient,
            )
            messages.append([str(message_id), type, body.decode()])
        sealed = self._seal_reply(envelope, reply_type(envelope.type), reply or {}) if is_sync else None
        return {"reply": sealed, "messages": messages}

    def _refusal_outcome(self, envelope: Envelope, exc: RefusalError, is_sync: bool) -> dict[str, Any]:
        log.info("refused", extra={"type": envelope.type, "code": exc.code, "id": str(envelope.id)})
        REFUSALS.labels(self.identity.address, exc.code.value).inc()
        sealed = self._seal_reply(envelope, REFUSAL, refusal_payload(exc))
        if is_sync:
            return {"reply": sealed, "messages": []}
        return {"reply": None, "messages": [sealed]}

    async def _publish(
        self, request: AbstractIncomingMessage, reply: list[str] | None, messages: list[list[str]] | None
    ) -> None:
        if reply is not None:
            await self.bus.reply(request, reply[2].encode(), message_id=reply[0], type=reply[1])
        for message_id, type, body in messages or []:
            await self.bus.publish(queue_name(self.namespace, GATEWAY), body.encode(), message_id=message_id, type=type)


def on_the_wire(payload: Contract | dict[str, Any]) -> dict[str, Any]:
    """A payload as the envelope carries it (a model dumped to JSON types; a dict as it is)."""
    return payload if isinstance(payload, dict) else payload.model_dump(mode="json")


class MeshClient:
    """Sends signed messages through the gateway: request/reply (sync) and fire-and-confirm (async)."""

    def __init__(
        self, endpoint: MeshEndpoint, *, timeout: float = 10.0, ttl: dt.timedelta = dt.timedelta(minutes=5)
    ) -> None:
        self.endpoint = endpoint
        self.identity, self.store, self.clock = endpoint.identity, endpoint.store, endpoint.clock
        self.bus, self.namespace = endpoint.bus, endpoint.namespace
        self.timeout = timeout
        self.ttl = ttl

    async def request(
        self,
        recipient: str,
        type: str,
        payload: Contract | dict[str, Any],
        *,
        sender: str | None = None,
        message_id: uuid.UUID | None = None,
    ) -> dict[str, Any]:
        """Ask ``recipient`` through the gateway and return the verified reply payload.

        Raises RefusalError with the refusal's code (from the recipient or the gateway) and
        :class:`shared.messaging.bus.RequestTimeout` when nobody answers in time.
        """
        message_id, body = seal(
            self.identity,
            type=type,
            recipient=recipient,
            payload=on_the_wire(payload),
            clock=self.clock,
            correlation_id=CORRELATION.get(),  # asked on behalf of a citizen's request: it can be followed
            ttl=self.ttl,
            sender=sender,
            message_id=message_id,
        )
        reply = await self.bus.request(
            queue_name(self.namespace, GATEWAY), body, message_id=str(message_id), timeout=self.timeout, type=type
        )
        opened = open_envelope(reply.body, self.store, self.clock)
        answer = opened.envelope
        if answer.correlation_id != message_id or answer.sender not in (recipient, GATEWAY):
            raise RefusalError(Refusal.SIGNATURE_INVALID, "reply does not answer this request")
        if answer.type == REFUSAL:
            refusal = RefusalPayload.model_validate(answer.payload)
            raise RefusalError(refusal.code, refusal.detail or refusal.message)
        return answer.payload

    async def send(
        self,
        recipient: str,
        type: str,
        payload: Contract | dict[str, Any],
        *,
        correlation_id: uuid.UUID | str | None = None,
        message_id: uuid.UUID | None = None,
        ttl: dt.timedelta = dt.timedelta(days=1),
        sender: str | None = None,
    ) -> uuid.UUID:
        """Publish an asynchronous message to the gateway (confirmed by the broker); return its id.

        ``sender`` is the address spoken for when the certificate covers several (the АРМ's clinics)."""
        message_id, body = seal(
            self.identity,
            type=type,
            recipient=recipient,
            payload=on_the_wire(payload),
            clock=self.clock,
            correlation_id=correlation_id,
            ttl=ttl,
            message_id=message_id,
            sender=sender,
        )
        await self.bus.publish(queue_name(self.namespace, GATEWAY), body, message_id=str(message_id), type=type)
        return message_id


def ping_route(service: str) -> Route[Ping]:
    """``ping`` → :class:`Pong`: proves a service is reachable through the gateway.

    Asked synchronously it answers on the reply channel; sent asynchronously it answers with a ``pong``
    message back through the gateway, which shows that queued messages are processed.
    """

    async def pong(context: MessageContext, ping: Ping) -> Pong:
        answer = Pong(service=service, address=context.envelope.recipient, at=dt.datetime.now(dt.UTC))
        if ping.reply_async:
            context.send(PONG, context.envelope.sender, answer, str(context.envelope.id))
        return answer

    return Route(pong)


def logged_pong_route() -> Route[Pong]:
    """Log a ``pong`` without acting on it."""

    async def logged(context: MessageContext, pong: Pong) -> None:
        log.info("pong received", extra={"from": pong.service, "correlation_id": str(context.envelope.correlation_id)})

    return Route(logged)


def logged_refusal_route() -> Route[RefusalPayload]:
    """Record in the log that an async message of ours was refused (services that act on it override)."""

    async def refused(context: MessageContext, refusal: RefusalPayload) -> None:
        log.warning(
            "our message was refused",
            extra={"code": refusal.code, "correlation_id": str(context.envelope.correlation_id)},
        )

    return Route(refused)


def basic_routes(service: str) -> dict[str, Route[Any]]:
    """Routes every service answers: ``ping``, and the answers to its own async messages."""
    return {PING: ping_route(service), PONG: logged_pong_route(), REFUSAL: logged_refusal_route()}
