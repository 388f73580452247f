"""One test body against the in-memory bus and RabbitMQ (FastStream's model): a service's dispatcher applies a
message's effect once however often it arrives, refuses an unstamped one, and dead-letters one whose handler
fails on every delivery — the same verdicts on both, so that component tests may run on the memory bus."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aio_pika
import pytest
from prometheus_client import REGISTRY
from sqlalchemy import Column, MetaData, String, Table, insert, select

from services.signature.ca import DevCA, bootstrap
from shared.messaging.bus import Bus
from shared.messaging.dispatch import Dispatcher, MeshEndpoint, MessageContext, Route
from shared.messaging.inbox import Inbox
from shared.messaging.memory import MemoryBus
from shared.messaging.topology import declare
from shared.platform.db import Database
from shared.wire.certs import TrustStore
from shared.wire.clock import Clock
from shared.wire.contracts import PING, Contract
from shared.wire.envelope import ServiceIdentity, peek, seal
from shared.wire.stamp import STAMP_HEADER, make_stamp
from shared.wire.topology import DeadLetterLimits, dead_letter_queue, queue_name
from tests.conftest import AMQP_URL
from tests.waiting import until

LIMIT = 2


class Probe(Contract):
    """A ping with a switch that makes its handler fail (a bug, as a poison message meets one)."""

    poison: bool = False


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Path:
    ca = DevCA(tmp_path_factory.mktemp("pki"), clock=Clock())
    bootstrap(ca, population_size=0)
    return ca.folder


@dataclass
class Harness:
    bus: Bus
    dead_letters: Callable[[], Awaitable[int]]
    queue: str


@pytest.fixture(params=["memory", "rabbitmq"])
async def harness(request: pytest.FixtureRequest) -> AsyncIterator[Harness]:
    namespace = f"both-{uuid.uuid4().hex[:6]}"
    queue = queue_name(namespace, "gbd_fl")
    if request.param == "memory":
        memory = MemoryBus(delivery_limit=LIMIT)

        async def parked_in_memory() -> int:
            return len(memory.dead_letters[queue])

        yield Harness(memory, parked_in_memory, queue)
        return
    bus = Bus(AMQP_URL, name="both", delivery_limit=LIMIT)
    await bus.connect()
    assert bus.connection is not None
    await declare(bus.connection, namespace, ["gbd_fl"], LIMIT, DeadLetterLimits(100, 3600))

    async def parked_in_rabbitmq() -> int:
        connection = await aio_pika.connect(AMQP_URL)
        async with connection:
            declared = await (await connection.channel()).declare_queue(
                dead_letter_queue(namespace, "gbd_fl"), passive=True
            )
            return int(declared.declaration_result.message_count or 0)

    try:
        yield Harness(bus, parked_in_rabbitmq, queue)
    finally:
        await bus.close()
        connection = await aio_pika.connect(AMQP_URL)
        async with connection:
            channel = await connection.channel()
            for name in (queue, dead_letter_queue(namespace, "gbd_fl")):
                await channel.queue_delete(name)


async def test_one_effect_per_message_and_poison_dead_lettered(harness: Harness, pki: Path, tmp_path: Path) -> None:
    clock = Clock()
    metadata = MetaData()
    effects = Table("effects", metadata, Column("message_id", String(36)))
    inbox = Inbox(metadata)
    db = Database(f"sqlite+aiosqlite:///{tmp_path / 'effects.db'}")
    await db.create_all(metadata)
    handled: list[str] = []

    async def ping(context: MessageContext, probe: Probe) -> None:
        handled.append(str(context.envelope.id))
        if probe.poison:
            raise RuntimeError("a bug")
        assert context.session is not None
        await context.session.execute(insert(effects).values(message_id=str(context.envelope.id)))

    store = TrustStore.from_files(pki / "trust.pem", pki / "crl", clock=clock)
    identity = ServiceIdentity.from_pki("gbd_fl", pki, "service-gbd_fl")
    endpoint = MeshEndpoint(harness.bus, identity, store, clock, harness.queue.split(".")[0])
    dispatcher = Dispatcher(endpoint, {PING: Route(ping, transactional=True, contract=Probe)}, db=db, inbox=inbox)
    dispatcher.addresses = {"gbd_fl"}
    await harness.bus.consume(harness.queue, dispatcher.handle)
    portal, gateway = (
        ServiceIdentity.from_pki("portal", pki, "service-portal"),
        ServiceIdentity.from_pki("gateway", pki, "service-gateway"),
    )

    async def send(payload: dict[str, Any], message_id: uuid.UUID | None = None, *, stamped: bool = True) -> str:
        sent, raw = seal(portal, type=PING, recipient="gbd_fl", payload=payload, clock=clock, message_id=message_id)
        headers = {STAMP_HEADER: make_stamp(gateway, peek(raw), raw, clock.now())} if stamped else {}  # type: ignore[arg-type]
        await harness.bus.publish(harness.queue, raw, message_id=str(sent), type=PING, headers=headers)
        return str(sent)

    async def effect_rows() -> list[str]:
        async with db.sessions() as session:
            return list(await session.scalars(select(effects.c.message_id)))

    try:
        first = await send({})
        await until(lambda: _equal(effect_rows, [first]), 20, "the effect applied")
        before = _handled_by_gbd_fl()
        await send({}, uuid.UUID(first))  # the same message again, with a new stamp: the inbox answers it
        await until(lambda: _more(before), 20, "the copy settled")
        assert handled.count(first) == 1  # its recorded outcome was sent again; the handler never ran twice
        later = await send({})
        await until(lambda: _equal(effect_rows, [first, later]), 20, "the next effect applied")
        assert await effect_rows() == [first, later]  # the copy changed nothing
        await send({}, stamped=False)  # not through the gateway: refused, dead-lettered, never handled
        await until(lambda: _parked(harness, 1), 20, "the unstamped message dead-lettered")
        poison = await send({"poison": True})
        await until(lambda: _parked(harness, 2), 30, "the poison message dead-lettered")
        assert handled.count(poison) == LIMIT + 1  # the first delivery and LIMIT more
        assert await effect_rows() == [first, later]
    finally:
        await db.close()


async def _equal(read: Callable[[], Awaitable[list[str]]], expected: list[str]) -> bool:
    return sorted(await read()) == sorted(expected)


def _handled_by_gbd_fl() -> float:
    """Pings the gbd_fl dispatcher has finished with, whatever became of them (its /metrics counter)."""
    return sum(
        REGISTRY.get_sample_value("emhana_bus_messages_total", {"service": "gbd_fl", "type": PING, "outcome": o}) or 0
        for o in ("accepted", "refused", "dropped", "dead-lettered", "failed")
    )


async def _more(before: float) -> bool:
    return _handled_by_gbd_fl() > before


async def _parked(harness: Harness, expected: int) -> bool:
    return await harness.dead_letters() == expected
