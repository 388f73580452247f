"""RabbitMQ names and declarations: the one place that knows how the mesh is laid out.

Every service publishes to the gateway's inbound queue; the gateway delivers to ``<ns>.<address>.in``.
Queues are durable quorum queues with a delivery limit and a per-queue dead-letter queue, declared
identically by every participant (so a message to a recipient that has not started yet waits for it).
Dead-letter queues are bounded in length and in age (:class:`DeadLetterLimits`).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import aio_pika
from aio_pika.abc import AbstractChannel, AbstractConnection
from aiormq.exceptions import ChannelPreconditionFailed

log = logging.getLogger(__name__)

SERVICES = ("portal", "gateway", "arm", "gbd_fl", "signature")  # the five services (one СФЕ each)
SERVICE_ADDRESSES = SERVICES  # their addresses on the bus ("arm": the АРМ system itself; clinics are arm.<БИН>)
GATEWAY = "gateway"
DIRECT_REPLY_TO = "amq.rabbitmq.reply-to"


def arm_address(bin_: str) -> str:
    """Gateway address of one clinic's workstation queue (``arm.<БИН>``, docs/architecture.md)."""
    return f"arm.{bin_}"


def queue_name(namespace: str, address: str) -> str:
    return f"{namespace}.{address}.in"


def portal_changes_exchange(namespace: str) -> str:
    """Fanout exchange on which portal replicas tell each other which request changed (ids only: no
    envelope, no personal data; it never leaves the portal, so it does not pass the gateway)."""
    return f"{namespace}.portal.changes"


def dead_letter_exchange(namespace: str) -> str:
    return f"{namespace}.dlx"


def dead_letter_queue(namespace: str, address: str) -> str:
    return f"{queue_name(namespace, address)}.dlq"


@dataclass(frozen=True, slots=True)
class DeadLetterLimits:
    """How much a dead-letter queue keeps: at most ``max_length`` messages (the oldest go first) and none
    older than ``max_age_seconds`` — an incident that dead-letters everything cannot fill the broker."""

    max_length: int
    max_age_seconds: float

    def arguments(self) -> dict[str, int | str]:
        return {
            "x-queue-type": "quorum",
            "x-max-length": self.max_length,
            "x-overflow": "drop-head",
            "x-message-ttl": int(self.max_age_seconds * 1000),
        }


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
