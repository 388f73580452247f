"""Fixtures: a real mesh (five service processes, real RabbitMQ) shared by the end-to-end tests.

The mesh runs in its own bus namespace and on free ports, so it never touches a ``make run`` mesh on
the same broker; its queues are deleted afterwards. Service logs go to ``<tmp>/mesh.log``.
"""

from __future__ import annotations

import datetime as dt
import os
import socket
import uuid
import zoneinfo
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import aio_pika
import pytest

from services.signature.ca import DevCA
from shared.demo.people import DemoCitizens, demo_citizens
from shared.demo.population import SyntheticPerson
from shared.messaging.bus import Bus
from shared.messaging.dispatch import MeshClient, MeshEndpoint
from shared.rules.calendar import WorkCalendar
from shared.rules.clinics import load_clinics
from shared.wire.certs import TrustStore
from shared.wire.clock import Clock
from shared.wire.envelope import ServiceIdentity
from shared.wire.topology import (
    LOCAL_BROKER_URL,
    SERVICE_ADDRESSES,
    SERVICES,
    arm_address,
    dead_letter_queue,
    queue_name,
)
from tests.e2e.citizens import Citizen
from tools.launcher import Mesh

AMQP_URL = os.environ.get("AMQP_URL", LOCAL_BROKER_URL)
POSTGRES_URL = os.environ.get("EMHANA_TEST_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres")
POPULATION_SEED = 20121229
POPULATION_SIZE = 3000
ASTANA = zoneinfo.ZoneInfo("Asia/Almaty")


def mesh_start_time() -> dt.datetime:
    """The mesh runs on a Tuesday at 16:30 in Astana: after the cut-off of a clinic that closes at 18:00,
    before it for one that closes at 20:00, with morning slots already past and afternoon ones ahead."""
    calendar = WorkCalendar()
    today = dt.datetime.now(ASTANA).date()
    tuesday = today + dt.timedelta(days=(1 - today.weekday()) % 7 or 7)
    # Tests use that day and the next one's schedule: skip weeks where either is a public holiday.
    while not (calendar.is_working_day(tuesday) and calendar.is_working_day(tuesday + dt.timedelta(days=1))):
        tuesday += dt.timedelta(days=7)
    return dt.datetime.combine(tuesday, dt.time(16, 30), ASTANA)


OPERATOR_TOKEN = "test-operator-token"
CLINICS = load_clinics().clinics


_taken_ports: set[int] = set()


def free_port() -> int:
    """A port below the kernel's ephemeral range (32768+), so that no outgoing connection can take it
    between this check and the service binding it; never the same one twice in a test session."""
    import random

    for _ in range(1000):
        port = random.randint(20000, 32000)
        if port in _taken_ports:
            continue
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
        _taken_ports.add(port)
        return port
    raise RuntimeError("no free port found")


def all_addresses() -> list[str]:
    return [*SERVICE_ADDRESSES, *(arm_address(c.bin) for c in CLINICS)]


async def _postgres(statements: list[str]) -> None:
    import asyncpg

    connection = await asyncpg.connect(POSTGRES_URL.replace("postgresql+asyncpg", "postgresql"))
    try:
        for statement in statements:
            await connection.execute(statement)
    finally:
        await connection.close()


def _database_env(backend: str, namespace: str) -> dict[str, str]:
    if backend == "sqlite":
        return {}
    import asyncio

    names = {service: f"{namespace.replace('-', '_')}_{service}" for service in SERVICES}
    asyncio.run(_postgres([f'CREATE DATABASE "{name}"' for name in names.values()]))
    base = POSTGRES_URL.rsplit("/", 1)[0]
    return {f"EMHANA_{service.upper()}_DATABASE_URL": f"{base}/{name}" for service, name in names.items()}


def _drop_databases(env: dict[str, str]) -> None:
    import asyncio

    names = [url.rsplit("/", 1)[1] for key, url in env.items() if key.endswith("_DATABASE_URL")]
    if names:
        asyncio.run(_postgres([f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)' for name in names]))


@contextmanager
def running_mesh(backend: str, var_dir: Path, start: dt.datetime, **env: str) -> Iterator[Mesh]:
    """A whole mesh on ``backend`` (sqlite or postgres) whose clocks start at ``start``, in its own bus
    namespace and databases, removed afterwards."""
    namespace = f"test-{uuid.uuid4().hex[:8]}"
    database_env = _database_env(backend, namespace)
    instance = Mesh(
        var_dir=var_dir,
        amqp_url=AMQP_URL,
        namespace=namespace,
        ports={service: free_port() for service in SERVICES},
        env={
            "EMHANA_CRL_REFRESH_SECONDS": "0.2",
            "EMHANA_GATEWAY_OPERATOR_TOKEN": OPERATOR_TOKEN,
            "EMHANA_POPULATION_SIZE": str(POPULATION_SIZE),
            "EMHANA_POPULATION_SEED": str(POPULATION_SEED),
            "EMHANA_DELIVERY_LIMIT": "3",
            "EMHANA_GATEWAY_DEAD_LETTER_WATCH_SECONDS": "0.5",
            "EMHANA_LOG_LEVEL": "INFO",
            "EMHANA_PORTAL_LOGIN_WINDOW_SECONDS": "3",
            "EMHANA_ARM_STAFF_LOGIN_WINDOW_SECONDS": "3",
            "EMHANA_PORTAL_RESEND_AFTER_SECONDS": "1",
            **database_env,
            **env,
        },
        log_file=var_dir / "mesh.log",
        clock_offset_seconds=Clock.starting_at(start).offset_seconds,
    )
    instance.start()
    try:
        instance.wait_ready(timeout=90)
        yield instance
    finally:
        instance.stop()
        _delete_queues(namespace)
        _drop_databases(database_env)
        print(f"\nmesh log ({backend}): {instance.log_file}")


@pytest.fixture(scope="session", params=["sqlite", "postgres"])
def mesh(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Mesh]:
    """The whole mesh, once with SQLite files and once with PostgreSQL databases (same tests for both)."""
    backend = request.param
    with running_mesh(backend, tmp_path_factory.mktemp(f"mesh-{backend}"), mesh_start_time()) as instance:
        yield instance


def _delete_queues(namespace: str) -> None:
    import asyncio

    async def delete() -> None:
        connection = await aio_pika.connect(AMQP_URL)
        async with connection:
            for address in [*all_addresses(), "gateway", "probe"]:
                for name in (queue_name(namespace, address), dead_letter_queue(namespace, address)):
                    channel = await connection.channel()
                    try:
                        await channel.queue_delete(name)
                    except Exception:
                        pass
                    finally:
                        if not channel.is_closed:
                            await channel.close()

    asyncio.run(delete())


@pytest.fixture(scope="session")
def clock(mesh: Mesh) -> Clock:
    """The mesh's clock (every service shares the offset)."""
    return Clock(mesh.clock_offset_seconds)


@pytest.fixture(scope="session")
def ca(mesh: Mesh, clock: Clock) -> DevCA:
    return DevCA(mesh.pki_dir, clock=clock)


@pytest.fixture(scope="session")
def store(mesh: Mesh, clock: Clock) -> TrustStore:
    return TrustStore.from_files(mesh.pki_dir / "trust.pem", mesh.pki_dir / "crl", clock=clock, refresh_seconds=0)


@pytest.fixture(scope="session")
async def bus(mesh: Mesh) -> AsyncIterator[Bus]:
    instance = Bus(AMQP_URL, name="tests", prefetch=16)
    await instance.connect()
    yield instance
    await instance.close()


def identity(mesh: Mesh, service: str) -> ServiceIdentity:
    return ServiceIdentity.from_pki(service, mesh.pki_dir, f"service-{service}")


@pytest.fixture(scope="session")
def portal(mesh: Mesh, bus: Bus, store: TrustStore, clock: Clock) -> MeshClient:
    """A client that speaks as the portal (holding the portal's certificate)."""
    return MeshClient(MeshEndpoint(bus, identity(mesh, "portal"), store, clock, mesh.namespace), timeout=10)


@pytest.fixture(scope="session")
def demo() -> DemoCitizens:
    return demo_citizens(POPULATION_SIZE, POPULATION_SEED, per_group=300)


class People:
    """Hands each test its own demo citizens, so that tests sharing a mesh never share a person."""

    def __init__(self, demo: DemoCitizens) -> None:
        # every member of a family, and the child's other parent too: a "stranger" must be nobody's guardian
        in_families = {person.iin for family in demo.families for person in family}
        in_families |= {parent for _, child in demo.families for parent in child.parents}
        self.pools = {
            "attached_1": iter(demo.attached_1),
            "attached_4": iter(demo.attached_4),
            "unattached": iter([p for p in demo.unattached if p.iin not in in_families]),
        }
        self.families = iter(demo.families[1:])  # the first family is the demo's (README, make run)

    def take(self, pool: str, count: int = 1) -> list[SyntheticPerson]:
        return [next(self.pools[pool]) for _ in range(count)]

    def family(self) -> tuple[SyntheticPerson, SyntheticPerson]:
        """A parent and their minor child that no other test uses."""
        return next(self.families)


@pytest.fixture(scope="session")
def people(demo: DemoCitizens, mesh: Mesh) -> People:
    return People(demo)


@pytest.fixture(scope="session")
def some_iin() -> str:
    """A living person of the registry (the generator is deterministic for a seed)."""
    from shared.demo.population import generate

    return next(p.iin for p in generate(100, POPULATION_SEED) if p.alive)


@pytest.fixture
async def citizen_factory(mesh: Mesh, ca: DevCA, clock: Clock) -> AsyncIterator[Callable[..., Citizen]]:
    made: list[Citizen] = []

    def make(person: SyntheticPerson) -> Citizen:
        citizen = Citizen(person, mesh, ca, clock)
        made.append(citizen)
        return citizen

    yield make
    for citizen in made:
        await citizen.close()


NURA = "090240077883"  # Нура-Мед: closes 18:00 (its home-call cut-off, 16:00, is before the mesh's 16:30)


@pytest.fixture(scope="session")
async def nura_patient(mesh: Mesh, ca: DevCA, clock: Clock, people: People) -> AsyncIterator[Citizen]:
    """A citizen attached to Нура-Мед (which has room for two), attached before any test can fill it: the
    tests that need one and the test that fills the clinic both ask for it, in whatever order they run."""
    citizen = await Citizen(people.take("unattached")[0], mesh, ca, clock).enter()
    attached = await citizen.wait((await citizen.submit("attachment", clinic=NURA))["id"])
    assert attached["status"] == "completed", attached
    yield citizen
    await citizen.close()


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """The fault tests' table (tests/e2e/faults.py): what became of the requests accepted under each fault;
    and the accessibility checks' table (tests/e2e/browser.py): each page and language axe checked."""
    from tests.e2e.faults import table

    lines = table()
    if lines:
        terminalreporter.section("faults under load: what became of the accepted requests")
        for line in lines:
            terminalreporter.write_line(line)
    from tests.e2e.browser import axe_table

    checked = axe_table()
    if checked:
        terminalreporter.section("accessibility: axe-core (WCAG 2.1 A/AA) on every page checked")
        for line in checked:
            terminalreporter.write_line(line)
