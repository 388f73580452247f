"""A stand-in АРМ consumer for broker-semantics tests, built from the real shared Dispatcher.

``python -m tests.helpers.effect_consumer <address> <workdir> <mode>`` consumes ``<address>``'s queue.
Its ``ping`` route is transactional and writes one row per message into ``effects``; every delivery is
appended to ``deliveries.log`` with the broker's redelivered flag. Modes:

* ``normal`` — process and ack;
* ``crash``  — commit the effect, then die before publishing the outcome and acking (os._exit);
* ``poison`` — raise on ``{"poison": true}`` (a bug), process everything else.
"""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

from sqlalchemy import Column, MetaData, String, Table, insert

from shared.messaging.bus import Bus
from shared.messaging.dispatch import Dispatcher, MeshEndpoint, MessageContext, Route
from shared.messaging.inbox import Inbox
from shared.messaging.topology import declare
from shared.platform.db import Database
from shared.wire.certs import TrustStore
from shared.wire.clock import Clock
from shared.wire.contracts import PING, Contract
from shared.wire.envelope import ServiceIdentity
from shared.wire.topology import DeadLetterLimits, queue_name

LIMITS = DeadLetterLimits(max_length=1000, max_age_seconds=3600)


class Probe(Contract):
    """A ping with a switch that makes its handler fail (a bug, as a poison message meets one)."""

    poison: bool = False


async def main(address: str, workdir: Path, mode: str) -> None:
    namespace, pki = os.environ["EMHANA_NAMESPACE"], Path(os.environ["EMHANA_PKI_DIR"])
    metadata = MetaData()
    effects = Table("effects", metadata, Column("message_id", String(36)))
    inbox = Inbox(metadata)
    db = Database(f"sqlite+aiosqlite:///{workdir / 'effects.db'}")
    await db.create_all(metadata)

    async def ping(context: MessageContext, probe: Probe) -> None:
        if mode == "poison" and probe.poison:
            raise RuntimeError("simulated bug")
        assert context.session is not None
        await context.session.execute(insert(effects).values(message_id=str(context.envelope.id)))

    clock = Clock(float(os.environ.get("EMHANA_CLOCK_OFFSET_SECONDS", "0")))
    limit = int(os.environ.get("EMHANA_DELIVERY_LIMIT", "5"))
    bus = Bus(os.environ["AMQP_URL"], name=f"helper-{mode}", prefetch=8, delivery_limit=limit)
    await bus.connect()
    endpoint = MeshEndpoint(
        bus=bus,
        identity=ServiceIdentity.from_pki("arm", pki, "service-arm"),
        store=TrustStore.from_files(pki / "trust.pem", pki / "crl", clock=clock),
        clock=clock,
        namespace=namespace,
    )
    dispatcher = Dispatcher(endpoint, {PING: Route(ping, transactional=True, contract=Probe)}, db=db, inbox=inbox)
    dispatcher.addresses = {address}
    if mode == "crash":

        async def die(*_args: object) -> None:
            os._exit(9)  # the effect is committed; the outcome is not sent and the message not acked

        dispatcher._publish = die  # type: ignore[method-assign]

    async def handle(message) -> None:  # type: ignore[no-untyped-def]
        with open(workdir / "deliveries.log", "a") as log:
            log.write(f"{message.message_id} {message.redelivered}\n")
        await dispatcher.handle(message)

    assert bus.connection is not None
    await declare(bus.connection, namespace, [address], limit, LIMITS)
    await bus.consume(queue_name(namespace, address), handle)
    print("ready", flush=True)
    await asyncio.Event().wait()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], Path(sys.argv[2]), sys.argv[3]))
