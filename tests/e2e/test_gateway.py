"""The gateway (ШЭП) over the real broker: routing, access rights, identity, expiry, replay, journal."""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid

import aio_pika
import httpx
import pytest

from services.signature.ca import OPERATOR_BIN, DevCA
from shared.messaging.bus import Bus
from shared.messaging.dispatch import MeshClient, MeshEndpoint
from shared.wire.certs import TrustStore
from shared.wire.clock import Clock
from shared.wire.contracts import PERSON_LOOKUP, PING, PONG
from shared.wire.envelope import ServiceIdentity, open_envelope, seal
from shared.wire.refusals import Refusal, RefusalError
from shared.wire.topology import arm_address, dead_letter_queue, queue_name
from tests.conftest import AMQP_URL, CLINICS, OPERATOR_TOKEN, free_port, identity
from tests.helpers.metrics import metric_total
from tests.waiting import until
from tools.launcher import Mesh

CLINIC = arm_address(CLINICS[0].bin)


async def refused(call) -> RefusalError:  # type: ignore[no-untyped-def]
    with pytest.raises(RefusalError) as info:
        await call
    return info.value


async def journal(mesh: Mesh, correlation_id: uuid.UUID | str) -> list[dict]:
    async with httpx.AsyncClient(base_url=mesh.url("gateway")) as http:
        response = await http.get(
            "/api/v1/journal",
            params={"correlation_id": str(correlation_id)},
            headers={"Authorization": f"Bearer {OPERATOR_TOKEN}"},
        )
    assert response.status_code == 200, response.text
    return response.json()


async def send_raw(bus: Bus, mesh: Mesh, store: TrustStore, raw: bytes, message_id: uuid.UUID) -> dict:
    """Publish exact bytes to the gateway as a sync request and return the verified answer envelope."""
    reply = await bus.request(queue_name(mesh.namespace, "gateway"), raw, message_id=str(message_id), timeout=10)
    return open_envelope(reply.body, store, store.clock).envelope.model_dump(mode="json")


async def test_lookup_round_trip_is_journaled(portal: MeshClient, mesh: Mesh, some_iin: str) -> None:
    message_id = uuid.uuid4()
    answer = await portal.request("gbd_fl", PERSON_LOOKUP, {"iin": some_iin}, message_id=message_id)
    assert answer["person"]["iin"] == some_iin and answer["person"]["alive"] is True
    rows = await journal(mesh, message_id)
    assert [(r["sender"], r["recipient"], r["outcome"]) for r in rows] == [
        ("portal", "gbd_fl", "replied"),
        ("gbd_fl", "portal", "relayed"),
    ]
    assert rows[0]["message_id"] == str(message_id) and rows[1]["correlation_id"] == str(message_id)
    assert all(len(r["body_sha256"]) == 64 for r in rows)


async def test_a_second_gateway_process_shares_the_queue_and_routes_each_message_once(
    portal: MeshClient, mesh: Mesh, some_iin: str
) -> None:
    """Scaling out is more processes consuming the same queue (a compose replica): with two gateway
    processes every lookup is answered and journaled exactly once, and both processes take part."""
    second = mesh.start_replica("gateway", free_port())
    try:
        await asyncio.to_thread(mesh.wait_ready, [second], 120)
        routed = "emhana_gateway_routed_total"
        before = {process: await metric_total(mesh, process, routed) for process in ("gateway", second)}
        ids = [uuid.uuid4() for _ in range(20)]
        answers = await asyncio.gather(
            *(portal.request("gbd_fl", PERSON_LOOKUP, {"iin": some_iin}, message_id=i) for i in ids)
        )
        assert all(answer["person"]["iin"] == some_iin for answer in answers)
        for message_id in ids:
            assert [r["outcome"] for r in await journal(mesh, message_id)] == ["replied", "relayed"]
        shares = {process: await metric_total(mesh, process, routed) - before[process] for process in before}
        assert sum(shares.values()) == 2 * len(ids) and all(shares.values()), shares
    finally:
        mesh.stop_service(second)


async def test_lookup_refusals(portal: MeshClient) -> None:
    assert (
        await refused(portal.request("gbd_fl", PERSON_LOOKUP, {"iin": "850315300019"}))
    ).code is Refusal.PERSON_NOT_FOUND
    assert (await refused(portal.request("gbd_fl", PERSON_LOOKUP, {"iin": "85031530001"}))).code is Refusal.IIN_INVALID
    assert (await refused(portal.request("gbd_fl", PERSON_LOOKUP, {"name": "x"}))).code is Refusal.MALFORMED


async def test_every_service_is_reachable_through_the_gateway(portal: MeshClient) -> None:
    for address in ("gbd_fl", "signature", *(arm_address(c.bin) for c in CLINICS)):
        pong = await portal.request(address, PING, {})
        assert pong["address"] == address


async def test_unknown_recipient(portal: MeshClient, mesh: Mesh) -> None:
    message_id = uuid.uuid4()
    error = await refused(portal.request("nowhere", PING, {}, message_id=message_id))
    assert error.code is Refusal.ROUTE_UNKNOWN
    # a valid БИН that is not in the provider directory
    assert (await refused(portal.request(arm_address("190540027185"), PING, {}))).code is Refusal.ROUTE_UNKNOWN
    assert [r["outcome"] for r in await journal(mesh, message_id)] == ["refused:ROUTE_UNKNOWN"]


async def test_sender_not_allowed(mesh: Mesh, bus: Bus, store: TrustStore, clock: Clock) -> None:
    gbd_fl = MeshClient(MeshEndpoint(bus, identity(mesh, "gbd_fl"), store, clock, mesh.namespace))
    assert (await refused(gbd_fl.request(CLINIC, PING, {}))).code is Refusal.ACCESS_DENIED
    portal = MeshClient(MeshEndpoint(bus, identity(mesh, "portal"), store, clock, mesh.namespace))
    assert (await refused(portal.request("gbd_fl", "document.verify", {}))).code is Refusal.ACCESS_DENIED


async def test_certificate_not_of_the_sender(mesh: Mesh, bus: Bus, store: TrustStore, ca: DevCA, clock: Clock) -> None:
    # gbd_fl's certificate claiming to be the portal
    impostor = identity(mesh, "gbd_fl")
    message_id, raw = seal(impostor, type=PING, recipient="signature", payload={}, clock=clock, sender="portal")
    answer = await send_raw(bus, mesh, store, raw, message_id)
    assert (answer["type"], answer["payload"]["code"]) == ("refusal", "SIGNATURE_INVALID")
    # a citizen's certificate (no information-system role) cannot speak for any service
    citizen = ca.issue_person("850315300019", "A", "B")
    as_citizen = ServiceIdentity("portal", citizen.key, citizen.chain)
    message_id, raw = seal(as_citizen, type=PING, recipient="signature", payload={}, clock=clock)
    answer = await send_raw(bus, mesh, store, raw, message_id)
    assert answer["payload"]["code"] == "SIGNATURE_INVALID"


async def test_message_ids_are_each_senders_own(mesh: Mesh, bus: Bus, store: TrustStore, clock: Clock) -> None:
    """An id the portal used, reused by a clinic's АРМ (validly signed in its own name), is the clinic's
    message, not a replay of the portal's; the clinic's own second copy is."""
    message_id = uuid.uuid4()

    def ping(service: str, sender: str) -> bytes:
        signer = identity(mesh, service)
        return seal(
            signer, type=PING, recipient="signature", payload={}, clock=clock, message_id=message_id, sender=sender
        )[1]

    for service, sender in (("portal", "portal"), ("arm", CLINIC)):
        answer = await send_raw(bus, mesh, store, ping(service, sender), message_id)
        assert answer["type"] == "ping.reply", (sender, answer["payload"])
    again = await send_raw(bus, mesh, store, ping("arm", CLINIC), message_id)
    assert again["payload"]["code"] == "REPLAYED"


async def test_replayed_id_is_refused_even_after_a_gateway_restart(
    mesh: Mesh, bus: Bus, store: TrustStore, some_iin: str, clock: Clock
) -> None:
    portal = identity(mesh, "portal")
    message_id, raw = seal(portal, type=PERSON_LOOKUP, recipient="gbd_fl", payload={"iin": some_iin}, clock=clock)
    first = await send_raw(bus, mesh, store, raw, message_id)
    assert first["type"] == "person.lookup.reply"
    second = await send_raw(bus, mesh, store, raw, message_id)
    assert (second["sender"], second["payload"]["code"]) == ("gateway", "REPLAYED")
    mesh.stop_service("gateway")
    mesh.start_service("gateway")
    mesh.wait_ready(["gateway"])
    third = await send_raw(bus, mesh, store, raw, message_id)
    assert third["payload"]["code"] == "REPLAYED"
    outcomes = [r["outcome"] for r in await journal(mesh, message_id) if r["message_id"] == str(message_id)]
    assert outcomes == ["replied", "refused:REPLAYED", "refused:REPLAYED"]


async def test_expired_message(mesh: Mesh, bus: Bus, store: TrustStore, clock: Clock) -> None:
    past = clock.shifted(-600)
    message_id, raw = seal(
        identity(mesh, "portal"), type=PING, recipient="gbd_fl", payload={}, clock=past, ttl=dt.timedelta(minutes=5)
    )
    answer = await send_raw(bus, mesh, store, raw, message_id)
    assert answer["payload"]["code"] == "EXPIRED"


async def test_revoked_service_certificate_is_refused_within_seconds(
    mesh: Mesh, bus: Bus, store: TrustStore, ca: DevCA, clock: Clock
) -> None:
    fresh = ca.issue_service("portal", OPERATOR_BIN)
    client = MeshClient(
        MeshEndpoint(bus, ServiceIdentity("portal", fresh.key, fresh.chain), store, clock, mesh.namespace)
    )
    assert (await client.request("gbd_fl", PING, {}))["service"] == "gbd_fl"
    ca.revoke(fresh.certificate.serial_number)

    async def refused() -> Refusal | None:
        try:
            await client.request("gbd_fl", PING, {})
        except RefusalError as exc:
            return exc.code
        return None

    assert await until(refused, 30, "the revoked certificate refused") is Refusal.CERT_REVOKED


async def _queue_depth(_bus: Bus, name: str) -> int:
    """Ready messages in a queue, asked on a plain channel (a robust channel caches declarations)."""
    connection = await aio_pika.connect(AMQP_URL)
    async with connection:
        channel = await connection.channel()
        queue = await channel.declare_queue(name, passive=True)
        return int(queue.declaration_result.message_count or 0)


async def test_async_message_waits_for_a_recipient_that_is_down(mesh: Mesh, bus: Bus, portal: MeshClient) -> None:
    mesh.stop_service("arm")
    try:
        message_id = await portal.send(CLINIC, PING, {"reply_async": True})
        rows = await until(lambda: journal(mesh, message_id), 30, "the message journaled")
        assert [(r["recipient"], r["outcome"]) for r in rows] == [(CLINIC, "delivered")]
        assert await _queue_depth(bus, queue_name(mesh.namespace, CLINIC)) == 1
    finally:
        mesh.start_service("arm")
        mesh.wait_ready(["arm"])

    async def pongs() -> list[dict]:
        return [r for r in await journal(mesh, message_id) if r["type"] == PONG]

    pong = await until(pongs, 30, "the АРМ's pong journaled")
    assert [(r["sender"], r["recipient"], r["outcome"]) for r in pong] == [(CLINIC, "portal", "delivered")]

    async def emptied() -> bool:  # the АРМ acks right after publishing its pong
        return await _queue_depth(bus, queue_name(mesh.namespace, CLINIC)) == 0

    await until(emptied, 30, "the АРМ's queue emptied")


async def test_direct_publish_bypassing_the_gateway_is_not_answered(
    mesh: Mesh, bus: Bus, store: TrustStore, some_iin: str, clock: Clock
) -> None:
    message_id, raw = seal(
        identity(mesh, "portal"), type=PERSON_LOOKUP, recipient="gbd_fl", payload={"iin": some_iin}, clock=clock
    )
    reply = await bus.request(queue_name(mesh.namespace, "gbd_fl"), raw, message_id=str(message_id), timeout=10)
    answer = open_envelope(reply.body, store, clock).envelope
    assert (answer.type, answer.payload["code"]) == ("refusal", "ACCESS_DENIED")
    assert "person" not in answer.payload


async def test_journal_needs_the_operator_token(mesh: Mesh) -> None:
    async with httpx.AsyncClient(base_url=mesh.url("gateway")) as http:
        anonymous = await http.get("/api/v1/journal", params={"correlation_id": "x"})
        wrong = await http.get(
            "/api/v1/journal", params={"correlation_id": "x"}, headers={"Authorization": "Bearer nope"}
        )
        directory = await http.get("/api/v1/providers")
    assert anonymous.status_code == 401 and anonymous.json()["code"] == "UNAUTHORIZED"
    assert wrong.status_code == 401
    assert {p["bin"] for p in directory.json()} == {c.bin for c in CLINICS}


async def test_an_oversized_message_is_refused_once_before_parsing_and_dropped(mesh: Mesh, bus: Bus) -> None:
    message_id = str(uuid.uuid4())
    body = b'{"payload": "' + b"A" * (13 * 1024 * 1024) + b'"}'
    await bus.publish(queue_name(mesh.namespace, "gateway"), body, message_id=message_id, type=PING)
    rows = await until(lambda: journal(mesh, message_id), 30, "the refusal journaled")
    assert [r["outcome"] for r in rows] == ["refused:MALFORMED"]  # once: dropped, not redelivered


def poison_envelopes(message_id: str) -> dict[str, bytes]:
    """Envelopes whose payload no receiver should try to sign or walk: NaN, 2^60, 10,000-deep JSON."""
    now = dt.datetime.now(dt.UTC)
    head = (
        f'{{"id": "{message_id}", "type": "person.lookup", "sender": "portal", "recipient": "gbd_fl",'
        f' "correlation_id": null, "issued_at": "{now.isoformat()}",'
        f' "expires_at": "{(now + dt.timedelta(minutes=1)).isoformat()}", "signature": "a..b", "payload": '
    )
    return {
        "nan": (head + '{"iin": NaN}}').encode(),
        "huge_integer": (head + f'{{"iin": {2**60}}}}}').encode(),
        "deep": (head + '{"iin": ' + "[" * 10_000 + "]" * 10_000 + "}}").encode(),
    }


@pytest.mark.parametrize("kind", ["nan", "huge_integer", "deep"])
async def test_poison_envelopes_are_refused_once_as_malformed(mesh: Mesh, bus: Bus, kind: str) -> None:
    message_id = str(uuid.uuid4())
    raw = poison_envelopes(message_id)[kind]
    await bus.publish(queue_name(mesh.namespace, "gateway"), raw, message_id=message_id, type=PERSON_LOOKUP)
    rows = await until(lambda: journal(mesh, message_id), 30, "the refusal journaled")
    assert [r["outcome"] for r in rows] == ["refused:MALFORMED"]
    # Sent straight to a service's queue: refused once and dropped there too, not dead-lettered.
    service_queue, dlq = queue_name(mesh.namespace, "gbd_fl"), dead_letter_queue(mesh.namespace, "gbd_fl")
    parked = await _queue_depth(bus, dlq)

    def dropped() -> int:
        assert mesh.log_file is not None
        return sum(
            "gbd_fl" in line and "malformed message dropped" in line for line in mesh.log_file.open(errors="replace")
        )

    before = dropped()
    await bus.publish(service_queue, raw, message_id=str(uuid.uuid4()), type=PERSON_LOOKUP)

    async def logged() -> bool:
        return dropped() > before

    await until(logged, 30, "the drop logged")
    assert dropped() == before + 1
    assert await _queue_depth(bus, service_queue) == 0 and await _queue_depth(bus, dlq) == parked


@pytest.mark.parametrize("age_seconds", [0, 60])
async def test_a_synchronous_request_nobody_waits_for_any_more_is_dropped(
    mesh: Mesh, bus: Bus, store: TrustStore, some_iin: str, clock: Clock, age_seconds: int
) -> None:
    """A lookup the gateway accepted a minute ago (the service was down meanwhile) is dropped unanswered;
    the same lookup accepted just now is answered."""
    from shared.messaging.bus import RequestTimeout
    from shared.wire.envelope import peek
    from shared.wire.stamp import STAMP_HEADER, make_stamp

    message_id, raw = seal(
        identity(mesh, "portal"), type=PERSON_LOOKUP, recipient="gbd_fl", payload={"iin": some_iin}, clock=clock
    )
    envelope = peek(raw)
    assert envelope is not None
    accepted = clock.now() - dt.timedelta(seconds=age_seconds)
    headers = {STAMP_HEADER: make_stamp(identity(mesh, "gateway"), envelope, raw, accepted, sync=True)}
    queue, dlq = queue_name(mesh.namespace, "gbd_fl"), dead_letter_queue(mesh.namespace, "gbd_fl")
    parked = await _queue_depth(bus, dlq)
    if age_seconds == 0:
        reply = await bus.request(queue, raw, message_id=str(message_id), timeout=10, headers=headers)
        assert open_envelope(reply.body, store, clock).envelope.payload["person"]["iin"] == some_iin
        # The same stamped request copied and sent again (another reply-to): no second answer.
        again = await bus.request(queue, raw, message_id=str(message_id), timeout=10, headers=headers)
        refusal = open_envelope(again.body, store, clock).envelope
        assert (refusal.type, refusal.payload["code"]) == ("refusal", "REPLAYED") and "person" not in refusal.payload
        return
    with pytest.raises(RequestTimeout):
        await bus.request(queue, raw, message_id=str(message_id), timeout=3, headers=headers)
    assert mesh.log_file is not None
    assert str(message_id) in "".join(
        line for line in mesh.log_file.open(errors="replace") if "stale synchronous request dropped" in line
    )
    assert await _queue_depth(bus, queue) == 0 and await _queue_depth(bus, dlq) == parked


async def test_redrive_moves_transactions_back_and_drops_synchronous_requests(mesh: Mesh) -> None:
    from shared.messaging.redrive import redrive
    from shared.messaging.topology import declare
    from shared.wire.topology import DeadLetterLimits

    namespace = f"redrive-{uuid.uuid4().hex[:6]}"
    connection = await aio_pika.connect(AMQP_URL)
    async with connection:
        channel = await connection.channel()
        await declare(connection, namespace, ["probe"], delivery_limit=3, limits=DeadLetterLimits(1000, 3600))
        dlq = dead_letter_queue(namespace, "probe")
        for reply_to in (None, "amq.rabbitmq.reply-to.gone"):
            message = aio_pika.Message(b"{}", message_id=str(uuid.uuid4()), reply_to=reply_to)
            await channel.default_exchange.publish(message, routing_key=dlq)
        try:

            async def both_parked() -> bool:
                return (await channel.declare_queue(dlq, passive=True)).declaration_result.message_count == 2

            await until(both_parked, 10, "both messages in the dead-letter queue")
            assert await redrive(AMQP_URL, namespace, "probe") == 1  # the transaction; the lookup is dropped
            assert (await channel.declare_queue(dlq, passive=True)).declaration_result.message_count == 0
            back = await channel.declare_queue(queue_name(namespace, "probe"), passive=True)
            assert back.declaration_result.message_count == 1
        finally:
            for name in (queue_name(namespace, "probe"), dlq):
                await channel.queue_delete(name)


async def test_dead_letter_queues_are_bounded_in_length_and_in_age() -> None:
    from shared.messaging.topology import declare
    from shared.wire.topology import DeadLetterLimits

    namespace = f"bounded-{uuid.uuid4().hex[:6]}"
    connection = await aio_pika.connect(AMQP_URL)
    async with connection:
        channel = await connection.channel()
        await declare(connection, namespace, ["probe"], delivery_limit=3, limits=DeadLetterLimits(3, 2.0))
        dlq = dead_letter_queue(namespace, "probe")
        try:
            for n in range(5):
                await channel.default_exchange.publish(aio_pika.Message(f"{n}".encode()), routing_key=dlq)

            async def depth() -> int:
                return int((await channel.declare_queue(dlq, passive=True)).declaration_result.message_count or 0)

            await until(lambda: _equals(depth, 3), 10, "the queue at its length limit")
            kept = []
            for _ in range(3):
                message = await (await channel.get_queue(dlq)).get(no_ack=True)
                kept.append(message.body.decode())
            assert kept == ["2", "3", "4"]  # the oldest went first
            await channel.default_exchange.publish(aio_pika.Message(b"aging"), routing_key=dlq)
            await until(lambda: _equals(depth, 1), 10, "the new dead letter in the queue")
            await until(lambda: _equals(depth, 0), 30, "the dead letter dropped at its age limit")
            # A dead-letter queue an older version declared without limits is used as it is (and logged).
            await declare(connection, namespace, ["probe"], delivery_limit=3, limits=DeadLetterLimits(50, 60.0))
        finally:
            for name in (queue_name(namespace, "probe"), dlq):
                await channel.queue_delete(name)


async def _equals(measure, expected: int) -> bool:  # type: ignore[no-untyped-def]
    return await measure() == expected


async def test_dead_letters_are_measured_and_synchronous_requests_never_parked(
    mesh: Mesh, bus: Bus, store: TrustStore, clock: Clock
) -> None:
    """The gateway exports each dead-letter queue's depth and its oldest message's age; a synchronous
    request that cannot be processed is dropped, not dead-lettered (nobody waits for its answer)."""
    dlq = dead_letter_queue(mesh.namespace, "gbd_fl")
    target = queue_name(mesh.namespace, "gbd_fl")
    before = await _queue_depth(bus, dlq)
    dropped_before = await metric_total(mesh, "gbd_fl", "emhana_sync_requests_dropped_total")
    # Not through the gateway (no stamp): unprocessable at ГБД ФЛ.
    message_id, raw = seal(identity(mesh, "portal"), type=PING, recipient="gbd_fl", payload={}, clock=clock)
    await bus.publish(target, raw, message_id=str(message_id), type=PING)

    async def parked() -> bool:
        return await _queue_depth(bus, dlq) == before + 1

    await until(parked, 30, "the unstamped message dead-lettered")

    async def measured() -> bool:
        text = await gateway_metrics(mesh)
        depth = _sample(text, 'emhana_dead_letters{queue="gbd_fl"}')
        age = _sample(text, 'emhana_dead_letter_oldest_age_seconds{queue="gbd_fl"}')
        return depth == before + 1 and age is not None and age > 0

    await until(measured, 30, "the gateway's dead-letter gauges")
    assert _sample(
        (await httpx.AsyncClient().get(mesh.url("gateway") + "/metrics")).text, "emhana_dead_letter_max_length"
    )
    # The same, as a synchronous request: dropped, never parked.
    message_id, raw = seal(identity(mesh, "portal"), type=PING, recipient="gbd_fl", payload={}, clock=clock)
    message = aio_pika.Message(raw, message_id=str(message_id), type=PING, reply_to="amq.rabbitmq.reply-to.gone")
    connection = await aio_pika.connect(AMQP_URL)
    async with connection:
        await (await connection.channel()).default_exchange.publish(message, routing_key=target)

    async def dropped() -> bool:
        return await metric_total(mesh, "gbd_fl", "emhana_sync_requests_dropped_total") > dropped_before

    await until(dropped, 30, "the synchronous request dropped")
    assert await _queue_depth(bus, dlq) == before + 1 and await _queue_depth(bus, target) == 0


async def gateway_metrics(mesh: Mesh) -> str:
    async with httpx.AsyncClient(timeout=10) as http:
        return (await http.get(mesh.url("gateway") + "/metrics")).text


def _sample(metrics: str, name: str) -> float | None:
    for line in metrics.splitlines():
        if line.startswith(name + " "):
            return float(line.rsplit(" ", 1)[1])
    return None


async def test_a_stamp_is_bound_to_how_the_message_is_delivered(
    mesh: Mesh, bus: Bus, store: TrustStore, some_iin: str, clock: Clock
) -> None:
    """A queued message's stamp cannot carry a request awaiting a reply (nor the other way round)."""
    from shared.wire.envelope import peek
    from shared.wire.stamp import STAMP_HEADER, make_stamp

    message_id, raw = seal(
        identity(mesh, "portal"), type=PERSON_LOOKUP, recipient="gbd_fl", payload={"iin": some_iin}, clock=clock
    )
    envelope = peek(raw)
    assert envelope is not None
    queued = make_stamp(identity(mesh, "gateway"), envelope, raw, clock.now(), sync=False)
    reply = await bus.request(
        queue_name(mesh.namespace, "gbd_fl"),
        raw,
        message_id=str(message_id),
        timeout=10,
        headers={STAMP_HEADER: queued},
    )
    refusal = open_envelope(reply.body, store, clock).envelope
    assert (refusal.type, refusal.payload["code"]) == ("refusal", "ACCESS_DENIED")


async def test_a_broker_redelivery_is_judged_by_the_gateways_own_record(mesh: Mesh, bus: Bus, clock: Clock) -> None:
    """A copy the broker redelivers (marked ``redelivered``) of a message the gateway already delivered is
    refused as a replay, not delivered again."""
    message_id, raw = seal(identity(mesh, "portal"), type=PING, recipient="gbd_fl", payload={}, clock=clock)
    gateway_queue = queue_name(mesh.namespace, "gateway")
    await bus.publish(gateway_queue, raw, message_id=str(message_id), type=PING)

    async def own_rows(count: int) -> list[dict]:
        rows = [r for r in await journal(mesh, message_id) if r["message_id"] == str(message_id)]
        return rows if len(rows) >= count else []

    rows = await until(lambda: own_rows(1), 30, "the delivery journaled")
    assert [r["outcome"] for r in rows] == ["delivered"]
    mesh.stop_service("gateway")
    try:
        await bus.publish(gateway_queue, raw, message_id=str(message_id), type=PING)
        connection = await aio_pika.connect(AMQP_URL)
        async with connection:
            channel = await connection.channel()
            queue = await channel.get_queue(gateway_queue)
            await until(lambda: queue.get(no_ack=False, fail=False), 10, "the copy in the queue")  # held unacked…
            await channel.close()  # …and given back: the broker redelivers it marked "redelivered"
    finally:
        mesh.start_service("gateway")
        mesh.wait_ready(["gateway"])
    rows = await until(lambda: own_rows(2), 30, "the redelivered copy journaled")
    assert [r["outcome"] for r in rows] == ["delivered", "refused:REPLAYED"]


async def test_concurrent_copies_of_one_request_get_one_answer_and_replayed_at_once(
    mesh: Mesh, store: TrustStore, some_iin: str, clock: Clock
) -> None:
    """Two copies of one request id sent at the same moment: one is answered, the other is refused as a
    replay at once — neither waits for a reply slot the other holds."""
    message_id, raw = seal(
        identity(mesh, "portal"), type=PERSON_LOOKUP, recipient="gbd_fl", payload={"iin": some_iin}, clock=clock
    )
    senders = [Bus(AMQP_URL, name=f"copy-{n}") for n in range(2)]
    for sender in senders:
        await sender.connect()
    try:
        replies = await asyncio.gather(  # a copy left waiting would fail here with RequestTimeout
            *(
                s.request(queue_name(mesh.namespace, "gateway"), raw, message_id=str(message_id), timeout=30)
                for s in senders
            )
        )
    finally:
        for sender in senders:
            await sender.close()
    envelopes = [open_envelope(r.body, store, clock).envelope for r in replies]
    assert sorted(e.type for e in envelopes) == [f"{PERSON_LOOKUP}.reply", "refusal"]
    assert next(e for e in envelopes if e.type == "refusal").payload["code"] == "REPLAYED"


async def test_a_message_must_travel_as_its_type_is_declared(mesh: Mesh, portal: MeshClient, some_iin: str) -> None:
    """person.lookup is only ever answered: sent without reply_to, it would be delivered and its answer go
    nowhere, so the gateway refuses it (MALFORMED, journaled, the refusal sent to the sender's queue); the
    same lookup asked synchronously is answered."""
    message_id = await portal.send("gbd_fl", PERSON_LOOKUP, {"iin": some_iin})
    rows = await until(lambda: journal(mesh, message_id), 30, "the async lookup journaled")
    assert [r["outcome"] for r in rows] == ["refused:MALFORMED"]
    found = await portal.request("gbd_fl", PERSON_LOOKUP, {"iin": some_iin})
    assert found["person"]["iin"] == some_iin


async def test_the_gateway_serves_the_bus_contract(mesh: Mesh) -> None:
    """GET /asyncapi.json: the document partners generate their clients from, the very one published in
    docs/contracts/ (which the unit tests keep current with the code)."""
    import json

    from tools.asyncapi import OUT

    async with httpx.AsyncClient(base_url=mesh.url("gateway")) as http:
        served = await http.get("/asyncapi.json")
    assert served.status_code == 200 and served.headers["content-type"].startswith("application/json")
    published = await asyncio.to_thread((OUT / "asyncapi.json").read_text)
    assert served.json() == json.loads(published)
