"""The АРМ's rules as plain functions: working hours, the home-call window, schedule slots, categories.

No database and no transport here; ``services/arm/service.py`` applies these to stored data.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from collections.abc import Iterable, Sequence

from shared.rules.calendar import WorkCalendar, WorkingHours, parse_time
from shared.rules.guardians import ADULT_AGE, age_on
from shared.wire.refusals import Refusal, RefusalError

__all__ = ["ADULT_AGE", "WorkingHours", "age_on", "call_category", "day_slots", "home_call_window", "site_for_street"]

CUTOFF = dt.timedelta(hours=2)  # regulation, Приложение 1 п. 9: accepted until 2 hours before closing
VISIT_WINDOW = dt.timedelta(hours=2)


def _round_up(moment: dt.datetime, minutes: int = 30) -> dt.datetime:
    moment = moment.replace(second=0, microsecond=0)
    extra = (-moment.minute) % minutes
    return moment + dt.timedelta(minutes=extra)


def home_call_window(
    hours: WorkingHours, now: dt.datetime, after_cutoff: str = "refuse", *, accepted_at: dt.datetime | None = None
) -> tuple[dt.datetime, dt.datetime]:
    """When the doctor will come: the same day, from an hour after the call, inside working hours.

    A call later than 2 hours before closing, or on a day the clinic is closed, is refused
    (``AFTER_CUTOFF`` / ``CLINIC_CLOSED``) or, with ``after_cutoff="next_day"``, planned for the next
    working day's first window — an explicit outcome either way, never a silent queue.

    The cut-off is judged at ``accepted_at``, when the gateway accepted the citizen's signed call, not when
    the АРМ got round to it: a call sent at 17:55 and processed at 18:10 (the АРМ was down) is accepted.
    The visit is never planned before ``now``.
    """
    called = (accepted_at or now).astimezone(hours.tz)
    local = now.astimezone(hours.tz)
    today = hours.on(called.date())
    if today is None:
        if after_cutoff == "next_day":
            return _first_window(hours, called.date())
        raise RefusalError(Refusal.CLINIC_CLOSED)
    opening, closing = today
    if called > closing - CUTOFF:
        if after_cutoff == "next_day":
            return _first_window(hours, called.date())
        raise RefusalError(Refusal.AFTER_CUTOFF)
    start = max(opening, _round_up(called + dt.timedelta(hours=1)), _round_up(local))
    if start >= closing:  # processed after closing: the first window of the next working day
        return _first_window(hours, called.date())
    return start, min(start + VISIT_WINDOW, closing)


def _first_window(hours: WorkingHours, after: dt.date) -> tuple[dt.datetime, dt.datetime]:
    opening, closing = hours.next_open_day(after)
    return opening, min(opening + VISIT_WINDOW, closing)


def day_slots(
    template: dict, day: dt.date, tz: zoneinfo.ZoneInfo, calendar: WorkCalendar, absent: bool = False
) -> list[tuple[dt.datetime, dt.datetime]]:
    """A doctor's slots on ``day`` from the weekly template, minus breaks, holidays and absences."""
    if absent or day.isoweekday() not in template["weekdays"] or calendar.is_holiday(day):
        return []
    length = dt.timedelta(minutes=int(template["slot_minutes"]))
    start = dt.datetime.combine(day, parse_time(template["start"]), tz)
    end = dt.datetime.combine(day, parse_time(template["end"]), tz)
    breaks = [
        (dt.datetime.combine(day, parse_time(a), tz), dt.datetime.combine(day, parse_time(b), tz))
        for a, b in template.get("breaks", [])
    ]
    slots = []
    while start + length <= end:
        slot_end = start + length
        if not any(start < b_end and slot_end > b_start for b_start, b_end in breaks):
            slots.append((start, slot_end))
        start = slot_end
    return slots


def call_category(age: int, temperature: float | None) -> str:
    """Journal category: who goes (pediatric or adult) and how urgently."""
    who = "детский" if age < ADULT_AGE else "взрослый"
    return f"{who}, неотложный" if temperature is not None and temperature >= 39.0 else who


def site_for_street(street: str, sites: Iterable[tuple[int, Sequence[str]]]) -> int | None:
    """The участок whose streets include ``street`` (case-insensitive)."""
    wanted = street.strip().lower()
    for number, streets in sites:
        if any(wanted == s.lower() or wanted.endswith(s.lower()) for s in streets):
            return number
    return None
