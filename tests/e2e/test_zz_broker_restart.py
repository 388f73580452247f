"""A broker crash loses no accepted request, and every service reconnects by itself.

Named to run last in each mesh: it restarts the local RabbitMQ (``rabbitmqctl stop_app``/``start_app``),
which the CI machine runs for the tests.
"""

from __future__ import annotations

import asyncio
import subprocess

import aio_pika
import httpx

from shared.messaging.dispatch import MeshClient
from shared.messaging.redrive import redrive
from shared.wire.contracts import PERSON_LOOKUP
from shared.wire.topology import SERVICES, arm_address, dead_letter_queue, portal_changes_exchange, queue_name
from tests.conftest import AMQP_URL, People
from tests.e2e.faults import submit, tally
from tests.e2e.test_eservices import CLINIC_1, CLINIC_4, HOME_CALL, citizens, listen
from tests.e2e.test_gateway import _queue_depth, journal
from tests.e2e.test_zy_faults import CROWD
from tests.waiting import until as wait_until
from tools.launcher import Mesh


def rabbitmq(action: str) -> None:
    subprocess.run(["rabbitmqctl", action], check=True, capture_output=True, timeout=120)


async def until(check, seconds: float = 60.0) -> object:  # type: ignore[no-untyped-def]
    """Wait for ``check``; while the broker and the services come back, any error counts as not yet."""
    return await wait_until(check, seconds, ignoring=(Exception,))


async def broker_seen_down_by(mesh: Mesh, service: str) -> bool:
    async with httpx.AsyncClient(base_url=mesh.url(service)) as http:
        answer = await http.get("/health/ready", timeout=2)
    return answer.status_code == 503 and answer.json()["checks"]["broker"] is False


async def test_queued_request_survives_a_broker_restart_and_everything_reconnects(
    mesh: Mesh, portal: MeshClient, citizen_factory, people: People, some_iin: str
) -> None:
    (citizen,) = await citizens(citizen_factory, people, "attached_1")
    assert (await citizen.call("GET", "/api/v1/me"))["attachment"]["clinic_bin"] == CLINIC_1
    mesh.stop_service("arm")  # so that the accepted request is still queued when the broker goes down
    request = await citizen.submit("home_call", **HOME_CALL)
    clinic_queue = queue_name(mesh.namespace, arm_address(CLINIC_1))
    assert await until(lambda: _depth_is(clinic_queue, 1), 10)
    rabbitmq("stop_app")
    try:  # down until the services have noticed: their connections are really gone, not just paused
        for service in ("portal", "gateway"):
            assert await until(lambda service=service: broker_seen_down_by(mesh, service), 30)
    finally:
        rabbitmq("start_app")
    assert await _queue_depth(None, clinic_queue) == 1  # the durable quorum queue kept it
    # The portal's notices to its other replicas are back too: its queue on the fanout is consumed again,
    # and the statuses applied after the restart are broadcast.
    assert await until(lambda: portal_listens_for_changes(mesh), 60)
    listener = await aio_pika.connect_robust(AMQP_URL)
    try:
        heard = await listen(listener, portal_changes_exchange(mesh.namespace))
        mesh.start_service("arm")
        mesh.wait_ready(["arm"], timeout=90)
        final = await citizen.wait(request["id"], seconds=90)
        assert final["status"] == "completed"
        assert [e["status"] for e in final["history"]] == ["submitted", "registered", "completed"]

        async def broadcast() -> bool:
            return request["id"].encode() in heard

        assert await until(broadcast, 30)
    finally:
        await listener.close()

    async def lookup_works() -> bool:  # the gateway's and gbd_fl's reply channels are back too
        return (await portal.request("gbd_fl", PERSON_LOOKUP, {"iin": some_iin}))["person"]["iin"] == some_iin

    assert await until(lookup_works, 60)


async def portal_listens_for_changes(mesh: Mesh) -> bool:
    """Whether a portal process consumes its queue on the fanout of changes (the broker's own list)."""
    command = ["rabbitmqctl", "-q", "list_queues", "name", "consumers"]
    listed = (await asyncio.to_thread(subprocess.run, command, check=True, capture_output=True, text=True)).stdout
    prefix = portal_changes_exchange(mesh.namespace) + "."
    return any(line.startswith(prefix) and line.split()[-1] != "0" for line in listed.splitlines())


async def _depth_is(name: str, depth: int) -> bool:
    return await _queue_depth(None, name) == depth


async def test_dead_lettered_messages_can_be_redriven(mesh: Mesh, portal: MeshClient) -> None:
    clinic = arm_address(CLINIC_1)
    mesh.stop_service("arm")
    try:
        # A message that came through the gateway but could not be handled ends in the dead-letter queue;
        # here one is parked there directly, as an operator would find it after an incident.
        message_id = await portal.send(clinic, "ping", {"reply_async": True})
        assert await until(lambda: _depth_is(queue_name(mesh.namespace, clinic), 1), 10)
        import aio_pika

        connection = await aio_pika.connect(AMQP_URL)
        async with connection:
            channel = await connection.channel()
            queue = await channel.get_queue(queue_name(mesh.namespace, clinic))
            parked = await queue.get()
            await parked.reject(requeue=False)  # → dead-letter exchange → the clinic's DLQ
        dlq = dead_letter_queue(mesh.namespace, clinic)
        assert await until(lambda: _depth_is(dlq, 1), 10)
        assert await redrive(AMQP_URL, mesh.namespace, clinic) == 1
        assert await _queue_depth(None, dlq) == 0
        assert await _queue_depth(None, queue_name(mesh.namespace, clinic)) == 1
    finally:
        mesh.start_service("arm")
        mesh.wait_ready(["arm"], timeout=90)
    assert await until(lambda: _depth_is(queue_name(mesh.namespace, clinic), 0), 30)

    async def answered() -> bool:  # processed at last: the clinic's pong went back through the gateway
        return any(r["type"] == "pong" and r["outcome"] == "delivered" for r in await journal(mesh, message_id))

    assert await until(answered, 30)


async def test_a_broker_restart_under_load_loses_duplicates_and_strands_nothing(
    mesh: Mesh, citizen_factory, people: People, ca, clock
) -> None:
    """Eight citizens submitting when the broker goes down and comes back: every accepted request gets
    its outcome, once (the counts join the fault tests' table)."""
    crowd = [await citizen_factory(p).enter() for p in people.take("attached_4", CROWD)]
    for citizen in crowd:
        assert (await citizen.call("GET", "/api/v1/me"))["attachment"]["clinic_bin"] == CLINIC_4
    tasks = [asyncio.create_task(submit(c)) for c in crowd]
    await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)  # under load: at least one is in
    rabbitmq("stop_app")
    try:
        for service in ("portal", "gateway"):
            assert await until(lambda service=service: broker_seen_down_by(mesh, service), 30)
    finally:
        rabbitmq("start_app")
    submitted = await asyncio.gather(*tasks)
    mesh.wait_ready(list(SERVICES), timeout=90)

    counts = (await tally("broker restarted", mesh, ca, clock, crowd, submitted)).counts
    assert counts["accepted"], counts
    assert counts["lost"] == counts["stuck"] == counts["duplicated"] == 0, counts
    assert counts["completed"] + counts["refused"] + counts["failed"] == counts["accepted"], counts
