"""RabbitMQ names and declarations: the one place that knows how the mesh is laid out.

Every service publishes to the gateway's inbound queue; the gateway delivers to ``<ns>.<address>.in``.
Queues are durable quorum queues with a delivery limit and a per-queue dead-letter queue, declared
identically by every participant (so a message to a recipient that has not started yet waits for it).
"""

from __future__ import annotations

import aio_pika
from aio_pika.abc import AbstractChannel

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


async def declare(channel: AbstractChannel, namespace: str, addresses: list[str], delivery_limit: int) -> None:
    """Declare (idempotently) the inbound queue and dead-letter queue of each address."""
    dlx = await channel.declare_exchange(dead_letter_exchange(namespace), aio_pika.ExchangeType.DIRECT, durable=True)
    for address in addresses:
        name = queue_name(namespace, address)
        dlq = await channel.declare_queue(
            dead_letter_queue(namespace, address), durable=True, arguments={"x-queue-type": "quorum"}
        )
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
