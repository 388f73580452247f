"""``make bench``: figures for the README, printed and never asserted.

Starts a private mesh (own namespace, free ports) and measures, for N concurrent clients:

1. signed ГБД ФЛ lookups through the gateway (client → gateway → gbd_fl → gateway → client), every
   hop verifying signatures and certificate chains, the gateway journaling and checking replays;
2. the same number of bare aio-pika round trips over the same hops (a relay in place of the gateway,
   an echo in place of ГБД ФЛ, quorum queues, publisher confirms, Direct Reply-To) with no signing,
   no database and no logic;

and the ratio of the two; then

3. e-service transactions: a mix of home calls, appointments and attachments, each timed from
   "отправить запрос" (prepare) through "подписать" (condition 2 at the signature service), the АРМ's
   registration and decision, to the clinic-signed result being visible in the portal.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import os
import platform
import statistics
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path

import aio_pika

from shared.bus import Bus
from shared.calendar import WorkCalendar
from shared.certs import TrustStore
from shared.clock import Clock
from shared.contracts import PERSON_LOOKUP
from shared.envelope import ServiceIdentity
from shared.mesh import Mesh, check_broker
from shared.messaging import MeshClient, MeshEndpoint
from shared.population import generate
from tests.conftest import free_port

AMQP_URL = os.environ.get("AMQP_URL", "amqp://guest:guest@localhost:5672/")


def summary(name: str, latencies: list[float], elapsed: float) -> dict[str, float | str]:
    ordered = sorted(latencies)
    return {
        "name": name,
        "n": len(ordered),
        "throughput": len(ordered) / elapsed,
        "p50": statistics.median(ordered) * 1000,
        "p99": ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1000,
    }


async def run_clients(clients: int, total: int, one: Callable[[int], Awaitable[None]]) -> tuple[list[float], float]:
    latencies: list[float] = []
    counter = iter(range(total))

    async def worker() -> None:
        for i in counter:
            start = time.perf_counter()
            await one(i)
            latencies.append(time.perf_counter() - start)

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(clients)))
    return latencies, time.perf_counter() - started


async def signed_lookups(mesh: Mesh, clock: Clock, clients: int, total: int, iins: list[str]) -> dict[str, float | str]:
    bus = Bus(AMQP_URL, name="bench", prefetch=clients)
    await bus.connect()
    store = TrustStore.from_files(mesh.pki_dir / "trust.pem", mesh.pki_dir / "crl", clock=clock)
    identity = ServiceIdentity.from_pki("portal", mesh.pki_dir, "service-portal")
    portal = MeshClient(MeshEndpoint(bus, identity, store, clock, mesh.namespace), timeout=30)

    async def one(i: int) -> None:
        answer = await portal.request("gbd_fl", PERSON_LOOKUP, {"iin": iins[i % len(iins)]})
        assert answer["person"]["iin"] == iins[i % len(iins)]

    await run_clients(clients, min(200, total), one)  # warm-up
    latencies, elapsed = await run_clients(clients, total, one)
    await bus.close()
    return summary("signed lookup via gateway", latencies, elapsed)


async def bare_round_trips(namespace: str, clients: int, total: int) -> dict[str, float | str]:
    """Client → relay queue → relay → echo queue → echo → relay → client, raw aio-pika."""
    connection = await aio_pika.connect_robust(AMQP_URL)
    args = {"x-queue-type": "quorum"}
    relay_q, echo_q = f"{namespace}.bare.relay", f"{namespace}.bare.echo"
    setup = await connection.channel()
    for name in (relay_q, echo_q):
        await setup.declare_queue(name, durable=True, arguments=args)

    async def rpc_channel() -> tuple[aio_pika.abc.AbstractChannel, dict[str, asyncio.Future[bytes]]]:
        channel = await connection.channel(publisher_confirms=True)
        pending: dict[str, asyncio.Future[bytes]] = {}
        reply_queue = await channel.get_queue("amq.rabbitmq.reply-to", ensure=False)

        async def on_reply(message: aio_pika.abc.AbstractIncomingMessage) -> None:
            future = pending.pop(message.correlation_id or "", None)
            if future is not None:
                future.set_result(message.body)

        await reply_queue.consume(on_reply, no_ack=True)
        return channel, pending

    async def call(channel, pending, queue: str, body: bytes) -> bytes:  # type: ignore[no-untyped-def]
        message_id = str(uuid.uuid4())
        future: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()
        pending[message_id] = future
        await channel.default_exchange.publish(
            aio_pika.Message(body, message_id=message_id, reply_to="amq.rabbitmq.reply-to"), routing_key=queue
        )
        return await future

    relay_rpc, relay_pending = await rpc_channel()
    client_rpc, client_pending = await rpc_channel()
    consume = await connection.channel(publisher_confirms=True)
    await consume.set_qos(prefetch_count=max(clients, 16))

    async def relay(message: aio_pika.abc.AbstractIncomingMessage) -> None:
        answer = await call(relay_rpc, relay_pending, echo_q, message.body)
        await consume.default_exchange.publish(
            aio_pika.Message(answer, correlation_id=message.message_id), routing_key=message.reply_to or ""
        )
        await message.ack()

    async def echo(message: aio_pika.abc.AbstractIncomingMessage) -> None:
        await consume.default_exchange.publish(
            aio_pika.Message(message.body, correlation_id=message.message_id), routing_key=message.reply_to or ""
        )
        await message.ack()

    relay_queue, echo_queue = await consume.get_queue(relay_q), await consume.get_queue(echo_q)
    tags = [(relay_queue, await relay_queue.consume(relay)), (echo_queue, await echo_queue.consume(echo))]
    body = b'{"iin":"850315300019"}' * 20

    async def one(_: int) -> None:
        assert await call(client_rpc, client_pending, relay_q, body) == body

    await run_clients(clients, min(200, total), one)
    latencies, elapsed = await run_clients(clients, total, one)
    for queue, tag in tags:
        await queue.cancel(tag)
    for name in (relay_q, echo_q):
        await setup.queue_delete(name)
    await connection.close()
    return summary("bare aio-pika, same hops", latencies, elapsed)


async def eservice_mix(
    mesh: Mesh, clock: Clock, clients: int, per_service: int, offset: int = 0
) -> dict[str, float | str]:
    """Completed e-service transactions per second, for ``clients`` citizens working at once."""
    from services.signature.ca import DevCA
    from shared.demo import demo_citizens
    from tests.e2e.citizens import Citizen

    ca = DevCA(mesh.pki_dir, clock=clock)
    demo = demo_citizens(10_000, 20121229, per_group=offset + per_service)
    chosen = slice(offset, offset + per_service)
    home = [Citizen(p, mesh, ca, clock) for p in demo.attached_1[chosen]]
    booking = [Citizen(p, mesh, ca, clock) for p in demo.attached_4[chosen]]
    attaching = [Citizen(p, mesh, ca, clock) for p in demo.unattached[chosen]]
    everyone = home + booking + attaching
    for start in range(0, len(everyone), 16):  # Argon2 is deliberately slow: register in small batches
        await asyncio.gather(*(c.enter() for c in everyone[start : start + 16]))
    free = await booking[0].call("GET", "/api/v1/clinics/030740045218/slots", params={"days": 14})
    slots = iter(free)
    jobs: list[Callable[[], Awaitable[dict]]] = []
    for i in range(per_service):
        jobs.append(
            lambda c=home[i]: c.submit(
                "home_call", address="г. Астана, проспект Республики, 5", phone="+77010000000", complaints="температура"
            )
        )
        slot = next(slots)
        jobs.append(
            lambda c=booking[i], s=slot: c.submit("appointment", doctor_code=s["doctor_code"], slot_start=s["start"])
        )
        jobs.append(lambda c=attaching[i]: c.submit("attachment", clinic="980440012347"))
    owners = [c for i in range(per_service) for c in (home[i], booking[i], attaching[i])]
    outcomes: list[str] = []

    async def one(i: int) -> None:
        request = await jobs[i]()
        final = await owners[i].wait(request["id"], seconds=120, every=0.02)
        outcomes.append(final["status"])

    latencies, elapsed = await run_clients(clients, len(jobs), one)
    for citizen in everyone:
        await citizen.close()
    row = summary(f"e-service mix ({len(jobs)})", latencies, elapsed)
    row["completed"] = outcomes.count("completed")
    return row


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m tests.bench", description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, nargs="+", default=[1, 16, 64])
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--eservice-clients", type=int, nargs="+", default=[1, 8])
    parser.add_argument("--per-service", type=int, default=40, help="transactions of each service per row")
    args = parser.parse_args()
    check_broker(AMQP_URL)
    iins = [p.iin for p in generate(10_000, 20121229) if p.alive][:5000]
    with tempfile.TemporaryDirectory() as tmp:
        import zoneinfo

        astana = zoneinfo.ZoneInfo("Asia/Almaty")
        today = dt.datetime.now(astana).date()
        tuesday = today + dt.timedelta(days=(1 - today.weekday()) % 7 or 7)
        while not WorkCalendar().is_working_day(tuesday):
            tuesday += dt.timedelta(days=7)
        clock = Clock.starting_at(dt.datetime.combine(tuesday, dt.time(10, 0), astana))  # clinics open
        mesh = Mesh(
            var_dir=Path(tmp),
            amqp_url=AMQP_URL,
            namespace=f"bench-{uuid.uuid4().hex[:6]}",
            ports={s: free_port() for s in ("signature", "gbd_fl", "arm", "portal", "gateway")},
            env={"EMHANA_LOG_LEVEL": "WARNING", "EMHANA_POPULATION_SIZE": "10000"},
            log_file=Path(tmp) / "mesh.log",
            clock_offset_seconds=clock.offset_seconds,
        )
        mesh.start()
        try:
            mesh.wait_ready(timeout=120)
            print(
                f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
                f"SQLite databases, RabbitMQ on localhost; {args.requests} requests per row\n"
            )
            print(f"{'clients':>7}  {'path':<28} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8}")
            for clients in args.clients:
                signed = asyncio.run(signed_lookups(mesh, clock, clients, args.requests, iins))
                bare = asyncio.run(bare_round_trips(mesh.namespace, clients, args.requests))
                for row in (signed, bare):
                    print(
                        f"{clients:>7}  {row['name']:<28} {row['throughput']:>8.0f} "
                        f"{row['p50']:>8.2f} {row['p99']:>8.2f}"
                    )
                ratio = float(bare["throughput"]) / float(signed["throughput"])
                print(f"{'':>7}  bare/signed throughput ratio: {ratio:.1f}x\n")
            print("e-service transactions: prepare → sign → АРМ decision → signed result visible in the portal")
            print(f"{'clients':>7}  {'mix':<28} {'tx/s':>8} {'p50 ms':>8} {'p99 ms':>8}  completed")
            for number, clients in enumerate(args.eservice_clients):
                row = asyncio.run(
                    eservice_mix(mesh, clock, clients, args.per_service, offset=number * args.per_service)
                )
                print(
                    f"{clients:>7}  {row['name']:<28} {row['throughput']:>8.1f} "
                    f"{row['p50']:>8.1f} {row['p99']:>8.1f}  {row['completed']}/{row['n']}"
                )
        finally:
            mesh.stop()


if __name__ == "__main__":
    main()
