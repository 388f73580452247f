"""The АРМ's read models: the journals, the attachment register and the overdue list as the staff see them,
for both the JSON API (``api.py``) and the pages (``pages.py``). Each asks the roles table first."""

from __future__ import annotations

import datetime as dt
from typing import Any

from services.arm import journals, roles
from services.arm.models import Clinic, Staff
from services.arm.roles import Action
from services.arm.schemas import AppointmentOut, AttachmentOut, HomeCallOut, PageOut
from services.arm.staff import StaffService


async def clinic_day(service: StaffService, member: Staff, day: dt.date | None) -> tuple[dt.date, Clinic]:
    """The member's clinic and ``day`` — today in the clinic's own time zone when none is given."""
    async with service.db.sessions() as session:
        clinic = await session.get(Clinic, member.clinic_bin)
    assert clinic is not None
    tz = service.arm.hours(clinic).tz
    return day or service.clock.now().astimezone(tz).date(), clinic


async def home_calls(
    service: StaffService,
    member: Staff,
    *,
    day: dt.date | None = None,
    doctor: str | None = None,
    site: int | None = None,
    status: str | None = None,
    page: int = 1,
    size: int = 50,
) -> PageOut:
    """Журнал регистрации вызовов of a day (today by default), filterable, paginated."""
    roles.require(member, Action.READ_JOURNALS)
    day, clinic = await clinic_day(service, member, day)
    async with service.db.sessions() as session:
        found = await journals.home_calls(
            session,
            member.clinic_bin,
            service.arm.hours(clinic).tz,
            day,
            doctor=doctor,
            site=site,
            status=status,
            page=page,
            size=size,
        )
    items = [HomeCallOut.model_validate(call, from_attributes=True) for call in found.items]
    return PageOut(total=found.total, page=found.page, size=found.size, items=items)


async def appointments(
    service: StaffService,
    member: Staff,
    *,
    day: dt.date | None = None,
    doctor_code: str | None = None,
    site: int | None = None,
    state: str | None = None,
    page: int = 1,
    size: int = 50,
) -> PageOut:
    """The appointments of a day, by doctor, участок and state, paginated."""
    roles.require(member, Action.READ_JOURNALS)
    day, _ = await clinic_day(service, member, day)
    async with service.db.sessions() as session:
        found = await journals.appointments(
            session, member.clinic_bin, day, doctor_code=doctor_code, site=site, state=state, page=page, size=size
        )
    items = [
        AppointmentOut(
            number=booking.number,
            doctor_code=doctor.code,
            doctor_name=doctor.name,
            room=doctor.room,
            slot_start=booking.slot_start,
            patient_iin=booking.patient_iin,
            state=journals.appointment_state(booking),
            note=booking.note,
        )
        for booking, doctor in found.items
    ]
    return PageOut(total=found.total, page=found.page, size=found.size, items=items)


async def attachment_register(
    service: StaffService, member: Staff, *, state: str = "open", site: int | None = None, page: int = 1, size: int = 50
) -> PageOut:
    """The attachment register: who is attached since when, who left when and why."""
    roles.require(member, Action.READ_JOURNALS)
    async with service.db.sessions() as session:
        found = await journals.attachments(session, member.clinic_bin, state=state, site=site, page=page, size=size)
    items = [AttachmentOut.model_validate(row, from_attributes=True) for row in found.items]
    return PageOut(total=found.total, page=found.page, size=found.size, items=items)


async def overdue(service: StaffService, member: Staff) -> dict[str, Any]:
    """The clinic's overdue list (for its staff and its head): home calls past their visit window without
    a visit, and requests decided after — or still undecided past — the deadline of Приложение 1."""
    roles.require(member, Action.READ_JOURNALS)
    async with service.db.sessions() as session:
        found = await journals.overdue(session, member.clinic_bin, service.clock.now())
    return {
        "home_calls": [HomeCallOut.model_validate(c, from_attributes=True) for c in found["home_calls"]],
        "registrations": [
            {
                "number": r.number,
                "service": r.service,
                "channel": r.channel,
                "status": r.status,
                "registered_at": r.registered_at,
                "deadline": r.deadline,
                "overdue_at": r.overdue_at,
            }
            for r in found["registrations"]
        ],
        "count": len(found["home_calls"]) + len(found["registrations"]),
    }
