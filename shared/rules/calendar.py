"""One Kazakhstan calendar and clinic working hours, for every service.

Working days come from the ``holidays`` package's Kazakhstan calendar: weekends, public holidays
(including Курбан айт), holidays falling on a weekend moved to the next working day, and the government's
transferred days off with the Saturdays worked for them. Days that the package does not know yet (a
transfer announced this year) are configuration: ``extra_holidays`` and ``extra_working_days``.

A clinic's hours (``WorkingHours``) are read from the clinic data; a clinic is closed on a public
holiday and works its weekday hours on a transferred working Saturday.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import holidays

from shared.wire.refusals import Refusal, RefusalError


class WorkCalendar:
    """Working days in Kazakhstan."""

    def __init__(self, extra_holidays: Iterable[dt.date] = (), extra_working_days: Iterable[dt.date] = ()) -> None:
        self.extra = frozenset(extra_holidays)
        self.extra_working = frozenset(extra_working_days)
        self._kz = holidays.country_holidays("KZ")  # years are filled in on first use

    def is_holiday(self, day: dt.date) -> bool:
        """A public holiday or a day off (not an ordinary weekend)."""
        if day in self.extra_working:
            return False
        return day in self.extra or day in self._kz

    def is_working_day(self, day: dt.date) -> bool:
        if day in self.extra_working:
            return True
        if day in self.extra:
            return False
        return self._kz.is_working_day(day)

    def is_transferred_working_day(self, day: dt.date) -> bool:
        """A Saturday or Sunday worked in exchange for a day off."""
        return day.isoweekday() >= 6 and self.is_working_day(day)

    def next_working_day(self, day: dt.date) -> dt.date:
        """The first working day strictly after ``day``."""
        day += dt.timedelta(days=1)
        while not self.is_working_day(day):
            day += dt.timedelta(days=1)
        return day


def parse_time(value: str) -> dt.time:
    return dt.time.fromisoformat(value)


@dataclass(frozen=True, slots=True)
class WorkingHours:
    """A clinic's hours by ISO weekday in its own time zone, closed on public holidays."""

    by_weekday: dict[int, tuple[dt.time, dt.time]]
    tz: zoneinfo.ZoneInfo
    calendar: WorkCalendar

    @classmethod
    def from_json(cls, hours: dict[str, Sequence[str]], tz: str, calendar: WorkCalendar) -> WorkingHours:
        by_weekday = {int(day): (parse_time(span[0]), parse_time(span[1])) for day, span in hours.items()}
        return cls(by_weekday=by_weekday, tz=zoneinfo.ZoneInfo(tz), calendar=calendar)

    def on(self, day: dt.date) -> tuple[dt.datetime, dt.datetime] | None:
        """Opening and closing instants on ``day`` (local date), or None when closed."""
        if self.calendar.is_holiday(day):
            return None
        weekday = 1 if self.calendar.is_transferred_working_day(day) else day.isoweekday()
        span = self.by_weekday.get(weekday)
        if span is None:
            return None
        return dt.datetime.combine(day, span[0], self.tz), dt.datetime.combine(day, span[1], self.tz)

    def next_open_day(self, day: dt.date, *, working_days_only: bool = False) -> tuple[dt.datetime, dt.datetime]:
        """The opening and closing of the first day after ``day`` the clinic is open (and, with
        ``working_days_only``, that is a working day of the calendar)."""
        for offset in range(1, 15):
            later = day + dt.timedelta(days=offset)
            hours = self.working_on(later) if working_days_only else self.on(later)
            if hours is not None:
                return hours
        raise RefusalError(Refusal.CLINIC_CLOSED, "the clinic has no working day in the next two weeks")

    def working_on(self, day: dt.date) -> tuple[dt.datetime, dt.datetime] | None:
        """The clinic's hours on ``day`` if it is a working day of the calendar: deadlines count only these
        (a clinic open on an ordinary Saturday still counts no working time then)."""
        return self.on(day) if self.calendar.is_working_day(day) else None

    def add_working_time(self, start: dt.datetime, duration: dt.timedelta) -> dt.datetime:
        """``start`` plus ``duration`` of the clinic's open time: time outside its hours does not count, so
        a request filed after hours counts from the opening of the next working day."""
        moment = start.astimezone(self.tz)
        day = moment.date()
        remaining = duration
        for _ in range(60):
            hours = self.working_on(day)
            if hours is not None:
                opening, closing = hours
                moment = max(moment, opening)
                if moment < closing:
                    if moment + remaining <= closing:
                        return (moment + remaining).astimezone(dt.UTC)
                    remaining -= closing - moment
            day += dt.timedelta(days=1)
            moment = dt.datetime.combine(day, dt.time(0), self.tz)
        raise RefusalError(Refusal.CLINIC_CLOSED, "the clinic has no working hours in the next two months")

    def one_working_day(self, start: dt.datetime) -> dt.datetime:
        """ "Within one working day": filed during the clinic's hours, the same time on its next working day;
        filed outside them, the close of the next working day (the day counts from the next one)."""
        local = start.astimezone(self.tz)
        today = self.working_on(local.date())
        if today is not None and today[0] <= local < today[1]:
            opening, closing = self.next_open_day(local.date(), working_days_only=True)
            return min(dt.datetime.combine(opening.date(), local.time(), self.tz), closing).astimezone(dt.UTC)
        if today is not None and local < today[0]:
            return today[1].astimezone(dt.UTC)
        return self.next_open_day(local.date(), working_days_only=True)[1].astimezone(dt.UTC)
