"""Move dead-lettered messages back to their queue: ``python -m shared.messaging.redrive <address> [--namespace NS]``.

For operators, after the cause is fixed (a service that failed on every delivery, a broker incident).
Each message is republished with a confirm and only then removed from the dead-letter queue, so nothing
is lost; receivers are idempotent, and the gateway judges replays and expiry again. Synchronous requests
(with a reply-to) are dropped instead: their callers have long stopped waiting.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys

import aio_pika

from shared.wire.topology import DEFAULT_NAMESPACE, LOCAL_BROKER_URL, dead_letter_queue, queue_name


async def redrive(amqp_url: str, namespace: str, address: str, limit: int | None = None) -> int:
    """Move up to ``limit`` messages from ``address``'s dead-letter queue back to its queue; return the count."""
    connection = await aio_pika.connect(amqp_url)
    moved = dropped = 0
    async with connection:
        channel = await connection.channel(publisher_confirms=True, on_return_raises=True)
        source = await channel.get_queue(dead_letter_queue(namespace, address), ensure=True)
        target = queue_name(namespace, address)
        while limit is None or moved < limit:
            message = await source.get(no_ack=False, fail=False)
            if message is None:
                break
            if message.reply_to:  # a synchronous request: its caller gave up long ago; never replay it
                await message.ack()
                dropped += 1
                continue
            headers = {k: v for k, v in (message.headers or {}).items() if k not in ("x-death", "x-delivery-count")}
            await channel.default_exchange.publish(
                aio_pika.Message(
                    message.body,
                    headers=headers,
                    message_id=message.message_id,
                    type=message.type,
                    correlation_id=message.correlation_id,
                    content_type=message.content_type,
                    delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
                ),
                routing_key=target,
                mandatory=True,
            )
            await message.ack()
            moved += 1
    if dropped:
        print(f"{dropped} synchronous request(s) dropped: nobody waits for their answer", file=sys.stderr)
    return moved


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m shared.messaging.redrive", description=__doc__.splitlines()[0])
    parser.add_argument("address", help="e.g. gateway, portal, arm.980440012347")
    parser.add_argument("--namespace", default=os.environ.get("EMHANA_NAMESPACE", DEFAULT_NAMESPACE))
    parser.add_argument("--limit", type=int)
    args = parser.parse_args(argv)
    amqp_url = os.environ.get("AMQP_URL", LOCAL_BROKER_URL)
    moved = asyncio.run(redrive(amqp_url, args.namespace, args.address, args.limit))
    print(f"{moved} message(s) moved back to {queue_name(args.namespace, args.address)}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
