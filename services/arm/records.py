"""What staff record in the journals (diagram 2, process 8): a home call's doctor, visit or cancellation, an
appointment's arrival, visit, absence or cancellation, and a doctor's absence that cancels their day. Each
change is checked against the staff member's role and tells the citizen's portal (``eservice.status``)."""

from __future__ import annotations

import datetime as dt
import logging

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.arm import roles
from services.arm.models import (
    Absence,
    Booking,
    BookingStatus,
    Clinic,
    Doctor,
    HomeCall,
    HomeCallStatus,
    Registration,
    Staff,
    Visit,
)
from services.arm.reports import follow_up, queue_status
from services.arm.roles import Action
from services.arm.rules import WorkingHours
from services.arm.service import ArmService
from shared.messaging.outbox import Outbox
from shared.platform.db import Database
from shared.rules.errors import Conflict, NotFound, RuleBroken
from shared.wire.clock import Clock
from shared.wire.contracts import ClinicStatus

log = logging.getLogger(__name__)

# What each recorded change of a journal entry is, in the roles table.
HOME_CALL_ACTIONS = {"assign": Action.ASSIGN_DOCTOR, "visited": Action.RECORD_VISIT, "cancel": Action.CANCEL}
APPOINTMENT_ACTIONS = {
    "arrived": Action.RECORD_VISIT,
    "fulfilled": Action.RECORD_VISIT,
    "no_show": Action.RECORD_VISIT,
    "cancel": Action.CANCEL,
}


class JournalRecords:
    """The journals' recorded changes, on the АРМ's database."""

    def __init__(self, db: Database, clock: Clock, arm: ArmService, outbox: Outbox) -> None:
        self.db, self.clock, self.arm, self.outbox = db, clock, arm, outbox

    async def _registration(self, session: AsyncSession, registration_id: int) -> Registration:
        registration = await session.get(Registration, registration_id, with_for_update=True)
        assert registration is not None
        return registration

    async def change_home_call(
        self, member: Staff, number: str, action: str, doctor: str | None = None, note: str | None = None
    ) -> HomeCall:
        """assign (a doctor), visited, cancel (with the reason); the citizen's portal is told each."""
        roles.require(member, HOME_CALL_ACTIONS.get(action, Action.ASSIGN_DOCTOR))
        now = self.clock.now()
        async with self.db.transaction() as session:
            call = await session.scalar(
                select(HomeCall)
                .where(HomeCall.number == number, HomeCall.clinic_bin == member.clinic_bin)
                .with_for_update()
            )
            if call is None:
                raise NotFound("NOT_FOUND", "no such home call in this clinic's journal")
            if call.status != HomeCallStatus.ASSIGNED:
                raise Conflict("ALREADY_CLOSED", f"this home call is already {call.status}")
            if action == "assign":
                if not doctor:
                    raise RuleBroken("VALIDATION_ERROR", "name the doctor to assign")
                call.doctor, status, note = doctor, ClinicStatus.ASSIGNED, note or f"Назначен врач: {doctor}"
            elif action == "visited":
                call.status, status = HomeCallStatus.VISITED, ClinicStatus.VISITED
            elif action == "cancel":
                if not note:
                    raise RuleBroken("VALIDATION_ERROR", "give the reason for the cancellation")
                call.status, status = HomeCallStatus.CANCELLED, ClinicStatus.CANCELLED
            else:
                raise RuleBroken("VALIDATION_ERROR", f"unknown action {action}")
            call.note, call.changed_at, call.changed_by = note, now, member.iin
            registration = await self._registration(session, call.registration_id)
            await queue_status(self.outbox, session, member.clinic_bin, follow_up(registration, status, now, note), now)
        self.outbox.nudge()
        return call

    async def change_appointment(self, member: Staff, number: str, action: str, note: str | None = None) -> Booking:
        """arrived, fulfilled, no_show, cancel (by the clinic, with the reason); the portal is told each."""
        roles.require(member, APPOINTMENT_ACTIONS.get(action, Action.CANCEL))
        now = self.clock.now()
        async with self.db.transaction() as session:
            booking = await session.scalar(
                select(Booking)
                .where(Booking.number == number, Booking.clinic_bin == member.clinic_bin)
                .with_for_update()
            )
            if booking is None:
                raise NotFound("NOT_FOUND", "no such appointment in this clinic's journal")
            if booking.status != BookingStatus.ACTIVE or booking.visit in (Visit.FULFILLED, Visit.NO_SHOW):
                raise Conflict("ALREADY_CLOSED", "this appointment is already closed")
            allowed = {"arrived": (None,), "fulfilled": (None, Visit.ARRIVED), "no_show": (None,), "cancel": (None,)}
            if action not in allowed:
                raise RuleBroken("VALIDATION_ERROR", f"unknown action {action}")
            if booking.visit not in allowed[action]:
                raise Conflict("INVALID_TRANSITION", f"cannot mark {action} after {booking.visit}")
            if action in tuple(Visit) and booking.slot_day > await self.today(session, member):
                raise Conflict("INVALID_TRANSITION", "a visit is recorded on the day of the appointment")
            if action == "cancel":
                if not note:
                    raise RuleBroken("VALIDATION_ERROR", "give the reason for the cancellation")
                booking.status, booking.cancelled_at, status = BookingStatus.CANCELLED, now, ClinicStatus.CANCELLED
            else:
                booking.visit, status = Visit(action), ClinicStatus(action)
            booking.note, booking.changed_by = note, member.iin
            registration = await self._registration(session, booking.registration_id)
            await queue_status(self.outbox, session, member.clinic_bin, follow_up(registration, status, now, note), now)
        self.outbox.nudge()
        return booking

    async def hours(self, session: AsyncSession, member: Staff) -> WorkingHours:
        clinic = await session.get(Clinic, member.clinic_bin)
        assert clinic is not None
        return self.arm.hours(clinic)

    async def today(self, session: AsyncSession, member: Staff) -> dt.date:
        """Today in the clinic's own time zone."""
        return self.clock.now().astimezone((await self.hours(session, member)).tz).date()

    async def absence(self, member: Staff, doctor_code: str, day: dt.date, reason: str) -> list[str]:
        """A doctor's absence: their slots that day disappear, and every citizen booked in them gets a
        signed cancellation with the reason. Returns the cancelled registration numbers."""
        roles.require(member, Action.ENTER_ABSENCE)
        now = self.clock.now()
        note = f"Приём отменён: врач отсутствует ({reason})"
        async with self.db.transaction() as session:
            doctor = await session.get(Doctor, doctor_code)
            if doctor is None or doctor.clinic_bin != member.clinic_bin:
                raise NotFound("NOT_FOUND", "no such doctor in this clinic")
            absence = await session.get(Absence, (doctor_code, day))
            if absence is None:
                session.add(Absence(doctor_code=doctor_code, day=day, reason=reason, entered_by=member.iin))
            else:
                absence.reason, absence.entered_by = reason, member.iin
            bookings = list(
                await session.scalars(
                    select(Booking)
                    .where(
                        Booking.doctor_code == doctor_code,
                        Booking.slot_day == day,
                        Booking.status == BookingStatus.ACTIVE,
                    )
                    .order_by(Booking.slot_start)
                    .with_for_update()
                )
            )
            for booking in bookings:
                booking.status, booking.cancelled_at, booking.note, booking.changed_by = (
                    BookingStatus.CANCELLED,
                    now,
                    note,
                    member.iin,
                )
                registration = await self._registration(session, booking.registration_id)
                report = follow_up(registration, ClinicStatus.CANCELLED, now, note)
                await queue_status(self.outbox, session, member.clinic_bin, report, now)
        self.outbox.nudge()
        log.info("doctor absence entered", extra={"doctor": doctor_code, "cancelled": len(bookings)})
        return [b.number for b in bookings]
