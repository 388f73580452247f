"""``make bench``: figures for the README, printed (and with ``--json`` written) and never asserted.

Starts a private mesh (own namespace, free ports; SQLite files or, with ``--database postgres``,
PostgreSQL databases) and measures, for N concurrent clients:

1. signed ГБД ФЛ lookups through the gateway (client → gateway → gbd_fl → gateway → client), every
   hop verifying signatures and certificate chains, the gateway journaling and checking replays;
2. the same number of bare aio-pika round trips over the same hops (a relay in place of the gateway,
   an echo in place of ГБД ФЛ, quorum queues, publisher confirms, Direct Reply-To) with no signing,
   no database and no logic;

and the ratio of the two; then

3. e-service transactions: a mix of home calls, appointments and attachments, each timed from
   "отправить запрос" (prepare) through "подписать" (condition 2 at the signature service), the АРМ's
   registration and decision, to the clinic-signed result being visible in the portal; with what one
   transaction cost (messages through the gateway, synchronous and asynchronous, and database commits
   per service, read from the services' own ``/metrics``);
4. a bare comparator for that pattern: the same number of synchronous round trips and asynchronous
   hops per transaction over the same kind of queues, with no signing, database or logic — and the ratio;
5. open loop: transactions started at fixed offered rates whatever the latency, so the knee shows
   (completed/s, p50, p99, max, errors, and how many the portal shed with 503).
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import os
import platform
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import aio_pika

from shared.demo.population import generate
from shared.messaging.bus import Bus
from shared.messaging.dispatch import MeshClient, MeshEndpoint
from shared.rules.calendar import WorkCalendar
from shared.wire.certs import TrustStore
from shared.wire.clock import Clock
from shared.wire.contracts import PERSON_LOOKUP
from shared.wire.envelope import ServiceIdentity
from shared.wire.topology import LOCAL_BROKER_URL, SERVICES
from tests.conftest import free_port
from tools.launcher import Mesh, check_broker

AMQP_URL = os.environ.get("AMQP_URL", LOCAL_BROKER_URL)


# One e-service transaction: prepare → sign → wait for the outcome; returns the final status and, given a
# dict, fills in how long each of the three phases took.
Job = Callable[..., Awaitable[str]]


def progress(phase: str) -> None:
    """Say on stderr that a timed phase starts or ends (to attach a profiler, or to read the processes' CPU time
    over exactly that phase)."""
    print(f"[bench] timing: {phase}", file=sys.stderr, flush=True)


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values) or [0.0]
    return ordered[min(len(ordered) - 1, int(len(ordered) * fraction))]


def summary(name: str, latencies: list[float], elapsed: float) -> dict[str, float | str]:
    ordered = sorted(latencies)
    return {
        "name": name,
        "n": len(ordered),
        "throughput": len(ordered) / elapsed,
        "p50": statistics.median(ordered) * 1000,
        "p99": percentile(ordered, 0.99) * 1000,
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
    progress(f"signed lookups, {clients} clients")
    latencies, elapsed = await run_clients(clients, total, one)
    progress("end")
    await bus.close()
    return summary("signed lookup via gateway", latencies, elapsed)


async def bare_round_trips(namespace: str, clients: int, total: int, *, own_processes: bool = False) -> dict[str, Any]:
    """Client → relay queue → relay → echo queue → echo → relay → client, raw aio-pika (:class:`BareHops`);
    with ``own_processes`` the relay and the echo each run in a process of their own, as the gateway and
    ГБД ФЛ do."""
    body = b'{"iin":"850315300019"}' * 20
    async with BareHops(namespace, own_processes=own_processes) as bare:

        async def one(_: int) -> None:
            assert await bare.call(body) == body

        await run_clients(clients, min(200, total), one)
        latencies, elapsed = await run_clients(clients, total, one)
    name = "bare, relay and echo processes" if own_processes else "bare aio-pika, same hops"
    return summary(name, latencies, elapsed)


HOP_ROLES = ("relay", "echo", "sink")


async def serve_hops(
    connection: aio_pika.abc.AbstractRobustConnection, names: dict[str, str], roles: list[str]
) -> None:
    """Consume the bare hops' queues for ``roles``: the relay forwards a request to the echo and relays its
    answer back (or passes an async message on to the sink), the echo answers, the sink takes."""
    consume = await connection.channel(publisher_confirms=True)
    await consume.set_qos(prefetch_count=64)
    relay_rpc = await connection.channel(publisher_confirms=True)
    relay_pending: dict[str, asyncio.Future[bytes]] = {}

    async def relay_reply(message: aio_pika.abc.AbstractIncomingMessage) -> None:
        future = relay_pending.pop(message.correlation_id or "", None)
        if future is not None:
            future.set_result(message.body)

    await (await relay_rpc.get_queue("amq.rabbitmq.reply-to", ensure=False)).consume(relay_reply, no_ack=True)

    async def relay(message: aio_pika.abc.AbstractIncomingMessage) -> None:
        if message.reply_to:  # sync: forward and relay the answer back
            future: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()
            relay_pending[message.message_id or ""] = future
            await relay_rpc.default_exchange.publish(
                aio_pika.Message(message.body, message_id=message.message_id, reply_to="amq.rabbitmq.reply-to"),
                routing_key=names["echo"],
            )
            answer = await future
            await consume.default_exchange.publish(
                aio_pika.Message(answer, correlation_id=message.message_id), routing_key=message.reply_to
            )
        else:  # async: on to the recipient's queue
            await consume.default_exchange.publish(
                aio_pika.Message(message.body, message_id=message.message_id, delivery_mode=2),
                routing_key=names["sink"],
            )
        await message.ack()

    async def echo(message: aio_pika.abc.AbstractIncomingMessage) -> None:
        await consume.default_exchange.publish(
            aio_pika.Message(message.body, correlation_id=message.message_id), routing_key=message.reply_to or ""
        )
        await message.ack()

    handlers = {"relay": relay, "echo": echo}
    for role in roles:
        await (await consume.get_queue(names[role])).consume(handlers[role])


async def hop_process(prefix: str, role: str) -> None:
    """A bare hop in a process of its own (``python -m tests.bench --hop ROLE PREFIX``), until killed."""
    connection = await aio_pika.connect_robust(AMQP_URL)
    await serve_hops(connection, {k: f"{prefix}.{k}" for k in HOP_ROLES}, [role])
    print("consuming", flush=True)
    await asyncio.Future()


class BareHops:
    """Bare aio-pika for the e-service pattern: sync round trips (client → relay → echo → relay → client)
    and async hops (client → relay queue → relay → sink queue → sink), quorum queues, confirms. The relay
    and the echo run in this process, or (``own_processes``) each in a process of its own."""

    def __init__(self, namespace: str, *, own_processes: bool = False) -> None:
        self.prefix = f"{namespace}.bare"
        self.own_processes = own_processes
        self.arrived: dict[str, asyncio.Future[None]] = {}
        self.processes: list[asyncio.subprocess.Process] = []

    async def __aenter__(self) -> BareHops:
        self.connection = await aio_pika.connect_robust(AMQP_URL)
        setup = await self.connection.channel()
        self.names = {k: f"{self.prefix}.{k}" for k in HOP_ROLES}
        queues = {}
        for key, name in self.names.items():
            queues[key] = await setup.declare_queue(name, durable=True, arguments={"x-queue-type": "quorum"})
        self.publish = await self.connection.channel(publisher_confirms=True)
        self.pending: dict[str, asyncio.Future[bytes]] = {}
        replies = await self.publish.get_queue("amq.rabbitmq.reply-to", ensure=False)
        await replies.consume(self._on_reply, no_ack=True)
        if self.own_processes:
            try:
                await self._start_hop_processes()
            except BaseException:
                await self.__aexit__()  # no hop process outlives a failed start
                raise
        else:
            await serve_hops(self.connection, self.names, ["relay", "echo"])
        sinks = await self.connection.channel()
        await (await sinks.get_queue(self.names["sink"])).consume(self._on_sink)
        return self

    async def _start_hop_processes(self) -> None:
        for role in ("relay", "echo"):
            command = [sys.executable, "-m", "tests.bench", "--hop", role, self.prefix]
            process = await asyncio.create_subprocess_exec(*command, stdout=asyncio.subprocess.PIPE)
            self.processes.append(process)
            assert process.stdout is not None
            # The hop says "consuming" once its consumer is registered (the broker's declare-ok does not count
            # a quorum queue's consumers reliably).
            if await asyncio.wait_for(process.stdout.readline(), 30) != b"consuming\n":
                raise RuntimeError(f"the bare {role} process did not start")

    async def _on_sink(self, message: aio_pika.abc.AbstractIncomingMessage) -> None:
        future = self.arrived.pop(message.message_id or "", None)
        if future is not None:
            future.set_result(None)
        await message.ack()

    async def _on_reply(self, message: aio_pika.abc.AbstractIncomingMessage) -> None:
        future = self.pending.pop(message.correlation_id or "", None)
        if future is not None:
            future.set_result(message.body)

    async def call(self, body: bytes) -> bytes:
        message_id = str(uuid.uuid4())
        future: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()
        self.pending[message_id] = future
        await self.publish.default_exchange.publish(
            aio_pika.Message(body, message_id=message_id, reply_to="amq.rabbitmq.reply-to"),
            routing_key=self.names["relay"],
        )
        return await future

    async def send(self, body: bytes) -> None:
        message_id = str(uuid.uuid4())
        arrived: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.arrived[message_id] = arrived
        await self.publish.default_exchange.publish(
            aio_pika.Message(body, message_id=message_id, delivery_mode=2), routing_key=self.names["relay"]
        )
        await arrived

    async def __aexit__(self, *_: object) -> None:
        for process in self.processes:
            process.kill()
            await process.wait()
        await self.connection.close()
        cleanup = await aio_pika.connect_robust(AMQP_URL)
        channel = await cleanup.channel()
        for name in self.names.values():
            await channel.queue_delete(name)
        await cleanup.close()


async def bare_pattern(namespace: str, clients: int, total: int, sync: int, async_: int) -> dict[str, Any]:
    """``total`` bare transactions of ``sync`` round trips and ``async_`` hops each, ``clients`` at once."""
    body = b'{"iin":"850315300019"}' * 40
    async with BareHops(namespace) as bare:

        async def one(_: int) -> None:
            for _ in range(sync):
                await bare.call(body)
            for _ in range(async_):
                await bare.send(body)

        await run_clients(clients, min(50, total), one)
        latencies, elapsed = await run_clients(clients, total, one)
    return summary(f"bare pattern ({sync} sync + {async_} async)", latencies, elapsed)


def scrape(mesh: Mesh, processes: list[str] | None = None) -> dict[str, float]:
    """Counters of every service (or of the named processes) that say what a transaction cost: messages
    through the gateway by outcome, and database commits by service."""
    import re
    import urllib.request

    totals: dict[str, float] = {}
    for service in processes or SERVICES:
        with urllib.request.urlopen(mesh.url(service) + "/metrics", timeout=10) as response:
            text = response.read().decode()
        for line in text.splitlines():
            commits = re.match(r'emhana_db_commits_total\{service="(\w+)"\} ([0-9.e+]+)', line)
            if commits:
                totals[f"commits.{commits[1]}"] = totals.get(f"commits.{commits[1]}", 0) + float(commits[2])
            routed = re.match(r'emhana_gateway_routed_total\{.*outcome="([^"]+)".*\} ([0-9.e+]+)', line)
            if routed:
                outcome = routed[1] if not routed[1].startswith("refused") else "refused"
                totals[f"gateway.{outcome}"] = totals.get(f"gateway.{outcome}", 0) + float(routed[2])
    return totals


def routed(mesh: Mesh, process: str) -> float:
    """Messages one gateway process has routed, whatever their outcome."""
    return sum(n for key, n in scrape(mesh, [process]).items() if key.startswith("gateway."))


class Transactions:
    """Logged-in demo citizens, each good for one transaction of the mix (home call, appointment,
    attachment in turn — a home call instead of an appointment once the bench clinic has no free slot left);
    registered before any timing starts (Argon2 is deliberately slow)."""

    def __init__(self, mesh: Mesh, clock: Clock, size: int) -> None:
        from services.signature.ca import DevCA
        from shared.demo.people import demo_citizens

        self.mesh, self.clock = mesh, clock
        self.ca = DevCA(mesh.pki_dir, clock=clock)
        demo = demo_citizens(size, 20121229, per_group=size)
        self.pools = {
            "home_call": iter(demo.attached_1),
            "appointment": iter(demo.attached_4),
            "attachment": iter(demo.unattached),
        }
        self.slots: list[dict[str, Any]] = []
        self.made: list[Any] = []

    async def prepare(self, count: int) -> list[Job]:
        """``count`` transactions ready to run; each returns the request's final status."""
        from tests.e2e.citizens import Citizen

        kinds = [("home_call", "appointment", "attachment")[i % 3] for i in range(count)]
        citizens = [Citizen(next(self.pools[kind]), self.mesh, self.ca, self.clock) for kind in kinds]
        self.made.extend(citizens)
        for start in range(0, len(citizens), 16):
            await asyncio.gather(*(c.enter() for c in citizens[start : start + 16]))
        if "appointment" in kinds:
            # Afresh for every row: slots that a shed transaction never booked are free again.
            self.slots = list(
                await citizens[kinds.index("appointment")].call(
                    "GET", "/api/v1/clinics/030740045218/slots", params={"days": 14}
                )
            )
        home_call = {"address": "г. Астана, проспект Республики, 5", "phone": "+77010000000", "complaints": "ОРВИ"}
        forms = {
            "home_call": lambda: home_call,
            "appointment": lambda: {
                "doctor_code": (slot := self.slots.pop(0))["doctor_code"],
                "slot_start": slot["start"],
            },
            "attachment": lambda: {"clinic": "980440012347"},
        }

        def transaction(kind: str, citizen: Citizen) -> Job:
            if kind == "appointment" and not self.slots:
                kind = "home_call"  # the bench clinic's free slots are all taken: a home call to the same clinic
            fields = forms[kind]()

            async def run(phases: dict[str, float] | None = None) -> str:
                started = time.perf_counter()
                prepared = await citizen.prepare(kind, **fields)
                prepared_at = time.perf_counter()
                request = await citizen.sign(prepared)
                signed_at = time.perf_counter()
                status = str((await citizen.wait(request["id"], seconds=120))["status"])
                if phases is not None:
                    phases.update(
                        prepare=prepared_at - started,
                        sign=signed_at - prepared_at,
                        outcome=time.perf_counter() - signed_at,
                    )
                return status

            return run

        return [transaction(kind, citizen) for kind, citizen in zip(kinds, citizens, strict=True)]

    async def close(self) -> None:
        for citizen in self.made:
            await citizen.close()


async def closed_loop(
    mesh: Mesh, transactions: Transactions, clients: int, count: int
) -> tuple[dict[str, Any], dict[str, float]]:
    """``count`` transactions by ``clients`` citizens at once; the row and the cost per transaction."""
    jobs = await transactions.prepare(count)
    outcomes: list[str] = []

    async def one(i: int) -> None:
        outcomes.append(await jobs[i]())

    before = scrape(mesh)
    progress(f"e-service mix, {clients} clients")
    latencies, elapsed = await run_clients(clients, len(jobs), one)
    progress("end")
    after = scrape(mesh)
    row = summary(f"e-service mix ({len(jobs)})", latencies, elapsed)
    row["completed"] = outcomes.count("completed")
    row["errors"] = len(jobs) - row["completed"]
    cost = {key: (after.get(key, 0) - before.get(key, 0)) / len(jobs) for key in after}
    return row, cost


async def open_loop(transactions: Transactions, rate: float, seconds: float) -> dict[str, Any]:
    """Start ``rate`` transactions per second for ``seconds`` whatever happens to them (open loop)."""
    import httpx

    from tests.e2e.citizens import ApiFailure

    count = max(1, int(rate * seconds))
    jobs = await transactions.prepare(count)
    latencies: list[float] = []
    by_phase: dict[str, list[float]] = {}  # of the completed transactions
    errors = shed = 0
    loop = asyncio.get_running_loop()

    async def timed(job: Job) -> None:
        nonlocal errors, shed
        started = time.perf_counter()
        try:
            phases: dict[str, float] = {}
            status = await job(phases)
        except ApiFailure as exc:
            if exc.status == 503:
                shed += 1
            else:
                errors += 1
            return
        except (httpx.HTTPError, AssertionError):
            errors += 1
            return
        if status == "completed":
            latencies.append(time.perf_counter() - started)
            for phase, seconds in phases.items():
                by_phase.setdefault(phase, []).append(seconds)
        else:
            errors += 1

    progress(f"e-service open loop, {rate:g} tx/s")
    began = loop.time()
    tasks = []
    for i, job in enumerate(jobs):
        delay = began + i / rate - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)  # pacing the offered load, not waiting for anything
        tasks.append(asyncio.create_task(timed(job)))
    await asyncio.gather(*tasks)
    elapsed = loop.time() - began
    ordered = sorted(latencies) or [0.0]
    return {
        "name": "e-service open loop",
        "offered": rate,
        "throughput": len(latencies) / elapsed,
        "p50": statistics.median(ordered) * 1000,
        "p99": percentile(ordered, 0.99) * 1000,
        "max": ordered[-1] * 1000,
        "n": count,
        "errors": errors,
        "shed": shed,
        **{f"{phase}_p99_ms": percentile(values, 0.99) * 1000 for phase, values in sorted(by_phase.items())},
    }


def lookup_rows(
    rows: list[dict[str, Any]],
    clients: int,
    signed: dict[str, Any],
    bare: dict[str, Any],
    *,
    label: str = "signed",
    bare_is_new: bool = True,
) -> None:
    """Print and keep one client count's signed lookup row (and the bare row, unless printed already) and
    their ratio."""
    for row in (signed, bare) if bare_is_new else (signed,):
        lookup_row(rows, clients, row)
    ratio_row(rows, clients, f"{label}/bare", signed, bare)


def lookup_row(rows: list[dict[str, Any]], clients: int, row: dict[str, Any]) -> None:
    row["clients"] = clients
    rows.append(row)
    print(f"{clients:>7}  {row['name']:<34} {row['throughput']:>8.0f} {ms(row['p50'])} {ms(row['p99'])}")


def ratio_row(rows: list[dict[str, Any]], clients: int, label: str, row: dict[str, Any], bare: dict[str, Any]) -> None:
    ratio = float(row["throughput"]) / float(bare["throughput"])
    rows.append({"name": f"{label} lookups", "clients": clients, "ratio": ratio})
    print(f"{'':>7}  {label} throughput: {ratio:.2f}")


def ms(value: Any) -> str:
    return f"{float(value):>8.1f}"


def arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m tests.bench", description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, nargs="+", default=[1, 16, 64])
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--eservice-clients", type=int, nargs="*", default=[1, 8])
    parser.add_argument("--transactions", type=int, default=120, help="e-service transactions per closed-loop row")
    parser.add_argument("--rates", type=float, nargs="*", default=[], help="open-loop offered tx/s")
    parser.add_argument(
        "--relative",
        type=float,
        nargs="*",
        default=[0.5, 1, 2],
        help="open-loop rates as multiples of the capacity the closed-loop rows measured",
    )
    parser.add_argument("--seconds", type=float, default=10, help="duration of each open-loop row")
    parser.add_argument("--database", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--json", type=Path, help="also write the rows here, one JSON object per line")
    parser.add_argument(
        "--gateway-processes",
        type=int,
        default=1,
        help="also measure the signed lookups with this many gateway processes consuming the gateway's queue",
    )
    parser.add_argument(
        "--bare-processes",
        action="store_true",
        help="also measure the bare round trips with the relay and the echo each in a process of its own",
    )
    parser.add_argument("--hop", nargs=2, metavar=("ROLE", "PREFIX"), help=argparse.SUPPRESS)  # a hop process
    return parser.parse_args()


def bench_clock() -> Clock:
    """The mesh's clock at 10:00 on the next working Tuesday in Astana: the clinics are open."""
    import zoneinfo

    astana = zoneinfo.ZoneInfo("Asia/Almaty")
    today = dt.datetime.now(astana).date()
    tuesday = today + dt.timedelta(days=(1 - today.weekday()) % 7 or 7)
    while not WorkCalendar().is_working_day(tuesday):
        tuesday += dt.timedelta(days=7)
    return Clock.starting_at(dt.datetime.combine(tuesday, dt.time(10, 0), astana))


def lookup_section(
    mesh: Mesh, clock: Clock, args: argparse.Namespace, rows: list[dict[str, Any]], iins: list[str]
) -> None:
    """Signed lookups against the bare round trips (and, asked for, the bare hops in processes and the
    signed lookups through several gateway processes), one row each per client count."""
    print(f"{'clients':>7}  {'path':<34} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8}")
    bare_rows: dict[int, dict[str, Any]] = {}
    for clients in args.clients:
        signed = asyncio.run(signed_lookups(mesh, clock, clients, args.requests, iins))
        bare_rows[clients] = bare = asyncio.run(bare_round_trips(mesh.namespace, clients, args.requests))
        lookup_rows(rows, clients, signed, bare)
        if args.bare_processes:
            split = asyncio.run(bare_round_trips(mesh.namespace, clients, args.requests, own_processes=True))
            lookup_row(rows, clients, split)
            ratio_row(rows, clients, "signed/bare (relay and echo processes)", signed, split)
        print()
    if args.gateway_processes <= 1:
        return
    gateways = ["gateway"] + [mesh.start_replica("gateway", free_port()) for _ in range(args.gateway_processes - 1)]
    mesh.wait_ready(gateways, timeout=180)
    for clients in args.clients:
        before = [routed(mesh, g) for g in gateways]
        signed = asyncio.run(signed_lookups(mesh, clock, clients, args.requests, iins))
        shares = [routed(mesh, g) - b for g, b in zip(gateways, before, strict=True)]
        signed["name"] = f"signed lookup, {len(gateways)} gateways"
        signed["messages_per_gateway"] = shares
        label = f"signed ({len(gateways)} gateways)"
        lookup_rows(rows, clients, signed, bare_rows[clients], label=label, bare_is_new=False)
        print(f"{'':>7}  messages routed by each gateway process: {[round(n) for n in shares]}\n")
    for name in gateways[1:]:
        mesh.stop_service(name)


async def eservice_section(
    mesh: Mesh, clock: Clock, args: argparse.Namespace, rows: list[dict[str, Any]], population: int
) -> None:
    """The e-service mix in closed loop against its bare pattern, then in open loop at the offered rates."""
    transactions = Transactions(mesh, clock, population)
    try:
        if args.eservice_clients:
            print("e-service transactions: prepare → sign → АРМ decision → signed result in the portal")
            print(f"{'clients':>7}  {'path':<34} {'tx/s':>8} {'p50 ms':>8} {'p99 ms':>8}  errors")
        capacity = 0.0
        for clients in args.eservice_clients:
            row, cost = await closed_loop(mesh, transactions, clients, args.transactions)
            capacity = max(capacity, float(row["throughput"]))
            sync = round(cost.get("gateway.replied", 0))
            async_ = round(cost.get("gateway.delivered", 0))
            bare = await bare_pattern(mesh.namespace, clients, args.transactions, sync, async_)
            for each in (row, bare):
                each["clients"] = clients
                rows.append(each)
                print(
                    f"{clients:>7}  {each['name']:<34} {each['throughput']:>8.1f} {ms(each['p50'])} "
                    f"{ms(each['p99'])}  {each.get('errors', 0)}"
                )
            ratio = float(row["throughput"]) / float(bare["throughput"])
            per_tx = {k: round(v, 2) for k, v in sorted(cost.items()) if v}
            rows.append({"name": "e-service/bare pattern", "clients": clients, "ratio": ratio})
            rows.append({"name": "cost per transaction", "clients": clients, **per_tx})
            print(f"{'':>7}  e-service/bare pattern throughput: {ratio:.2f}")
            print(f"{'':>7}  per transaction: {per_tx}\n")
        rates = sorted({*args.rates, *(round(capacity * r, 1) for r in args.relative if capacity)})
        if rates:
            print(f"open loop, {args.seconds:.0f} s per rate (closed-loop capacity {capacity:.1f} tx/s)")
            print(
                f"{'offered':>7}  {'completed/s':>11} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8}"
                "  errors  shed   p99 ms of each phase"
            )
        for rate in rates:
            row = await open_loop(transactions, rate, args.seconds)
            row["capacity"] = capacity
            rows.append(row)
            print(
                f"{rate:>7.0f}  {row['throughput']:>11.1f} {ms(row['p50'])} {ms(row['p99'])} "
                f"{ms(row['max'])}  {row['errors']:>6}  {row['shed']:>4}   "
                + " ".join(f"{p}{ms(row.get(f'{p}_p99_ms', 0))}" for p in ("prepare", "sign", "outcome"))
            )
    finally:
        await transactions.close()


def verification_section(rows: list[dict[str, Any]], repeats: int = 200) -> None:
    """One citizen signature checked alone, per key family, in µs of CPU: ES256 and RS256 (the development
    CA's keys) and GOST 34.10-2015 512 (НУЦ's test key) over the same document, same run."""
    from services.signature.ca import DevCA
    from shared.wire import jws
    from tests.nca import NCA

    document = b'{"service":"home_call","fields":{"address":"' + b"x" * 400 + b'"}}'
    with tempfile.TemporaryDirectory() as folder:
        ca = DevCA(Path(folder))
        ec_key = ca.issue_person("850315300019", "BENCH", "EC")
        rsa_key = ca.issue_person("850315300019", "BENCH", "RSA", key_type="rsa")
    person = NCA.gost_person()
    tokens = {
        "ES256": jws.sign_compact(document, ec_key.key, ec_key.chain),
        "RS256": jws.sign_compact(document, rsa_key.key, rsa_key.chain),
        jws.GOST_512: jws.sign_compact(document, person.key, person.chain),
    }
    print("\none signature verified alone (µs of CPU, this process)")
    for name, token in tokens.items():
        parsed = jws.parse(token)
        jws.verify_signature(parsed)  # warm the caches a service would have warm
        started = time.process_time()
        for _ in range(repeats):
            jws.verify_signature(jws.parse(token))
        micros = (time.process_time() - started) / repeats * 1e6
        rows.append({"row": "verify", "algorithm": name, "cpu_us": round(micros, 1)})
        print(f"  {name:<18} {micros:9.1f} µs")
    # A citizen's signature is checked twice per e-service transaction (condition 2 by the signature
    # service, and by the АРМ before it registers): what a GOST key adds to a transaction, measured
    # whole (signature, chain from the store's cache, CRLs) against the same document under ES256.
    from shared.wire.documents import verify_document
    from tests.nca import WHILE_GOST_CRL_CURRENT

    store = NCA.store(WHILE_GOST_CRL_CURRENT)
    token = tokens[jws.GOST_512]
    verify_document(token, store)
    started = time.process_time()
    for _ in range(repeats // 4):
        verify_document(token, store)
        verify_document(token, store)
    per_transaction = (time.process_time() - started) / (repeats // 4) * 1e3
    rows.append({"row": "gost_citizen_signature_per_transaction", "cpu_ms": round(per_transaction, 2), "limit_ms": 25})
    print(f"  GOST citizen signature per e-service transaction (2 checks): {per_transaction:.1f} ms (limit 25 ms)")


def main() -> None:
    import json

    from tests.conftest import _database_env, _delete_queues, _drop_databases

    args = arguments()
    if args.hop:
        asyncio.run(hop_process(args.hop[1], args.hop[0]))
        return
    check_broker(AMQP_URL)
    iins = [p.iin for p in generate(10_000, 20121229) if p.alive][:5000]
    rows: list[dict[str, Any]] = []
    needed = args.transactions * len(args.eservice_clients) + sum(int(r * args.seconds) for r in args.rates)
    needed += int(sum(args.relative) * 40 * args.seconds)  # room for a capacity of up to 40 tx/s
    population = max(10_000, needed * 12)  # each mix third comes from about a quarter of the population
    machine = (
        f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
        f"{args.database}, RabbitMQ on localhost"
    )
    with tempfile.TemporaryDirectory() as tmp:
        clock = bench_clock()
        namespace = f"bench-{uuid.uuid4().hex[:6]}"
        database_env = _database_env(args.database, namespace)
        mesh = Mesh(
            var_dir=Path(tmp),
            amqp_url=AMQP_URL,
            namespace=namespace,
            ports={s: free_port() for s in SERVICES},
            env={
                "EMHANA_LOG_LEVEL": "WARNING",
                "EMHANA_POPULATION_SIZE": str(population),
                # the load generator registers its citizens 16 at a time from one address
                "EMHANA_PORTAL_REGISTRATION_ATTEMPTS_PER_CLIENT": "100000",
                **database_env,
            },
            log_file=Path(tmp) / "mesh.log",
            clock_offset_seconds=clock.offset_seconds,
        )
        mesh.start()
        try:
            mesh.wait_ready(timeout=180)
            print(f"machine: {machine}\n")
            verification_section(rows)
            lookup_section(mesh, clock, args, rows, iins)
            asyncio.run(eservice_section(mesh, clock, args, rows, population))
        finally:
            mesh.stop()
            _delete_queues(namespace)
            _drop_databases(database_env)
    if args.json:
        for row in rows:
            row.setdefault("machine", machine)
        args.json.write_text("".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows))
        print(f"\nrows written to {args.json}")


if __name__ == "__main__":
    main()
