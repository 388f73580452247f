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

from shared.platform.db import Database, insert_new_rows, upsert
from shared.platform.groupcommit import GroupCommit
from shared.platform.http import InFlightLimit
from tests.databases import temporary_database

metadata = MetaData()
things = Table("things", metadata, Column("id", String(36), primary_key=True), Column("n", Integer))


def committed(service: str) -> float:
    return REGISTRY.get_sample_value("emhana_db_commits_total", {"service": service}) or 0.0


async def insert_new(connection, rows: list[dict]) -> list[bool]:  # type: ignore[no-untyped-def]
    return await insert_new_rows(connection, things, ("id",), rows)  # as the gateway records accepted ids


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
        assert 0 < committed(f"unit-{backend}") - before < 20  # far fewer transactions than the 102 writes
        async with db.engine.connect() as connection:
            assert len(list(await connection.scalars(select(things.c.id)))) == 100
        await db.close()


async def test_two_writers_of_one_new_key_both_succeed_with_upsert(tmp_path: Path) -> None:
    """``upsert`` is decided by the database: a writer that looked and found no row, while another inserted
    it and committed, still succeeds (it updates), where a read-then-insert (``session.merge``) fails on the
    key. PostgreSQL only: SQLite runs one write transaction at a time, so there the race cannot happen."""
    async with temporary_database("postgres", tmp_path, metadata) as db:
        second_looked, first_committed = asyncio.Event(), asyncio.Event()

        async def first() -> None:
            async with db.transaction() as session:
                await upsert(session, things, {"id": "k", "n": 1})
                await second_looked.wait()
            first_committed.set()

        async def second() -> None:
            async with db.transaction() as session:
                assert (await session.execute(select(things.c.id).where(things.c.id == "k"))).first() is None
                second_looked.set()
                await first_committed.wait()
                await upsert(session, things, {"id": "k", "n": 2})

        await asyncio.gather(first(), second())  # neither raises
        async with db.reading() as connection:
            assert list(await connection.execute(select(things.c.id, things.c.n))) == [("k", 2)]


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
async def test_a_failing_item_fails_only_its_own_caller(backend: str, tmp_path: Path) -> None:
    """On PostgreSQL a batch of one statement runs in autocommit: it must still be all or nothing (else
    "a" would be committed by the failed batch, and its retry alone would then fail on the key)."""
    async with temporary_database(backend, tmp_path, metadata) as db:
        await _one_bad_item(db)


async def _one_bad_item(db: Database) -> None:
    writes = GroupCommit(db, {"strict": insert_strict, "new": insert_new})
    await writes.submit("strict", {"id": "taken", "n": 0})
    outcomes = await asyncio.gather(
        *(writes.submit("strict", {"id": name, "n": 1}) for name in ("a", "taken", "b", "c")),
        *(writes.submit("new", {"id": name, "n": 1}) for name in ("d", "e")),  # the same batch, another kind
        return_exceptions=True,
    )
    assert outcomes[0] is None and outcomes[2] is None and outcomes[3] is None
    assert isinstance(outcomes[1], IntegrityError)
    assert outcomes[4:] == [True, True]  # committed once, not retried (a retry would say "not new")
    async with db.engine.connect() as connection:
        assert set(await connection.scalars(select(things.c.id))) == {"taken", "a", "b", "c", "d", "e"}


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


def _shed(admission, clinic: str) -> bool:  # type: ignore[no-untyped-def]
    from shared.rules.errors import Overloaded

    try:
        admission.check(clinic)
    except Overloaded as exc:
        assert (exc.code, exc.retry_after) == ("OVERLOADED", 2)
        return True
    return False


def test_a_clinic_that_falls_behind_sheds_new_submissions_until_it_catches_up() -> None:
    from services.portal.admission import Admission

    now = [0.0]
    admission = Admission(target=100.0, max_wait=5.0, forget_after=60.0, clock=lambda: now[0])
    admission.sent("clinic-a", "r1")
    now[0] = 3.0
    admission.sent("clinic-a", "r2")
    assert not _shed(admission, "clinic-a")  # the oldest has waited 3 s: still accepted
    now[0] = 6.0
    assert _shed(admission, "clinic-a")
    assert not _shed(admission, "clinic-b")  # another clinic is not affected
    admission.answered("clinic-a", "r1")
    assert not _shed(admission, "clinic-a")  # r2 has waited 3 s: open again
    now[0] = 9.0
    assert _shed(admission, "clinic-a")
    now[0] = 64.0  # r2 never got a status: forgotten, it cannot keep the clinic closed
    assert not _shed(admission, "clinic-a")
    assert admission.waiting("clinic-a") == 0


def test_work_in_flight_is_bounded_per_clinic_and_each_step_frees_its_place() -> None:
    from services.portal.admission import Admission
    from shared.rules.errors import Overloaded

    now = [0.0]
    admission = Admission(target=1.0, max_wait=5.0, initial_limit=3, clock=lambda: now[0])
    admission.sent("clinic-a", "r1")  # a request sent: in flight until registered
    with admission.step("clinic-a"), admission.step("clinic-a"):
        assert _shed(admission, "clinic-a")  # r1 waiting + two steps running = the limit of 3
        with pytest.raises(Overloaded), admission.step("clinic-a"):
            pass
        assert not _shed(admission, "clinic-b")
    assert not _shed(admission, "clinic-a")  # the steps ended
    admission.answered("clinic-a", "r1")
    assert admission.waiting("clinic-a") == 0


def test_the_limit_follows_the_latency_of_admitted_work() -> None:
    from services.portal.admission import Admission

    now = [0.0]
    admission = Admission(target=1.0, max_wait=60.0, initial_limit=8, floor=2, clock=lambda: now[0])
    for i in range(4):
        admission.sent("clinic-a", f"slow{i}")
    now[0] = 3.0  # all four waited 3 s, above the 1 s target
    admission.answered("clinic-a", "slow0")
    assert admission.limit("clinic-a") == 4  # three times the target: cut by the most, a half
    admission.answered("clinic-a", "slow1")
    assert admission.limit("clinic-a") == 4  # admitted before the cut: the same queue, no second cut
    now[0] = 3.5
    admission.sent("clinic-a", "after")
    admission.sent("clinic-a", "after2")
    now[0] = 4.7
    admission.answered("clinic-a", "after")  # admitted after the cut and still slow, a little: cut by a quarter
    assert admission.limit("clinic-a") == 3
    for i in range(10):
        admission.sent("clinic-a", f"again{i}")
        now[0] += 2.0
        admission.answered("clinic-a", f"again{i}")
    assert admission.limit("clinic-a") == 2  # never below the floor
    # Fast work while the limit is in use raises it, by about one per limit's worth of samples.
    for i in range(8):
        admission.sent("clinic-a", f"fast{i}")
    admission.answered("clinic-a", "slow2")
    admission.answered("clinic-a", "slow3")  # old, slow, but admitted before the last cut: no cut
    for i in range(8):
        now[0] += 0.1
        admission.answered("clinic-a", f"fast{i}")
    grown = admission.limit("clinic-a")
    assert 3 < grown < 5
    # Fast work on an idle clinic does not raise its limit: a limit never used says nothing.
    for i in range(20):
        admission.sent("clinic-b", f"r{i}")
        now[0] += 0.1
        admission.answered("clinic-b", f"r{i}")
    assert admission.limit("clinic-b") == 8


def test_slow_work_with_little_in_flight_does_not_cut_and_a_quiet_clinic_gets_its_room_back() -> None:
    from services.portal.admission import RECOVERY, Admission

    now = [0.0]
    admission = Admission(target=0.5, max_wait=60.0, initial_limit=8, clock=lambda: now[0])
    for _ in range(5):  # one at a time, each slow (a slow machine, not a queue): the limit stays
        with admission.step("clinic-a"):
            now[0] += 2.0
    assert admission.limit("clinic-a") == 8
    for i in range(6):  # many at once and slow: a queue, cut
        admission.sent("clinic-a", f"r{i}")
    now[0] += 2.0
    for i in range(6):
        admission.answered("clinic-a", f"r{i}")
    assert admission.limit("clinic-a") == 4
    now[0] += RECOVERY / 2
    assert not _shed(admission, "clinic-a") and admission.limit("clinic-a") == 4  # not yet
    now[0] += RECOVERY
    assert not _shed(admission, "clinic-a") and admission.limit("clinic-a") == 8  # quiet since: room again


async def test_the_portal_sheds_a_full_clinics_new_work_before_anything_is_held_sent_or_stored(
    tmp_path: Path,
) -> None:
    """Preparing and signing are admitted steps: with the clinic's work in flight at its limit, both are
    refused with 503 before a slot is held, a signature checked (the mesh here records each
    exchange and stops it) or a row written."""
    import datetime as dt

    from services.portal.config import PortalSettings
    from services.portal.models import Base, Citizen, Draft
    from services.portal.service import PortalService
    from services.signature.ca import DevCA
    from shared.rules.errors import Overloaded
    from shared.wire.clock import Clock
    from shared.wire.contracts import DOCUMENT_VERIFY, ServiceKind
    from shared.wire.jws import sign_compact

    clinic, now = "980440012347", dt.datetime.now(dt.UTC)
    db = Database(f"sqlite+aiosqlite:///{tmp_path / 'portal.db'}")
    await db.create_all(Base.metadata)

    class Mesh:  # records what the portal asks the mesh, and stops there
        def __init__(self) -> None:
            self.asked: list[str] = []

        async def request(self, recipient: str, type: str, payload: dict) -> dict:
            self.asked.append(type)
            raise RuntimeError("stop: the exchange is where this test ends")

    mesh = Mesh()
    portal = PortalService(PortalSettings(), db, Clock(), client=mesh, store=None)  # type: ignore[arg-type]
    citizen = Citizen(iin="850315300019", password_hash="x", surname="A", name="B", registered_at=now)
    draft = Draft(
        id="d1", iin=citizen.iin, service="home_call", clinic_bin=clinic, document='{"x":1}',
        created_at=now, expires_at=now + dt.timedelta(minutes=10), used_at=None,
    )  # fmt: skip
    async with db.transaction() as session:
        session.add(draft)
    for i in range(int(portal.admission.limit(clinic))):
        portal.admission.sent(clinic, f"r{i}")
    fields = {"address": "г. Астана, проспект Республики, 5", "phone": "+77010000000", "complaints": "ОРВИ"}
    key = DevCA(tmp_path / "pki").issue_person(citizen.iin, "A", "B")
    for attempt in (
        portal.prepare(citizen, ServiceKind.HOME_CALL, clinic, fields),
        portal.sign(citizen, "d1", sign_compact(b'{"x":1}', key.key, key.chain)),
    ):
        with pytest.raises(Overloaded) as shed:
            await attempt
        assert shed.value.code == "OVERLOADED"
    async with db.sessions() as session:
        assert [d.id for d in await session.scalars(select(Draft))] == ["d1"]  # nothing new stored
        assert (await session.get(Draft, "d1")).used_at is None  # type: ignore[union-attr]
    assert mesh.asked == []  # no slot held, no signature checked
    portal.admission.answered(clinic, "r0")  # room again: the step is admitted and asks the signature service
    with pytest.raises(RuntimeError):
        await portal.sign(citizen, "d1", sign_compact(b'{"x":1}', key.key, key.chain))
    assert mesh.asked == [DOCUMENT_VERIFY]
