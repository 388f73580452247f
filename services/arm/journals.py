"""The journals a clinic's staff read: home calls and appointments of a day, and the attachment register.

Every query is bounded by the clinic (staff see only their own clinic's rows), by the day or the page,
and returns one page with the total, so a journal of a busy clinic never loads everything.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Generic, TypeVar

from sqlalchemy import Select, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from services.arm.models import (
    Attachment,
    Booking,
    BookingStatus,
    Doctor,
    HomeCall,
    HomeCallStatus,
    Registration,
    Visit,
)
from shared.platform.db import rows_affected
from shared.wire.contracts import ClinicStatus

T = TypeVar("T")
MAX_PAGE_SIZE = 200


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    items: list[T]
    total: int
    page: int
    size: int


async def _page(session: AsyncSession, query: Select[Any], page: int, size: int) -> tuple[list[Any], int]:
    size = max(1, min(size, MAX_PAGE_SIZE))
    total = await session.scalar(select(func.count()).select_from(query.order_by(None).subquery()))
    rows = list((await session.execute(query.offset((page - 1) * size).limit(size))).all())
    return rows, int(total or 0)


def _day_bounds(day: dt.date, tz: zoneinfo.ZoneInfo) -> tuple[dt.datetime, dt.datetime]:
    start = dt.datetime.combine(day, dt.time(0), tz)
    return start.astimezone(dt.UTC), (start + dt.timedelta(days=1)).astimezone(dt.UTC)


async def home_calls(
    session: AsyncSession,
    clinic_bin: str,
    tz: zoneinfo.ZoneInfo,
    day: dt.date,
    *,
    doctor: str | None = None,
    site: int | None = None,
    status: str | None = None,
    page: int = 1,
    size: int = 50,
) -> Page[HomeCall]:
    """Журнал регистрации вызовов: the calls whose visit falls on ``day`` (local), by time of the call."""
    start, end = _day_bounds(day, tz)
    query = select(HomeCall).where(
        HomeCall.clinic_bin == clinic_bin, HomeCall.visit_from >= start, HomeCall.visit_from < end
    )
    if doctor:
        query = query.where(HomeCall.doctor == doctor)
    if site is not None:
        query = query.where(HomeCall.site == site)
    if status:
        query = query.where(HomeCall.status == status)
    rows, total = await _page(session, query.order_by(HomeCall.called_at, HomeCall.id), page, size)
    return Page([r[0] for r in rows], total, page, size)


# What the journals can be filtered by (the API's query patterns and the pages' choices come from here).
class AppointmentState(StrEnum):
    """An appointment as the journal shows it: ``booked``, then what the visit became, or ``cancelled``."""

    BOOKED = "booked"
    ARRIVED = Visit.ARRIVED.value
    FULFILLED = Visit.FULFILLED.value
    NO_SHOW = Visit.NO_SHOW.value
    CANCELLED = BookingStatus.CANCELLED.value


HOME_CALL_STATES = tuple(state.value for state in HomeCallStatus)
APPOINTMENT_STATES = tuple(state.value for state in AppointmentState)
ATTACHMENT_STATES = ("open", "closed", "all")


def one_of(values: tuple[str, ...]) -> str:
    """A regular expression matching exactly one of ``values``."""
    return f"^({'|'.join(values)})$"


def appointment_state(booking: Booking) -> str:
    """booked, arrived, fulfilled, no_show or cancelled: one word for what the journal shows."""
    if booking.status == BookingStatus.CANCELLED:
        return AppointmentState.CANCELLED
    return AppointmentState(booking.visit) if booking.visit else AppointmentState.BOOKED


async def appointments(
    session: AsyncSession,
    clinic_bin: str,
    day: dt.date,
    *,
    doctor_code: str | None = None,
    site: int | None = None,
    state: str | None = None,
    page: int = 1,
    size: int = 50,
) -> Page[tuple[Booking, Doctor]]:
    """The appointment journal of ``day``: each booking with its doctor, by time."""
    query = (
        select(Booking, Doctor)
        .join(Doctor, Doctor.code == Booking.doctor_code)
        .where(Booking.clinic_bin == clinic_bin, Booking.slot_day == day)
    )
    if doctor_code:
        query = query.where(Booking.doctor_code == doctor_code)
    if site is not None:
        query = query.where(Doctor.site == site)
    if state == AppointmentState.CANCELLED:
        query = query.where(Booking.status == BookingStatus.CANCELLED)
    elif state == AppointmentState.BOOKED:
        query = query.where(Booking.status == BookingStatus.ACTIVE, Booking.visit.is_(None))
    elif state:
        query = query.where(Booking.status == BookingStatus.ACTIVE, Booking.visit == state)
    rows, total = await _page(session, query.order_by(Booking.slot_start, Booking.id), page, size)
    return Page([(r[0], r[1]) for r in rows], total, page, size)


async def attachments(
    session: AsyncSession,
    clinic_bin: str,
    *,
    state: str = "open",
    site: int | None = None,
    page: int = 1,
    size: int = 50,
) -> Page[Attachment]:
    """The attachment register: who is attached since when (open), who left when and why (closed)."""
    query = select(Attachment).where(Attachment.clinic_bin == clinic_bin)
    if state == "open":
        query = query.where(Attachment.until.is_(None))
    elif state == "closed":
        query = query.where(Attachment.until.is_not(None))
    if site is not None:
        query = query.where(Attachment.site == site)
    rows, total = await _page(session, query.order_by(Attachment.since.desc(), Attachment.id.desc()), page, size)
    return Page([r[0] for r in rows], total, page, size)


async def flag_overdue(session: AsyncSession, now: dt.datetime) -> dict[str, int]:
    """The deadline watcher's pass: mark home calls whose visit window passed without a visit, and
    registrations still undecided past their deadline. Returns how many were newly flagged."""
    calls = await session.execute(
        update(HomeCall)
        .where(HomeCall.status == HomeCallStatus.ASSIGNED, HomeCall.visit_to < now, HomeCall.overdue_at.is_(None))
        .values(overdue_at=now)
    )
    undecided = await session.execute(
        update(Registration)
        .where(
            Registration.status == ClinicStatus.REGISTERED,
            Registration.deadline < now,
            Registration.overdue_at.is_(None),
        )
        .values(overdue_at=now)
    )
    return {"home_calls": rows_affected(calls), "registrations": rows_affected(undecided)}


async def overdue(
    session: AsyncSession, clinic_bin: str, now: dt.datetime, limit: int = MAX_PAGE_SIZE
) -> dict[str, Any]:
    """What a clinic's staff and head see as overdue: home calls still waiting past their visit window,
    and requests decided (or still undecided) after the deadline of Приложение 1."""
    calls = list(
        await session.scalars(
            select(HomeCall)
            .where(
                HomeCall.clinic_bin == clinic_bin, HomeCall.status == HomeCallStatus.ASSIGNED, HomeCall.visit_to < now
            )
            .order_by(HomeCall.visit_to)
            .limit(limit)
        )
    )
    late = list(
        await session.scalars(
            select(Registration)
            .where(Registration.clinic_bin == clinic_bin, Registration.overdue_at.is_not(None))
            .order_by(Registration.overdue_at.desc())
            .limit(limit)
        )
    )
    return {"home_calls": calls, "registrations": late}
