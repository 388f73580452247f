"""The deadline watchers, on real (SQLite) databases: what passed its deadline without an outcome is
flagged once, listed for its clinic only, shown to the citizen and counted."""

from __future__ import annotations

import datetime as dt
import uuid
from pathlib import Path

from services.arm import journals
from services.arm.models import Base as ArmBase
from services.arm.models import Clinic, HomeCall, Registration
from services.portal.config import PortalSettings
from services.portal.models import Base as PortalBase
from services.portal.models import Request
from services.portal.service import PortalService
from shared.platform.db import Database
from shared.wire.clock import Clock
from shared.wire.contracts import ServiceKind

NOW = dt.datetime(2026, 11, 24, 12, 0, tzinfo=dt.UTC)
CLINIC_1, CLINIC_4 = "980440012347", "030740045218"


def clock_at(moment: dt.datetime) -> Clock:
    return Clock((moment - dt.datetime.now(dt.UTC)).total_seconds())


async def test_the_portal_flags_requests_without_an_outcome_past_their_deadline_once(tmp_path: Path) -> None:
    db = Database(f"sqlite+aiosqlite:///{tmp_path / 'portal.db'}")
    await db.create_all(PortalBase.metadata)
    portal = PortalService(PortalSettings(), db, clock_at(NOW), client=None, store=None)  # type: ignore[arg-type]

    def request(status: str, deadline: dt.datetime) -> Request:
        return Request(
            id=str(uuid.uuid4()),
            iin="850315300019",
            patient_iin="850315300019",
            service="home_call",
            clinic_bin=CLINIC_1,
            document="a.b.c",
            document_nonce=uuid.uuid4().hex,
            message_id=str(uuid.uuid4()),
            status=status,
            submitted_at=deadline - dt.timedelta(minutes=30),
            deadline=deadline,
            updated_at=deadline,
        )

    late, done, waiting = (
        request("submitted", NOW - dt.timedelta(minutes=1)),
        request("completed", NOW - dt.timedelta(minutes=1)),
        request("registered", NOW + dt.timedelta(minutes=1)),
    )
    async with db.transaction() as session:
        session.add_all([late, done, waiting])
    assert await portal.flag_overdue() == 1
    assert await portal.flag_overdue() == 0  # flagged once
    async with db.sessions() as session:
        flagged = {r.id: r.overdue_at for r in [await session.get(Request, x.id) for x in (late, done, waiting)] if r}
    assert flagged[late.id] is not None and flagged[done.id] is None and flagged[waiting.id] is None
    assert (await portal.quality.indicators(ServiceKind.HOME_CALL))["overdue"] == 1


async def test_the_arm_flags_missed_visits_and_late_requests_and_lists_them_per_clinic(tmp_path: Path) -> None:
    db = Database(f"sqlite+aiosqlite:///{tmp_path / 'arm.db'}")
    await db.create_all(ArmBase.metadata)
    async with db.transaction() as session:
        for bin_ in (CLINIC_1, CLINIC_4):
            session.add(
                Clinic(
                    bin=bin_, name=bin_, short_name=bin_, district="x", address="x", phone="x",
                    fsms_contract=True, capacity=10, hours={}, timezone="Asia/Almaty",
                )
            )  # fmt: skip
        registrations = []
        for number, (bin_, status, deadline) in enumerate(
            [
                (CLINIC_1, "completed", NOW),  # the visit is what is late
                (CLINIC_1, "registered", NOW - dt.timedelta(minutes=5)),  # undecided past its deadline
                (CLINIC_4, "completed", NOW),
            ]
        ):
            registration = Registration(
                number=f"{bin_[-4:]}-2026-{number:06d}", clinic_bin=bin_, service="home_call",
                request_id=str(uuid.uuid4()), document_nonce=uuid.uuid4().hex, iin="850315300019",
                patient_iin="850315300019", document="a.b.c", status=status, registered_at=NOW, deadline=deadline,
            )  # fmt: skip
            session.add(registration)
            registrations.append(registration)
        await session.flush()
        for registration, visit_to in (
            (registrations[0], NOW - dt.timedelta(minutes=10)),
            (registrations[2], NOW - dt.timedelta(minutes=10)),
        ):
            session.add(
                HomeCall(
                    registration_id=registration.id, clinic_bin=registration.clinic_bin, number=registration.number,
                    called_at=NOW - dt.timedelta(hours=3), patient_iin="850315300019", patient_name="A B",
                    address="улица 1", phone="+77011234567", complaints="кашель", temperature=None,
                    category="взрослый", site=1, doctor="Д", visit_from=visit_to - dt.timedelta(hours=2),
                    visit_to=visit_to, status="assigned",
                )
            )  # fmt: skip
    async with db.transaction() as session:
        assert await journals.flag_overdue(session, NOW) == {"home_calls": 2, "registrations": 1}
    async with db.transaction() as session:
        assert await journals.flag_overdue(session, NOW) == {"home_calls": 0, "registrations": 0}
    async with db.sessions() as session:
        clinic_1 = await journals.overdue(session, CLINIC_1, NOW)
        clinic_4 = await journals.overdue(session, CLINIC_4, NOW)
        assert [c.number for c in clinic_1["home_calls"]] == [registrations[0].number]
        assert [r.number for r in clinic_1["registrations"]] == [registrations[1].number]
        assert [c.number for c in clinic_4["home_calls"]] == [registrations[2].number]
        assert clinic_4["registrations"] == []
        # a visit recorded in time is not overdue
        assert (await journals.overdue(session, CLINIC_1, NOW - dt.timedelta(hours=1)))["home_calls"] == []
