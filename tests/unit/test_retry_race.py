"""Only one retry of a failed request is ever in flight, however many arrive at once — on SQLite and on
PostgreSQL (where transactions run in parallel and only the row lock keeps them apart)."""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from services.portal.config import PortalSettings
from services.portal.models import Base, Citizen, Request
from services.portal.service import PortalService
from shared.platform.db import Database
from shared.rules.errors import Conflict
from shared.wire.clock import Clock
from tests.databases import temporary_database

IIN = "850315300019"
NOW = dt.datetime.now(dt.UTC)


@pytest.fixture(params=["sqlite", "postgres"])
async def db(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Database]:
    async with temporary_database(request.param, tmp_path, Base.metadata) as database:
        yield database


async def test_twenty_concurrent_retries_send_the_request_once(db: Database) -> None:
    portal = PortalService(PortalSettings(), db, Clock(), client=None, store=None)  # type: ignore[arg-type]
    sent: list[str] = []

    async def send(request: Request) -> None:  # the bus, as a fake: records what would be sent
        sent.append(request.message_id)
        await asyncio.sleep(0.01)

    portal.send = send  # type: ignore[method-assign]
    citizen = Citizen(iin=IIN, password_hash="x", surname="A", name="B", registered_at=NOW)
    request_id = str(uuid.uuid4())
    async with db.transaction() as session:
        session.add(citizen)
        session.add(
            Request(
                id=request_id, iin=IIN, patient_iin=IIN, service="home_call", clinic_bin="980440012347",
                document="a.b.c", document_nonce=uuid.uuid4().hex, message_id=str(uuid.uuid4()),
                status="failed", status_seq=0, submitted_at=NOW, deadline=NOW, updated_at=NOW,
            )
        )  # fmt: skip

    async def retry() -> int:
        try:
            await portal.retry(citizen, request_id)
        except Conflict as exc:
            assert exc.code == "NOT_FAILED"
            return 409
        return 200

    outcomes = await asyncio.gather(*(retry() for _ in range(20)))
    assert sorted(outcomes) == [200] + [409] * 19
    assert len(sent) == 1
