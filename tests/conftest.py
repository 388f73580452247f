"""Fixtures: a real mesh (five service processes, real RabbitMQ) shared by the end-to-end tests.

The mesh runs in its own bus namespace and on free ports, so it never touches a ``make run`` mesh on
the same broker; its queues are deleted afterwards. Service logs go to ``<tmp>/mesh.log``.
"""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import aio_pika
import pytest

from services.signature.ca import DevCA
from shared.bus import Bus
from shared.certs import TrustStore
from shared.clock import Clock
from shared.envelope import ServiceIdentity
from shared.mesh import Mesh
from shared.messaging import MeshClient
from shared.seed import load_clinics
from shared.topology import SERVICE_ADDRESSES, arm_address, dead_letter_queue, queue_name

AMQP_URL = os.environ.get("AMQP_URL", "amqp://guest:guest@localhost:5672/")
OPERATOR_TOKEN = "test-operator-token"
CLINICS = load_clinics().clinics


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def all_addresses() -> list[str]:
    return [*SERVICE_ADDRESSES, *(arm_address(c.bin) for c in CLINICS)]


@pytest.fixture(scope="session")
def mesh(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Mesh]:
    var_dir = tmp_path_factory.mktemp("mesh")
    namespace = f"test-{uuid.uuid4().hex[:8]}"
    instance = Mesh(
        var_dir=var_dir,
        amqp_url=AMQP_URL,
        namespace=namespace,
        ports={service: free_port() for service in ("signature", "gbd_fl", "arm", "portal", "gateway")},
        env={
            "EMHANA_CRL_REFRESH_SECONDS": "0.2",
            "EMHANA_GATEWAY_OPERATOR_TOKEN": OPERATOR_TOKEN,
            "EMHANA_GBD_FL_SEED_POPULATION": "3000",
            "EMHANA_DELIVERY_LIMIT": "3",
            "EMHANA_LOG_LEVEL": "INFO",
        },
        log_file=var_dir / "mesh.log",
    )
    instance.start()
    try:
        instance.wait_ready(timeout=90)
        yield instance
    finally:
        instance.stop()
        _delete_queues(namespace)
        print(f"\nmesh log: {instance.log_file}")


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
def ca(mesh: Mesh) -> DevCA:
    return DevCA(mesh.pki_dir)


@pytest.fixture(scope="session")
def store(mesh: Mesh) -> TrustStore:
    return TrustStore.from_files(mesh.pki_dir / "trust.pem", mesh.pki_dir / "crl", refresh_seconds=0)


@pytest.fixture(scope="session")
async def bus(mesh: Mesh) -> AsyncIterator[Bus]:
    instance = Bus(AMQP_URL, name="tests", prefetch=16)
    await instance.connect()
    yield instance
    await instance.close()


def identity(mesh: Mesh, service: str) -> ServiceIdentity:
    return ServiceIdentity.from_pki(service, mesh.pki_dir, f"service-{service}")


@pytest.fixture(scope="session")
def portal(mesh: Mesh, bus: Bus, store: TrustStore) -> MeshClient:
    """A client that speaks as the portal (holding the portal's certificate)."""
    return MeshClient(
        bus=bus, identity=identity(mesh, "portal"), store=store, clock=Clock(), namespace=mesh.namespace, timeout=10
    )


@pytest.fixture(scope="session")
def some_iin(mesh: Mesh) -> str:
    import sqlite3

    with sqlite3.connect(mesh.var_dir / "gbd_fl.db") as db:
        return str(db.execute("SELECT iin FROM persons WHERE alive = 1 ORDER BY iin LIMIT 1").fetchone()[0])


def pki(mesh: Mesh) -> Path:
    return mesh.pki_dir
