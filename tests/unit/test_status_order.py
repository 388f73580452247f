"""The portal applies a clinic's statuses by the clinic's sequence, and technical faults never overrule the
clinic: a burst that delays messages must not show a citizen ``failed`` while the clinic decides."""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid
from pathlib import Path

import pytest
from sqlalchemy import select

from services.portal.config import PortalSettings
from services.portal.models import Base, Request, RequestEvent
from services.portal.service import PortalService
from shared.platform.db import Database
from shared.wire.clock import Clock
from shared.wire.contracts import EServiceStatus
from shared.wire.refusals import Refusal
from tests.waiting import until

CLINIC = "980440012347"
SENDER = f"arm.{CLINIC}"
AT = dt.datetime(2026, 11, 24, 11, 30, tzinfo=dt.UTC)


@pytest.fixture
async def portal(tmp_path: Path) -> PortalService:
    db = Database(f"sqlite+aiosqlite:///{tmp_path / 'portal.db'}")
    await db.create_all(Base.metadata)
    return PortalService(PortalSettings(), db, Clock(), client=None, store=None)  # type: ignore[arg-type]


async def submitted(portal: PortalService) -> Request:
    request = Request(
        id=str(uuid.uuid4()),
        iin="850315300019",
        patient_iin="850315300019",
        service="appointment",
        clinic_bin=CLINIC,
        document="a.b.c",
        document_nonce=uuid.uuid4().hex,
        message_id=str(uuid.uuid4()),
        status="submitted",
        status_seq=0,
        submitted_at=AT,
        deadline=AT + dt.timedelta(minutes=30),
        updated_at=AT,
        sent_at=AT,
    )
    async with portal.db.transaction() as session:
        session.add(request)
    return request


def status(request: Request, seq: int, name: str, **extra: object) -> EServiceStatus:
    return EServiceStatus.model_validate(
        {"request_id": request.id, "seq": seq, "status": name, "at": AT + dt.timedelta(seconds=seq), **extra}
    )


async def apply(portal: PortalService, message: EServiceStatus) -> None:
    async with portal.db.transaction() as session:
        await portal.reports.apply_status(session, SENDER, message)


async def refuse(portal: PortalService, request: Request, code: Refusal) -> None:
    async with portal.db.transaction() as session:
        await portal.reports.apply_gateway_refusal(session, request.message_id, code, "technical")


async def state(portal: PortalService, request: Request) -> tuple[str, list[str]]:
    async with portal.db.sessions() as session:
        row = await session.get(Request, request.id)
        events = list(
            await session.scalars(
                select(RequestEvent.status).where(RequestEvent.request_id == request.id).order_by(RequestEvent.id)
            )
        )
    assert row is not None
    return row.status, events


REFUSED = {"code": "SLOT_TAKEN", "message": "занято"}


async def test_statuses_crossing_in_flight_end_in_the_later_one(portal: PortalService) -> None:
    request = await submitted(portal)
    await apply(portal, status(request, 2, "refused", registration_number="2347-2026-000001", refusal=REFUSED))
    await apply(portal, status(request, 1, "registered", registration_number="2347-2026-000001"))
    assert await state(portal, request) == ("refused", ["refused", "registered"])


async def test_an_earlier_status_arriving_late_wakes_the_long_poll(portal: PortalService) -> None:
    """The long-poll answers once the history is whole: the late earlier status completes it, so it must
    wake the waiters, though the request's status does not move."""
    request = await submitted(portal)
    await apply(portal, status(request, 2, "refused", registration_number="2347-2026-000001", refusal=REFUSED))
    with portal.changes.watch(request.id) as changed:
        await apply(portal, status(request, 1, "registered", registration_number="2347-2026-000001"))
        assert changed.is_set()
    assert await state(portal, request) == ("refused", ["refused", "registered"])
    # both of the clinic's steps are timed, whatever order their messages crossed in
    counts = {step: portal.steps.steps[step].count for step in ("process_6", "process_7", "process_8")}
    assert counts == {"process_6": 1, "process_7": 1, "process_8": 0}  # a motivated refusal is process 7


async def test_a_duplicate_refusal_after_a_later_status_changes_nothing(portal: PortalService) -> None:
    request = await submitted(portal)
    await apply(portal, status(request, 1, "registered"))
    await apply(portal, status(request, 2, "completed"))
    await apply(portal, status(request, 3, "arrived", note="пришёл"))
    await apply(portal, status(request, 2, "refused", refusal=REFUSED))
    final, history = await state(portal, request)
    assert final == "arrived" and history[-1] == "refused"


async def test_a_gateway_timeout_never_overrules_a_registered_request(portal: PortalService) -> None:
    request = await submitted(portal)
    await apply(portal, status(request, 1, "registered"))
    await refuse(portal, request, Refusal.TIMEOUT)
    assert await state(portal, request) == ("registered", ["registered"])
    await apply(portal, status(request, 2, "refused", refusal=REFUSED))
    assert (await state(portal, request))[0] == "refused"


async def test_replayed_is_not_a_failure(portal: PortalService) -> None:
    request = await submitted(portal)
    await refuse(portal, request, Refusal.REPLAYED)
    assert await state(portal, request) == ("submitted", [])


async def test_a_request_the_clinic_never_got_fails_and_a_retry_is_numbered_afresh(portal: PortalService) -> None:
    request = await submitted(portal)
    await apply(portal, status(request, 1, "refused", refusal={"code": "TIMEOUT", "message": "ГБД ФЛ"}))
    assert (await state(portal, request))[0] == "failed"
    async with portal.db.transaction() as session:
        row = await session.get(Request, request.id)
        assert row is not None
        row.status, row.status_seq = "submitted", 0  # what PortalService.retry does to the row
    await apply(portal, status(request, 1, "registered"))
    await apply(portal, status(request, 2, "completed"))
    assert (await state(portal, request))[0] == "completed"


async def test_a_status_from_another_clinic_is_ignored(portal: PortalService) -> None:
    request = await submitted(portal)
    async with portal.db.transaction() as session:
        await portal.reports.apply_status(session, "arm.030740045218", status(request, 1, "registered"))
    assert await state(portal, request) == ("submitted", [])


async def test_a_result_not_signed_by_a_person_with_the_signing_right_makes_the_request_failed(
    tmp_path: Path,
) -> None:
    """The portal checks the clinic's result: the clinic's БИН *and* a person with the right to sign."""
    from services.signature.ca import DevCA
    from shared.wire.certs import Role, TrustStore
    from shared.wire.jws import sign_compact

    ca = DevCA(tmp_path / "pki")
    store = TrustStore.from_files(ca.folder / "trust.pem", ca.folder / "crl", refresh_seconds=0)
    db = Database(f"sqlite+aiosqlite:///{tmp_path / 'portal.db'}")
    await db.create_all(Base.metadata)
    portal = PortalService(PortalSettings(), db, Clock(), client=None, store=store)  # type: ignore[arg-type]
    payload = b'{"document": "result"}'
    employee = ca.issue_employee("750110490005", "A", "B", CLINIC, "Clinic")  # an employee, no signing right
    head = ca.issue_employee("830112490023", "C", "D", CLINIC, "Clinic", (Role.HEAD, Role.SIGNING_RIGHT))
    for signer, expected in ((employee, "failed"), (head, "completed")):
        request = await submitted(portal)
        result = sign_compact(payload, signer.key, signer.chain)
        await apply(portal, status(request, 1, "completed", result=result))
        assert (await state(portal, request))[0] == expected


async def test_two_statuses_of_a_clinic_filed_request_applied_at_once_file_it_once(tmp_path: Path) -> None:
    """Each status of a request filed at the clinic carries the filing. Two applied at once (PostgreSQL
    runs them in parallel): the second has looked and found no request while the first, uncommitted, has
    filed it; the database decides who files it, and the second then applies its status to that request —
    no duplicate key, no redelivery, nothing lost."""
    import asyncpg

    from services.signature.ca import DevCA
    from shared.wire.canonical import canonical_json
    from shared.wire.certs import TrustStore
    from shared.wire.jws import sign_compact
    from tests.databases import POSTGRES_URL, temporary_database

    ca = DevCA(tmp_path / "pki")
    store = TrustStore.from_files(ca.folder / "trust.pem", ca.folder / "crl", refresh_seconds=0)
    registrar = ca.issue_employee("750110490005", "A", "B", CLINIC, "Clinic")
    nonce = uuid.uuid4().hex
    document = {
        "service": "home_call",
        "iin": "850315300019",
        "provider": CLINIC,
        "fields": {},
        "time": AT.isoformat(),
        "nonce": nonce,
        "operator_iin": "750110490005",
    }
    filed = {
        "iin": "850315300019",
        "patient_iin": "850315300019",
        "service": "home_call",
        "document": sign_compact(canonical_json(document), registrar.key, registrar.chain),
        "document_nonce": nonce,
        "submitted_at": AT.isoformat(),
        "deadline": (AT + dt.timedelta(hours=8)).isoformat(),
    }
    request = Request(id=str(uuid.uuid4()))
    registered = status(request, 1, "registered", registration_number="HC-1", filed=filed)
    completed = status(request, 2, "completed", filed=filed)

    async with temporary_database("postgres", tmp_path, Base.metadata) as db:
        portal = PortalService(PortalSettings(), db, Clock(), client=None, store=store)  # type: ignore[arg-type]
        first_filed = asyncio.Event()
        database = db.engine.url.database
        admin = await asyncpg.connect(POSTGRES_URL.replace("postgresql+asyncpg", "postgresql"))

        async def another_is_waiting_on_a_lock() -> bool:
            waiting = "SELECT count(*) FROM pg_stat_activity WHERE datname = $1 AND wait_event_type = 'Lock'"
            return bool(await admin.fetchval(waiting, database))

        async def first() -> None:
            async with db.transaction() as session:
                await portal.reports.apply_status(session, SENDER, registered)
                first_filed.set()
                await until(
                    another_is_waiting_on_a_lock, 30, "the second status to wait on the first's filing"
                )  # the second is past its look, inserting

        async def second() -> None:
            await first_filed.wait()
            async with db.transaction() as session:
                await portal.reports.apply_status(session, SENDER, completed)

        try:
            await asyncio.gather(first(), second())
        finally:
            await admin.close()
        assert await state(portal, request) == ("completed", ["submitted", "registered", "completed"])
