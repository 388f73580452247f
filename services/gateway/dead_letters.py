"""The dead-letter queues as an operator sees them: each one's depth and the age of its oldest message,
exported as metrics by the gateway (which declares every address's queues) and alerted on
(deploy/alerts.yml)."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from typing import Any

from aio_pika.abc import AbstractChannel
from pamqp import commands as spec

from shared.platform.metrics import DEAD_LETTER_AGE, DEAD_LETTER_MAX_LENGTH, DEAD_LETTERS
from shared.wire.topology import DeadLetterLimits, dead_letter_queue

log = logging.getLogger(__name__)


def dead_since(headers: dict[str, Any], timestamp: dt.datetime | None) -> dt.datetime | None:
    """When the message was dead-lettered: the broker's ``x-death`` record (newest first), else the time
    its sender stamped on it."""
    deaths = headers.get("x-death")
    moment = deaths[0].get("time") if isinstance(deaths, list) and deaths and isinstance(deaths[0], dict) else None
    moment = moment if isinstance(moment, dt.datetime) else timestamp
    if moment is None:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


async def measure(channel: AbstractChannel, namespace: str, address: str) -> tuple[int, float]:
    """The depth of ``address``'s dead-letter queue and the age in seconds of its oldest message. The
    oldest is looked at and handed straight back (unacknowledged), so nothing is taken from the queue.
    Ages are by the real clock, as the broker's are (not the services' clock, which tests and demos move).
    Asked on the channel underneath (aio-pika's robust channel answers a passive declaration from memory)."""
    name = dead_letter_queue(namespace, address)
    underlay = await channel.get_underlay_channel()
    declared = await underlay.queue_declare(name, passive=True)
    depth = int(declared.message_count or 0) if declared is not None else 0
    if depth == 0:
        return 0, 0.0
    oldest = await underlay.basic_get(name, no_ack=False)
    if not isinstance(oldest.delivery, spec.Basic.GetOk):
        return depth, 0.0
    try:
        properties = oldest.header.properties
        since = dead_since(properties.headers or {}, properties.timestamp)
    finally:
        await underlay.basic_nack(oldest.delivery.delivery_tag, requeue=True)
    return depth, max(0.0, (dt.datetime.now(dt.UTC) - since).total_seconds()) if since else 0.0


async def watch(
    channel: AbstractChannel,
    namespace: str,
    addresses: list[str],
    limits: DeadLetterLimits,
    every: float,
) -> None:
    """Refresh the dead-letter gauges of every address every ``every`` seconds."""
    DEAD_LETTER_MAX_LENGTH.set(limits.max_length)
    while True:
        for address in addresses:
            try:
                depth, age = await measure(channel, namespace, address)
            except Exception:
                log.warning("dead-letter queue not measured", extra={"address": address}, exc_info=True)
                continue
            DEAD_LETTERS.labels(address).set(depth)
            DEAD_LETTER_AGE.labels(address).set(age)
        await asyncio.sleep(every)
