"""The bus topology declared on RabbitMQ: each address's inbound quorum queue and its bounded dead-letter
queue (the names and the limits' shape are :mod:`shared.wire.topology`)."""

from __future__ import annotations

import logging

import aio_pika
from aio_pika.abc import AbstractChannel, AbstractConnection
from aiormq.exceptions import ChannelPreconditionFailed

from shared.wire.topology import DeadLetterLimits, dead_letter_exchange, dead_letter_queue, queue_name

log = logging.getLogger(__name__)


async def declare_dead_letter_queue(connection: AbstractConnection, name: str, limits: DeadLetterLimits) -> None:
    """A dead-letter queue with its limits. One declared by an older version without them is kept as it
    is (a queue's arguments cannot change): the operator gives it the limits by a policy (docs/operations.md).
    Tried on a channel of its own, since the broker closes the channel that asks for other arguments."""
    try:
        async with connection.channel(publisher_confirms=False) as channel:
            await channel.declare_queue(name, durable=True, arguments=limits.arguments())
    except ChannelPreconditionFailed:
        log.warning("dead-letter queue declared without limits: apply them by a policy", extra={"queue": name})


async def declare(
    connection: AbstractConnection, namespace: str, addresses: list[str], delivery_limit: int, limits: DeadLetterLimits
) -> None:
    """Declare (idempotently) the inbound queue and dead-letter queue of each address."""
    for address in addresses:
        await declare_dead_letter_queue(connection, dead_letter_queue(namespace, address), limits)
    async with connection.channel(publisher_confirms=False) as channel:
        await _declare(channel, namespace, addresses, delivery_limit)


async def _declare(channel: AbstractChannel, namespace: str, addresses: list[str], delivery_limit: int) -> None:
    dlx = await channel.declare_exchange(dead_letter_exchange(namespace), aio_pika.ExchangeType.DIRECT, durable=True)
    for address in addresses:
        name = queue_name(namespace, address)
        dlq = await channel.get_queue(dead_letter_queue(namespace, address), ensure=True)
        await dlq.bind(dlx, routing_key=name)
        await channel.declare_queue(
            name,
            durable=True,
            arguments={
                "x-queue-type": "quorum",
                "x-delivery-limit": delivery_limit,
                "x-dead-letter-exchange": dead_letter_exchange(namespace),
                "x-dead-letter-routing-key": name,
            },
        )
