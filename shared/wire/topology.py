"""RabbitMQ names and declarations: the one place that knows how the mesh is laid out.

Every service publishes to the gateway's inbound queue; the gateway delivers to ``<ns>.<address>.in``.
Queues are durable quorum queues with a delivery limit and a per-queue dead-letter queue, declared
identically by every participant (so a message to a recipient that has not started yet waits for it).
Dead-letter queues are bounded in length and in age (:class:`DeadLetterLimits`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

SERVICES = ("portal", "gateway", "arm", "gbd_fl", "signature")  # the five services (one СФЕ each)
DEFAULT_NAMESPACE = "emhana"  # the prefix of every queue and exchange of a deployment
LOCAL_BROKER_URL = "amqp://guest:guest@localhost:5672/"  # RabbitMQ as a development machine runs it
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

    def arguments(self) -> dict[str, Any]:  # an AMQP field table
        return {
            "x-queue-type": "quorum",
            "x-max-length": self.max_length,
            "x-overflow": "drop-head",
            "x-message-ttl": int(self.max_age_seconds * 1000),
        }
