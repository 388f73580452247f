"""Nothing lost, nothing applied twice: a consumer killed mid-message, and a poison message."""

from __future__ import annotations

import logging
import sqlite3
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import aio_pika
import pytest
from aio_pika.abc import AbstractIncomingMessage

from shared.messaging.bus import Bus
from shared.messaging.dispatch import MeshClient
from shared.messaging.topology import declare
from shared.wire.contracts import PING
from shared.wire.topology import DeadLetterLimits, arm_address, dead_letter_queue, queue_name
from tests.conftest import AMQP_URL, CLINICS
from tests.e2e.test_gateway import _queue_depth
from tests.waiting import until
from tools.launcher import ROOT, Mesh

CLINIC = arm_address(CLINICS[1].bin)


@pytest.fixture
def arm_stopped(mesh: Mesh) -> Iterator[None]:
    """Take the real АРМ off its queues so that the helper is the only consumer."""
    mesh.stop_service("arm")
    try:
        yield
    finally:
        mesh.start_service("arm")
        mesh.wait_ready(["arm"])


def start_helper(mesh: Mesh, workdir: Path, mode: str) -> subprocess.Popen[str]:
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.helpers.effect_consumer", CLINIC, str(workdir), mode],
        cwd=ROOT,
        env=mesh.base_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    assert process.stdout is not None and process.stdout.readline().strip() == "ready"
    return process


def effects(workdir: Path) -> list[str]:
    with sqlite3.connect(workdir / "effects.db") as db:
        return [row[0] for row in db.execute("SELECT message_id FROM effects")]


def deliveries(workdir: Path, message_id: str) -> list[str]:
    lines = (workdir / "deliveries.log").read_text().splitlines() if (workdir / "deliveries.log").exists() else []
    return [flag for mid, flag in (line.split() for line in lines) if mid == message_id]


@pytest.mark.usefixtures("arm_stopped")
async def test_killed_consumer_redelivers_and_the_effect_applies_once(
    mesh: Mesh, portal: MeshClient, tmp_path: Path
) -> None:
    crashing = start_helper(mesh, tmp_path, "crash")
    message_id = str(await portal.send(CLINIC, PING, {}))
    assert crashing.wait(timeout=15) == 9  # died after committing, before acking
    assert effects(tmp_path) == [message_id]
    assert deliveries(tmp_path, message_id) == ["False"]

    survivor = start_helper(mesh, tmp_path, "normal")
    try:

        async def drained() -> bool:
            return (
                len(deliveries(tmp_path, message_id)) == 2
                and await _queue_depth(None, queue_name(mesh.namespace, CLINIC)) == 0
            )

        await until(drained, 45, "the redelivery handled and the queue drained")
        assert deliveries(tmp_path, message_id) == ["False", "True"]  # the broker redelivered it
        assert effects(tmp_path) == [message_id]  # …and the effect was not applied again
    finally:
        survivor.terminate()
        survivor.wait()


@pytest.mark.usefixtures("arm_stopped")
async def test_poison_message_is_dead_lettered_while_the_consumer_keeps_serving(
    mesh: Mesh, portal: MeshClient, tmp_path: Path
) -> None:
    helper = start_helper(mesh, tmp_path, "poison")
    try:
        poison_id = str(await portal.send(CLINIC, PING, {"poison": True}))
        good_id = str(await portal.send(CLINIC, PING, {}))
        dlq = dead_letter_queue(mesh.namespace, CLINIC)

        async def poison_parked() -> bool:
            return await _queue_depth(None, dlq) == 1

        await until(poison_parked, 45, "the poison message dead-lettered")
        assert await _queue_depth(None, dlq) == 1
        assert len(deliveries(tmp_path, poison_id)) >= 3  # retried up to the delivery limit (3 in tests)
        assert helper.poll() is None  # the consumer is still serving
        later_id = str(await portal.send(CLINIC, PING, {}))

        async def served() -> bool:
            return set(effects(tmp_path)) >= {good_id, later_id}

        await until(served, 45, "the good messages served")
        assert set(effects(tmp_path)) == {good_id, later_id}
        assert await _queue_depth(None, queue_name(mesh.namespace, CLINIC)) == 0
    finally:
        helper.terminate()
        helper.wait()


async def test_a_failing_synchronous_request_is_dropped_on_its_last_delivery_not_dead_lettered() -> None:
    """A consumer that fails on every delivery (a bug, or a process killed each time): an asynchronous
    message ends in the dead-letter queue for an operator; a synchronous request is dropped on its last
    delivery instead, since its caller stopped waiting long before (the gateway's own queue, for one)."""
    namespace, limit = f"lastdelivery-{uuid.uuid4().hex[:6]}", 2
    bus = Bus(AMQP_URL, name="failing", delivery_limit=limit)
    await bus.connect()
    assert bus.connection is not None
    await declare(bus.connection, namespace, ["probe"], limit, DeadLetterLimits(100, 3600))
    queue, dlq = queue_name(namespace, "probe"), dead_letter_queue(namespace, "probe")
    seen: list[str] = []

    async def failing(message: AbstractIncomingMessage) -> None:
        seen.append(str(message.message_id))
        raise RuntimeError("a bug")

    try:
        await bus.consume(queue, failing)
        await bus.publish(queue, b"{}", message_id="async-1")
        sync = aio_pika.Message(b"{}", message_id="sync-1", reply_to="amq.rabbitmq.reply-to.gone")
        await bus.channel.default_exchange.publish(sync, routing_key=queue)

        async def settled() -> bool:
            return (
                seen.count("sync-1") == limit + 1
                and await _queue_depth(None, dlq) == 1
                and await _queue_depth(None, queue) == 0
            )

        await until(settled, 45, "both messages delivered up to the limit and settled")
        parked = await (await bus.channel.get_queue(dlq)).get(no_ack=True)
        assert parked.message_id == "async-1"  # the asynchronous one, for an operator to look at or re-drive
    finally:
        await bus.close()
        connection = await aio_pika.connect(AMQP_URL)
        async with connection:
            channel = await connection.channel()
            for name in (queue, dlq):
                await channel.queue_delete(name)


async def test_a_notice_reaches_every_subscriber_and_with_none_it_is_dropped(
    mesh: Mesh, caplog: pytest.LogCaptureFixture
) -> None:
    """Notices (``Bus.broadcast``) reach every process subscribed at the time, the sender included. One sent
    with nobody subscribed is dropped by the broker — not returned to the sender, where it would be logged as
    an unhandled message on every status a lone portal applies while its queue is being restored."""
    exchange = f"{mesh.namespace}.test-notices.{uuid.uuid4().hex[:6]}"
    first, second = Bus(AMQP_URL, name="notices-1"), Bus(AMQP_URL, name="notices-2")
    await first.connect()
    await second.connect()
    heard: dict[str, list[bytes]] = {"first": [], "second": []}
    try:
        with caplog.at_level(logging.DEBUG):
            await first.broadcast(exchange, b"before", app_id="first")  # nobody subscribed yet
            for name, bus in (("first", first), ("second", second)):

                async def hear(message: AbstractIncomingMessage, name: str = name) -> None:
                    heard[name].append(message.body)

                await bus.subscribe(exchange, hear)
            await first.broadcast(exchange, b"after", app_id="first")

            async def both_heard() -> bool:
                return all(heard.values())

            await until(both_heard, 30, "the notice at both subscribers")
        assert heard == {"first": [b"after"], "second": [b"after"]}
        assert not [r for r in caplog.records if "Unhandled message" in r.getMessage()]  # nothing came back
    finally:
        await first.channel.exchange_delete(exchange)
        await first.close()
        await second.close()
