"""The doctors' slots of a clinic: which are free, holding one while the citizen signs, and whether a time
is a real slot at all (appointment, diagram 1; the booking window and the hold come from the settings)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.arm.config import ArmSettings
from services.arm.models import Absence, Booking, BookingStatus, Clinic, Doctor
from services.arm.models import SlotHold as SlotHoldRow
from services.arm.rules import WorkingHours, day_slots
from shared.platform.db import insert_or_ignore, rows_affected
from shared.rules.calendar import WorkCalendar
from shared.rules.doctors import sees
from shared.wire.clock import Clock
from shared.wire.contracts import Slot
from shared.wire.ids import InvalidIdentifier, parse_iin
from shared.wire.refusals import Refusal, RefusalError


class Slots:
    """Free slots, holds and the check of a chosen time, on the АРМ's database."""

    def __init__(self, settings: ArmSettings, clock: Clock, calendar: WorkCalendar) -> None:
        self.settings, self.clock, self.calendar = settings, clock, calendar

    def hours(self, clinic: Clinic) -> WorkingHours:
        """The clinic's working hours in its own time zone, on the work calendar."""
        return WorkingHours.from_json(clinic.hours, clinic.timezone, self.calendar)

    async def slot_of(
        self, session: AsyncSession, clinic: Clinic, doctor_code: str, start: dt.datetime, now: dt.datetime
    ) -> tuple[Doctor, dt.datetime]:
        """The doctor and the slot's end, if ``start`` is a real, future slot inside the booking window."""
        doctor = await session.get(Doctor, doctor_code)
        if doctor is None or doctor.clinic_bin != clinic.bin:
            raise RefusalError(Refusal.NO_SUCH_SLOT, "no such doctor at this clinic")
        start = start.astimezone(dt.UTC)
        if start <= now:
            raise RefusalError(Refusal.SLOT_IN_PAST)
        if start > now + dt.timedelta(days=self.settings.booking_window_days):
            raise RefusalError(Refusal.NO_SUCH_SLOT, f"bookings open {self.settings.booking_window_days} days ahead")
        hours = self.hours(clinic)
        day = start.astimezone(hours.tz).date()
        absent = await session.get(Absence, (doctor.code, day)) is not None
        for slot_start, slot_end in day_slots(doctor.template, day, hours.tz, self.calendar, absent):
            if slot_start == start:
                return doctor, slot_end
        raise RefusalError(Refusal.NO_SUCH_SLOT)

    async def free_slots(
        self,
        session: AsyncSession,
        clinic: Clinic,
        doctor_code: str | None,
        specialty: str | None,
        date_from: dt.date | None,
        days: int,
    ) -> list[Slot]:
        now = self.clock.now()
        hours = self.hours(clinic)
        today = now.astimezone(hours.tz).date()
        first = max(date_from or today, today)
        last = min(first + dt.timedelta(days=days), today + dt.timedelta(days=self.settings.booking_window_days))
        query = select(Doctor).where(Doctor.clinic_bin == clinic.bin)
        if doctor_code:
            query = query.where(Doctor.code == doctor_code)
        if specialty:
            query = query.where(Doctor.specialty == specialty)
        doctors = list(await session.scalars(query.order_by(Doctor.code)))
        codes = [d.code for d in doctors]
        taken = await self._taken(session, codes, first, last, hours.tz, now)
        absences = {
            (a.doctor_code, a.day)
            for a in await session.scalars(
                select(Absence).where(Absence.doctor_code.in_(codes), Absence.day >= first, Absence.day < last)
            )
        }
        slots = []
        day = first
        while day < last:
            for doctor in doctors:
                away = (doctor.code, day) in absences
                for start, end in day_slots(doctor.template, day, hours.tz, self.calendar, away):
                    if start > now and (doctor.code, start.astimezone(dt.UTC)) not in taken:
                        slots.append(
                            Slot(
                                doctor_code=doctor.code,
                                doctor_name=doctor.name,
                                specialty=doctor.specialty,
                                room=doctor.room,
                                start=start,
                                end=end,
                            )
                        )
            day += dt.timedelta(days=1)
        return slots

    @staticmethod
    async def _taken(
        session: AsyncSession,
        codes: list[str],
        first: dt.date,
        last: dt.date,
        tz: dt.tzinfo,
        now: dt.datetime,
    ) -> set[tuple[str, dt.datetime]]:
        """(doctor, start) of the slots booked or held (a hold not yet expired) from ``first`` to before
        ``last``. Only those days are read: bookings and holds ever made do not grow this query."""
        since = dt.datetime.combine(first, dt.time(0), tz).astimezone(dt.UTC)
        until = dt.datetime.combine(last, dt.time(0), tz).astimezone(dt.UTC)
        booked = select(Booking.doctor_code, Booking.slot_start).where(
            Booking.doctor_code.in_(codes),
            Booking.status == BookingStatus.ACTIVE,
            Booking.slot_start >= since,
            Booking.slot_start < until,
        )
        held = select(SlotHoldRow.doctor_code, SlotHoldRow.slot_start).where(
            SlotHoldRow.doctor_code.in_(codes),
            SlotHoldRow.expires_at > now,
            SlotHoldRow.slot_start >= since,
            SlotHoldRow.slot_start < until,
        )
        return {(code, start) for query in (booked, held) for code, start in (await session.execute(query)).all()}

    @staticmethod
    async def purge_expired_holds(session: AsyncSession, now: dt.datetime) -> int:
        """Forget slot holds that have expired (a hold lives a few minutes while a citizen signs)."""
        result = await session.execute(delete(SlotHoldRow).where(SlotHoldRow.expires_at <= now))
        return rows_affected(result)

    async def hold(
        self,
        session: AsyncSession,
        clinic: Clinic,
        doctor_code: str,
        start: dt.datetime,
        iin: str,
        patient_iin: str | None = None,
    ) -> dt.datetime:
        """Hold a free slot for ``hold_minutes`` while the citizen signs; SLOT_TAKEN when it is not free,
        ONE_BOOKING_PER_DAY when the patient already has one with this doctor that day,
        DOCTOR_NOT_FOR_PATIENT when the doctor does not see patients of this age — said before the citizen
        signs anything."""
        now = self.clock.now()
        doctor, _ = await self.slot_of(session, clinic, doctor_code, start, now)
        start = start.astimezone(dt.UTC)
        day = start.astimezone(self.hours(clinic).tz).date()
        try:
            birth = parse_iin(patient_iin or iin).birth_date
        except InvalidIdentifier:
            raise RefusalError(Refusal.IIN_INVALID) from None
        if not sees(doctor.specialty, birth, now.astimezone(self.hours(clinic).tz).date()):
            raise RefusalError(Refusal.DOCTOR_NOT_FOR_PATIENT)
        if await session.scalar(
            select(Booking.id).where(
                Booking.patient_iin == (patient_iin or iin),
                Booking.doctor_code == doctor.code,
                Booking.slot_day == day,
                Booking.status == BookingStatus.ACTIVE,
            )
        ):
            raise RefusalError(Refusal.ONE_BOOKING_PER_DAY)
        if await session.scalar(
            select(Booking.id).where(
                Booking.doctor_code == doctor.code, Booking.slot_start == start, Booking.status == BookingStatus.ACTIVE
            )
        ):
            raise RefusalError(Refusal.SLOT_TAKEN)
        await session.execute(
            delete(SlotHoldRow).where(
                SlotHoldRow.doctor_code == doctor.code,
                SlotHoldRow.slot_start == start,
                (SlotHoldRow.expires_at <= now) | (SlotHoldRow.iin == iin),
            )
        )
        until = now + dt.timedelta(minutes=self.settings.hold_minutes)
        if not await insert_or_ignore(
            session,
            SlotHoldRow.__table__,
            {"doctor_code": doctor.code, "slot_start": start, "iin": iin, "expires_at": until},
        ):
            raise RefusalError(Refusal.SLOT_TAKEN, "the slot is held by another citizen")
        return until
