"""The bus in memory: the interface of :class:`shared.messaging.bus.Bus`, for fast component tests of one
service's handlers (FastStream's ``TestRabbitBroker`` is the model). The end-to-end tests stay on RabbitMQ.

Queues are lists; a consumer gets each message as RabbitMQ would hand it over — body, id, type, reply-to,
headers, the redelivered flag and ``x-delivery-count`` — and it is settled by the very code the real bus
uses (:meth:`Bus.deliver`): acked, requeued (delivered again, up to the delivery limit), dead-lettered
into :attr:`MemoryBus.dead_letters`, or dropped. A request waits for the reply its consumer sends.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from shared.messaging.bus import Bus, Handler, RequestTimeout


@dataclass(eq=False)
class MemoryMessage:
    """The parts of aio-pika's incoming message that handlers read, and its settlement."""

    body: bytes
    message_id: str | None = None
    type: str | None = None
    correlation_id: str | None = None
    reply_to: str | None = None
    headers: dict[str, Any] = field(default_factory=dict)
    app_id: str | None = None
    redelivered: bool = False
    timestamp: dt.datetime | None = None
    settled: str | None = None  # "acked", "requeued", "dead-lettered"

    async def ack(self) -> None:
        self.settled = "acked"

    async def nack(self, requeue: bool = True) -> None:
        self.settled = "requeued" if requeue else "dead-lettered"

    async def reject(self, requeue: bool = False) -> None:
        await self.nack(requeue=requeue)


class MemoryBus(Bus):
    """A :class:`Bus` whose broker is this process's memory."""

    def __init__(self, *, name: str = "memory", delivery_limit: int | None = 5) -> None:
        super().__init__("memory://", name=name, delivery_limit=delivery_limit)
        self.queues: dict[str, list[MemoryMessage]] = defaultdict(list)
        self.dead_letters: dict[str, list[MemoryMessage]] = defaultdict(list)
        self.handlers: dict[str, Handler] = {}
        self.subscribers: dict[str, list[Handler]] = defaultdict(list)
        self.published: list[tuple[str, MemoryMessage]] = []  # every message sent, in order: what a test reads
        self._waiting: dict[str, asyncio.Future[MemoryMessage]] = {}

    async def connect(self, timeout: float = 10.0) -> None:
        return None

    @property
    def is_ready(self) -> bool:
        return True

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
        message = MemoryMessage(body, message_id, type, correlation_id, headers=dict(headers or {}))
        await self._route(routing_key, message)

    async def request(  # type: ignore[override]  # a MemoryMessage stands in for aio-pika's message
        self,
        routing_key: str,
        body: bytes,
        *,
        message_id: str,
        timeout: float,
        type: str | None = None,
        headers: dict[str, Any] | None = None,
    ) -> MemoryMessage:
        reply_to = f"memory.reply-to.{uuid.uuid4().hex}"
        future: asyncio.Future[MemoryMessage] = asyncio.get_running_loop().create_future()
        self._waiting[reply_to] = future
        message = MemoryMessage(body, message_id, type, reply_to=reply_to, headers=dict(headers or {}))
        try:
            await self._route(routing_key, message)
            return await asyncio.wait_for(future, timeout)
        except TimeoutError:
            raise RequestTimeout(f"no reply within {timeout}s") from None
        finally:
            self._waiting.pop(reply_to, None)

    async def reply(self, request: Any, body: bytes, *, message_id: str, type: str) -> None:
        future = self._waiting.get(request.reply_to or "")
        answer = MemoryMessage(body, message_id, type, correlation_id=request.message_id)
        self.published.append((request.reply_to or "", answer))
        if future is not None and not future.done():
            future.set_result(answer)

    async def broadcast(self, exchange: str, body: bytes, *, app_id: str) -> None:
        for handler in list(self.subscribers[exchange]):
            await handler(MemoryMessage(body, app_id=app_id))  # type: ignore[arg-type]

    async def subscribe(self, exchange: str, handler: Handler) -> None:
        self.subscribers[exchange].append(handler)

    async def consume(self, queue_name: str, handler: Handler) -> None:
        self.handlers[queue_name] = handler
        waiting, self.queues[queue_name] = self.queues[queue_name], []
        for message in waiting:
            await self._deliver(queue_name, message)

    async def close(self, grace: float = 5.0) -> None:
        self.handlers.clear()

    async def _route(self, routing_key: str, message: MemoryMessage) -> None:
        self.published.append((routing_key, message))
        if routing_key in self.handlers:
            await self._deliver(routing_key, message)
        else:
            self.queues[routing_key].append(message)

    async def _deliver(self, queue_name: str, message: MemoryMessage) -> None:
        """Hand the message to the queue's consumer, as the broker does, until it is settled for good."""
        while True:
            message.settled = None
            await self.deliver(queue_name, message, self.handlers[queue_name])  # type: ignore[arg-type]
            if message.settled == "dead-lettered":
                self.dead_letters[queue_name].append(message)
            if message.settled != "requeued":
                return
            returned = int(message.headers.get("x-delivery-count") or 0) + 1
            if self.delivery_limit is not None and returned > self.delivery_limit:
                self.dead_letters[queue_name].append(message)  # a quorum queue's delivery limit
                return
            message.headers["x-delivery-count"] = returned
            message.redelivered = True
