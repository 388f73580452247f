"""A thin layer over aio-pika: the only module that talks AMQP.

* Publishing uses publisher confirms and ``mandatory``: an unroutable message raises
  :class:`aio_pika.exceptions.DeliveryError` instead of vanishing.
* Consumers ack only after the handler returned, i.e. after its effect is committed. A handler that
  raises :class:`Unprocessable` has its message dead-lettered at once; any other exception requeues it,
  and the queue's delivery limit dead-letters a poison message while the consumer keeps serving.
* Request/reply uses RabbitMQ's Direct Reply-To (no reply queue per client).
* Notices (:meth:`Bus.broadcast`, :meth:`Bus.subscribe`) are the exception to all of the above: transient
  hints on a fanout exchange to every process subscribed, unconfirmed and unacked, for what a process can
  also find out by itself, only later (a portal replica's long-polls re-read the request anyway).
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import aio_pika
import aiormq
from aio_pika.abc import (
    AbstractExchange,
    AbstractIncomingMessage,
    AbstractQueue,
    AbstractRobustChannel,
    AbstractRobustConnection,
)

from shared.platform.metrics import DEAD_LETTERED, DROPPED
from shared.wire.topology import DIRECT_REPLY_TO

log = logging.getLogger(__name__)

Handler = Callable[[AbstractIncomingMessage], Awaitable[None]]


RECOVERY_WAIT = 30.0  # how long a publish waits for its channel to be restored
RECOVERY_PAUSE = 2.0  # pause before requeueing a message that met an infrastructure error
INFRASTRUCTURE_ERRORS = (
    aiormq.exceptions.AMQPError,
    aiormq.exceptions.ChannelInvalidStateError,
    ConnectionError,
    TimeoutError,
)


async def _settle(action: Awaitable[Any]) -> None:
    """Ack/nack on a channel that may have died meanwhile (then the broker redelivers anyway)."""
    try:
        await action
    except INFRASTRUCTURE_ERRORS:
        log.info("could not settle a message; the broker will redeliver it")


class Unprocessable(Exception):
    """The message can never be processed (malformed, forged…): dead-letter it now, do not retry."""


class RequestTimeout(Exception):
    """No reply arrived within the timeout."""


class Bus:
    """One robust AMQP connection with channels for publishing, consuming and request/reply."""

    def __init__(self, url: str, *, name: str, prefetch: int = 64, delivery_limit: int | None = None) -> None:
        self.url = url
        self.name = name
        self.prefetch = prefetch
        self.delivery_limit = delivery_limit  # the queues' x-delivery-limit, when this bus is to know it
        self.connection: AbstractRobustConnection | None = None
        self._publish: AbstractRobustChannel | None = None
        self._consume: AbstractRobustChannel | None = None
        self._rpc: AbstractRobustChannel | None = None
        self._quiet: AbstractRobustChannel | None = None  # transient notices: no publisher confirms
        self._fanouts: dict[str, AbstractExchange] = {}
        self._pending: dict[str, asyncio.Future[AbstractIncomingMessage]] = {}
        self._consumers: list[tuple[AbstractQueue, str]] = []
        self._in_flight: set[asyncio.Task[Any]] = set()
        self._replies_ready = asyncio.Event()

    async def connect(self, timeout: float = 10.0) -> None:
        """Connect (raises ``ConnectionError``-like errors when no broker answers)."""
        self.connection = await aio_pika.connect_robust(
            self.url, timeout=timeout, client_properties={"connection_name": self.name}
        )
        self._publish = await self.connection.channel(publisher_confirms=True, on_return_raises=True)
        self._consume = await self.connection.channel(publisher_confirms=True, on_return_raises=True)
        await self._consume.set_qos(prefetch_count=self.prefetch)
        # Direct Reply-To: requests must be published on the channel that consumes the pseudo-queue.
        self._rpc = await self.connection.channel(publisher_confirms=True, on_return_raises=True)
        # aio-pika reopens channels and restores declared queues and their consumers, but not a consumer
        # on the Direct Reply-To pseudo-queue; without it the broker closes the channel on every request.
        self._rpc.close_callbacks.add(lambda *_: self._replies_ready.clear())
        self._rpc.reopen_callbacks.add(self._consume_replies)
        await self._consume_replies()
        self._quiet = await self.connection.channel(publisher_confirms=False)

    async def _consume_replies(self, *_: Any) -> None:
        assert self._rpc is not None
        reply_queue = await self._rpc.get_queue(DIRECT_REPLY_TO, ensure=False)
        await reply_queue.consume(self._on_reply, no_ack=True)
        self._replies_ready.set()

    async def _usable(self, channel: AbstractRobustChannel, timeout: float) -> None:
        """Wait (bounded) for a channel that is being restored after a broker or network incident."""
        await asyncio.wait_for(channel.ready(), timeout)
        if channel is self._rpc:
            await asyncio.wait_for(self._replies_ready.wait(), timeout)

    @property
    def channel(self) -> AbstractRobustChannel:
        """Channel for declarations."""
        assert self._publish is not None, "bus not connected"
        return self._publish

    @property
    def is_ready(self) -> bool:
        """Connected right now. A robust connection stays "open" while it reconnects; its ``connected``
        event is what says whether the broker is actually there (readiness must say when it is not)."""
        return self.connection is not None and not self.connection.is_closed and self.connection.connected.is_set()

    async def publish(
        self,
        routing_key: str,
        body: bytes,
        *,
        message_id: str,
        type: str | None = None,
        correlation_id: str | None = None,
        headers: dict[str, Any] | None = None,
    ) -> None:
        """Publish a persistent message to a queue and wait for the broker's confirm."""
        assert self._publish is not None, "bus not connected"
        message = aio_pika.Message(
            body,
            message_id=message_id,
            type=type,
            correlation_id=correlation_id,
            headers=headers or {},
            content_type="application/json",
            delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
        )
        await self._usable(self._publish, RECOVERY_WAIT)
        await self._publish.default_exchange.publish(message, routing_key=routing_key, mandatory=True)

    async def request(
        self,
        routing_key: str,
        body: bytes,
        *,
        message_id: str,
        timeout: float,
        type: str | None = None,
        headers: dict[str, Any] | None = None,
    ) -> AbstractIncomingMessage:
        """Send a request and wait for the reply correlated to ``message_id``."""
        assert self._rpc is not None, "bus not connected"
        future: asyncio.Future[AbstractIncomingMessage] = asyncio.get_running_loop().create_future()
        self._pending[message_id] = future
        try:
            message = aio_pika.Message(
                body,
                message_id=message_id,
                type=type,
                headers=headers or {},
                reply_to=DIRECT_REPLY_TO,
                content_type="application/json",
                delivery_mode=aio_pika.DeliveryMode.NOT_PERSISTENT,
                # No broker expiration: an expired message would be dead-lettered, and an outage would fill
                # the dead-letter queues with requests nobody waits for. Receivers drop stale requests.
            )
            await self._usable(self._rpc, timeout)
            await self._rpc.default_exchange.publish(message, routing_key=routing_key, mandatory=True)
            return await asyncio.wait_for(future, timeout)
        except TimeoutError:
            raise RequestTimeout(f"no reply within {timeout}s") from None
        finally:
            self._pending.pop(message_id, None)

    async def _on_reply(self, message: AbstractIncomingMessage) -> None:
        future = self._pending.get(message.correlation_id or "")
        if future is not None and not future.done():
            future.set_result(message)

    async def reply(self, request: AbstractIncomingMessage, body: bytes, *, message_id: str, type: str) -> None:
        """Answer a request over Direct Reply-To."""
        if not request.reply_to:
            return
        assert self._publish is not None, "bus not connected"
        message = aio_pika.Message(
            body,
            message_id=message_id,
            type=type,
            correlation_id=request.message_id,
            content_type="application/json",
        )
        # Not mandatory: RabbitMQ returns mandatory messages sent to a Direct Reply-To address even when it
        # delivers them, and a requester that has gone away has stopped waiting anyway.
        await self._publish.default_exchange.publish(message, routing_key=request.reply_to, mandatory=False)

    async def broadcast(self, exchange: str, body: bytes, *, app_id: str) -> None:
        """Publish a transient notice to every subscriber of a fanout exchange (:meth:`subscribe`), without
        waiting for a confirm: a lost notice costs its subscribers only their fallback (a later re-read)."""
        assert self._quiet is not None, "bus not connected"
        target = self._fanouts.get(exchange)
        if target is None:  # declared once (publishing to a missing exchange would close the channel)
            target = await self._quiet.declare_exchange(exchange, aio_pika.ExchangeType.FANOUT, durable=True)
            self._fanouts[exchange] = target
        # Not mandatory: with no subscriber bound (yet), the broker drops the notice instead of returning it.
        await target.publish(aio_pika.Message(body, app_id=app_id), routing_key="", mandatory=False)

    async def subscribe(self, exchange: str, handler: Handler) -> None:
        """Receive every notice broadcast on ``exchange`` while this process runs: a queue of this process
        alone (exclusive, deleted with its connection), restored with its binding after a reconnection."""
        assert self._consume is not None and self.connection is not None, "bus not connected"
        fanout = await self._consume.declare_exchange(exchange, aio_pika.ExchangeType.FANOUT, durable=True)
        queue = await self._consume.declare_queue(
            f"{exchange}.{uuid.uuid4().hex}", exclusive=True, auto_delete=True, durable=False
        )
        await queue.bind(fanout)
        tag = await queue.consume(handler, no_ack=True)
        self._consumers.append((queue, tag))

    async def consume(self, queue_name: str, handler: Handler) -> None:
        """Consume a declared queue; ack after ``handler`` returns (see module docstring)."""
        assert self._consume is not None, "bus not connected"
        queue = await self._consume.get_queue(queue_name, ensure=True)

        async def on_message(message: AbstractIncomingMessage) -> None:
            task = asyncio.current_task()
            if task is not None:
                self._in_flight.add(task)
            try:
                await self.deliver(queue_name, message, handler)
            finally:
                if task is not None:
                    self._in_flight.discard(task)

        tag = await queue.consume(on_message)
        self._consumers.append((queue, tag))

    async def deliver(self, queue_name: str, message: AbstractIncomingMessage, handler: Handler) -> None:
        """Run ``handler`` on one delivery and settle it: ack when it returns; dead-letter what can never be
        processed; requeue after any other failure (after a pause when the broker itself is recovering).
        A synchronous request is never dead-lettered — its caller has stopped waiting by then, and kept it
        would only fill the queue (re-drive drops it too): it is dropped instead. The in-memory bus
        (:mod:`shared.messaging.memory`) settles through this same method."""
        try:
            await handler(message)
        except Unprocessable as exc:
            if message.reply_to:
                log.warning(
                    "synchronous request dropped: %s", exc, extra={"queue": queue_name, "id": message.message_id}
                )
                DROPPED.labels(self.name, queue_name).inc()
                await _settle(message.ack())
                return
            log.warning("message dead-lettered: %s", exc, extra={"queue": queue_name, "id": message.message_id})
            DEAD_LETTERED.labels(self.name, queue_name).inc()
            await _settle(message.reject(requeue=False))
        except INFRASTRUCTURE_ERRORS as exc:
            # The broker or a channel is recovering: not the message's fault. Pause before requeueing so
            # that its few deliveries are not all spent in the moment of the incident.
            log.warning(
                "infrastructure error; message requeued after a pause: %r", exc, extra={"id": message.message_id}
            )
            await asyncio.sleep(RECOVERY_PAUSE)
            await _settle(message.nack(requeue=True))
        except Exception:
            if message.reply_to and self._last_delivery(message):
                # The broker would dead-letter it on this return (see above).
                log.exception(
                    "synchronous request failed on its last delivery; dropped", extra={"id": message.message_id}
                )
                DROPPED.labels(self.name, queue_name).inc()
                await _settle(message.ack())
                return
            log.exception("handler failed; message requeued", extra={"queue": queue_name, "id": message.message_id})
            await _settle(message.nack(requeue=True))
        else:
            await _settle(message.ack())

    def _last_delivery(self, message: AbstractIncomingMessage) -> bool:
        """Whether a failure now makes the broker dead-letter the message (quorum queues count returns in
        ``x-delivery-count`` and dead-letter a message returned more than ``x-delivery-limit`` times)."""
        if self.delivery_limit is None:
            return False
        returned = message.headers.get("x-delivery-count") or 0
        return isinstance(returned, int) and returned >= self.delivery_limit

    async def close(self, grace: float = 5.0) -> None:
        """Stop consuming, let handlers in flight finish (up to ``grace`` seconds), then disconnect."""
        for queue, tag in self._consumers:
            try:
                await queue.cancel(tag)
            except Exception:
                log.debug("cancel failed", exc_info=True)
        self._consumers.clear()
        if self._in_flight:
            await asyncio.wait(set(self._in_flight), timeout=grace)
        if self.connection is not None:
            await self.connection.close()
            self.connection = None
