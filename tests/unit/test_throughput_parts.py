"""The pieces the throughput work added, each on its own: group commit (many callers, one transaction,
each answered only after the commit; a bad item fails only its caller), and shedding overload at the door
(503 with Retry-After, never a queue)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
import pytest
from prometheus_client import REGISTRY
from sqlalchemy import Column, Integer, MetaData, String, Table, select
from sqlalchemy.exc import IntegrityError

from shared.db import Database, insert_new_rows
from shared.groupcommit import GroupCommit
from shared.http import InFlightLimit
from tests.databases import temporary_database

metadata = MetaData()
things = Table("things", metadata, Column("id", String(36), primary_key=True), Column("n", Integer))


def committed(service: str) -> float:
    return REGISTRY.get_sample_value("emhana_db_commits_total", {"service": service}) or 0.0


async def insert_new(connection, rows: list[dict]) -> list[bool]:  # type: ignore[no-untyped-def]
    return await insert_new_rows(connection, things, "id", rows)  # as the gateway records accepted ids


async def insert_strict(connection, rows: list[dict]) -> list[None]:  # type: ignore[no-untyped-def]
    await connection.execute(things.insert(), rows)
    return [None] * len(rows)


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
async def test_concurrent_writes_share_transactions_and_each_caller_sees_its_own_result(
    backend: str, tmp_path: Path
) -> None:
    async with temporary_database(backend, tmp_path, metadata) as raw:
        db = Database(raw.url, service=f"unit-{backend}")
        writes = GroupCommit(db, {"new": insert_new})
        before = committed(f"unit-{backend}")
        ids = [f"id-{i}" for i in range(100)] + ["id-3", "id-7"]  # two ids offered twice
        results = await asyncio.gather(*(writes.submit("new", {"id": i, "n": 1}) for i in ids))
        assert results[:100] == [True] * 100 and results[100:] == [False, False]
        assert committed(f"unit-{backend}") - before < 20  # far fewer transactions than the 102 writes
        async with db.engine.connect() as connection:
            assert len(list(await connection.scalars(select(things.c.id)))) == 100
        await db.close()


async def test_a_failing_item_fails_only_its_own_caller(tmp_path: Path) -> None:
    db = Database(f"sqlite+aiosqlite:///{tmp_path / 'g.db'}")
    await db.create_all(metadata)
    writes = GroupCommit(db, {"strict": insert_strict})
    await writes.submit("strict", {"id": "taken", "n": 0})
    outcomes = await asyncio.gather(
        *(writes.submit("strict", {"id": name, "n": 1}) for name in ("a", "taken", "b", "c")),
        return_exceptions=True,
    )
    assert outcomes[0] is None and outcomes[2] is None and outcomes[3] is None
    assert isinstance(outcomes[1], IntegrityError)
    async with db.engine.connect() as connection:
        assert set(await connection.scalars(select(things.c.id))) == {"taken", "a", "b", "c"}
    await db.close()


async def test_overload_is_answered_503_with_retry_after_at_once() -> None:
    release = asyncio.Event()
    arrivals: asyncio.Queue[str] = asyncio.Queue()

    async def slow_app(scope, receive, send) -> None:  # type: ignore[no-untyped-def]
        arrivals.put_nowait(scope["method"])
        await release.wait()
        await send({"type": "http.response.start", "status": 201, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    app = InFlightLimit(slow_app, limit=2)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://portal") as http:
        held = [asyncio.create_task(http.post("/api/v1/requests")) for _ in range(2)]
        assert [await arrivals.get() for _ in range(2)] == ["POST", "POST"]
        shed = await http.post("/api/v1/requests")
        assert shed.status_code == 503 and shed.headers["retry-after"] == "1"
        assert shed.json()["code"] == "OVERLOADED" and arrivals.empty()  # refused before the app saw it
        release.set()
        assert [r.status_code for r in await asyncio.gather(*held)] == [201, 201]
        assert (await http.post("/api/v1/requests")).status_code == 201  # room again
        while not arrivals.empty():
            arrivals.get_nowait()
        release.clear()
        reads = [asyncio.create_task(http.get("/api/v1/requests/x")) for _ in range(3)]
        # reads (status, long-polls) are never counted against the limit: all three reach the app at once
        assert [await arrivals.get() for _ in range(3)] == ["GET", "GET", "GET"]
        release.set()
        assert [r.status_code for r in await asyncio.gather(*reads)] == [201, 201, 201]


def test_a_clinic_that_falls_behind_sheds_new_submissions_until_it_catches_up() -> None:
    from services.portal.admission import Admission
    from shared.http import ApiError

    now = [0.0]
    admission = Admission(max_wait=5.0, forget_after=60.0, clock=lambda: now[0])
    admission.sent("clinic-a", "r1")
    now[0] = 3.0
    admission.sent("clinic-a", "r2")
    admission.check("clinic-a")  # the oldest has waited 3 s: still accepted
    now[0] = 6.0
    with pytest.raises(ApiError) as shed:
        admission.check("clinic-a")
    assert (shed.value.status, shed.value.code, shed.value.headers) == (503, "OVERLOADED", {"Retry-After": "2"})
    admission.check("clinic-b")  # another clinic is not affected
    admission.answered("clinic-a", "r1")
    admission.check("clinic-a")  # r2 has waited 3 s: open again
    now[0] = 9.0
    with pytest.raises(ApiError):
        admission.check("clinic-a")
    now[0] = 64.0  # r2 never got a status: forgotten, it cannot keep the clinic closed
    admission.check("clinic-a")
    assert admission.waiting("clinic-a") == 0
