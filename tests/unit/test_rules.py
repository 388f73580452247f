"""The АРМ's and portal's time rules as plain functions."""

from __future__ import annotations

import datetime as dt
import zoneinfo

import pytest

from services.arm.rules import (
    WorkingHours,
    age_on,
    call_category,
    day_slots,
    home_call_window,
    site_for_street,
)
from shared.rules.calendar import WorkCalendar
from shared.rules.deadlines import deadline
from shared.wire.contracts import ServiceKind
from shared.wire.refusals import Refusal, RefusalError

ASTANA = zoneinfo.ZoneInfo("Asia/Almaty")
HOURS = WorkingHours.from_json(
    {
        "1": ["08:00", "20:00"],
        "2": ["08:00", "20:00"],
        "3": ["08:00", "20:00"],
        "4": ["08:00", "20:00"],
        "5": ["08:00", "20:00"],
        "6": ["09:00", "14:00"],
    },
    "Asia/Almaty",
    WorkCalendar(),
)
TUESDAY = dt.date(2026, 11, 24)


def at(day: dt.date, hour: int, minute: int = 0) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(hour, minute), ASTANA)


def test_home_call_is_the_same_day_from_an_hour_later() -> None:
    start, end = home_call_window(HOURS, at(TUESDAY, 10, 10))
    assert (start, end) == (at(TUESDAY, 11, 30), at(TUESDAY, 13, 30))
    start, end = home_call_window(HOURS, at(TUESDAY, 7, 0))  # before opening: from the opening
    assert start == at(TUESDAY, 8, 0)
    start, end = home_call_window(HOURS, at(TUESDAY, 17, 55))  # just before the cut-off: window ends at closing
    assert (start, end) == (at(TUESDAY, 19, 0), at(TUESDAY, 20, 0))


def test_cutoff_two_hours_before_closing() -> None:
    home_call_window(HOURS, at(TUESDAY, 18, 0))
    with pytest.raises(RefusalError) as info:
        home_call_window(HOURS, at(TUESDAY, 18, 1))
    assert info.value.code is Refusal.AFTER_CUTOFF
    start, _ = home_call_window(HOURS, at(TUESDAY, 18, 1), after_cutoff="next_day")
    assert start == at(TUESDAY + dt.timedelta(days=1), 8, 0)


def test_cutoff_is_judged_when_the_gateway_accepted_the_call() -> None:
    """Sent at 17:55, processed at 18:10 because the АРМ was down: accepted, visit the same day."""
    start, end = home_call_window(HOURS, at(TUESDAY, 18, 10), accepted_at=at(TUESDAY, 17, 55))
    assert start.date() == TUESDAY and at(TUESDAY, 18, 10) < start < end <= at(TUESDAY, 20, 0)
    with pytest.raises(RefusalError) as info:  # sent after the cut-off: refused however fast it is processed
        home_call_window(HOURS, at(TUESDAY, 18, 2), accepted_at=at(TUESDAY, 18, 1))
    assert info.value.code is Refusal.AFTER_CUTOFF
    # processed after closing: planned for the next working day, not in the past
    start, _ = home_call_window(HOURS, at(TUESDAY, 20, 30), accepted_at=at(TUESDAY, 17, 0))
    assert start.date() > TUESDAY


def test_closed_days_and_holidays() -> None:
    sunday = TUESDAY + dt.timedelta(days=5)
    with pytest.raises(RefusalError) as info:
        home_call_window(HOURS, at(sunday, 10))
    assert info.value.code is Refusal.CLINIC_CLOSED
    start, _ = home_call_window(HOURS, at(sunday, 10), after_cutoff="next_day")
    assert start == at(sunday + dt.timedelta(days=1), 8, 0)
    independence_day = dt.date(2026, 12, 16)  # a Wednesday, a public holiday
    assert HOURS.on(independence_day) is None
    extra = WorkCalendar([TUESDAY])
    assert WorkingHours.from_json({"2": ["08:00", "20:00"]}, "Asia/Almaty", extra).on(TUESDAY) is None


def test_slots_follow_the_template_minus_breaks_holidays_and_absences() -> None:
    template = {
        "weekdays": [1, 2, 3],
        "start": "08:00",
        "end": "10:00",
        "slot_minutes": 20,
        "breaks": [["09:00", "09:20"]],
    }
    slots = day_slots(template, TUESDAY, ASTANA, WorkCalendar())
    assert [s.strftime("%H:%M") for s, _ in slots] == ["08:00", "08:20", "08:40", "09:20", "09:40"]
    assert (
        day_slots(template, TUESDAY + dt.timedelta(days=3), ASTANA, WorkCalendar()) == []
    )  # Friday: not a weekday of his
    assert day_slots(template, TUESDAY, ASTANA, WorkCalendar(), absent=True) == []
    assert day_slots(template, dt.date(2026, 12, 16), ASTANA, WorkCalendar()) == []


def test_category_age_and_site() -> None:
    assert age_on(dt.date(2008, 11, 25), dt.date(2026, 11, 24)) == 17
    assert age_on(dt.date(2008, 11, 24), dt.date(2026, 11, 24)) == 18
    assert call_category(7, 39.5) == "детский, неотложный"
    assert call_category(40, 37.0) == "взрослый"
    sites = [(1, ["улица Сейфуллина"]), (2, ["улица Кошкарбаева"])]
    assert site_for_street("Улица Кошкарбаева", sites) == 2
    assert site_for_street("проспект Абая", sites) is None


def test_deadlines_thirty_minutes_or_one_working_day() -> None:
    """Приложение 1 in the clinic's working time (Поликлиника № 1: 08–20 weekdays, 09–14 Saturdays)."""
    home_call, attachment = ServiceKind.HOME_CALL, ServiceKind.ATTACHMENT
    assert deadline(home_call, "portal", at(TUESDAY, 11, 0), HOURS) == at(TUESDAY, 11, 30)
    assert deadline(home_call, "staff", at(TUESDAY, 11, 0), HOURS) == at(TUESDAY, 11, 10)  # table 2: 10 minutes
    # An appointment (and its cancellation) has the home call's 30 minutes, for its refusal as for its result.
    for kind in (ServiceKind.APPOINTMENT, ServiceKind.APPOINTMENT_CANCEL):
        assert deadline(kind, "portal", at(TUESDAY, 11, 0), HOURS) == at(TUESDAY, 11, 30), kind
    # An attachment filed at the clinic: one working day, as through the portal (not table 2's 10 minutes).
    tomorrow = at(TUESDAY + dt.timedelta(days=1), 11, 0)
    assert deadline(ServiceKind.ATTACHMENT, "staff", at(TUESDAY, 11, 0), HOURS) == tomorrow
    late = at(TUESDAY, 19, 50)  # 10 minutes left today, 20 more from Wednesday's opening
    assert deadline(home_call, "portal", late, HOURS) == at(TUESDAY + dt.timedelta(days=1), 8, 20)
    assert deadline(attachment, "portal", at(TUESDAY, 11, 0), HOURS) == at(TUESDAY + dt.timedelta(days=1), 11, 0)
    friday = TUESDAY + dt.timedelta(days=3)
    monday = TUESDAY + dt.timedelta(days=6)
    assert deadline(attachment, "portal", at(friday, 19, 0), HOURS) == at(monday, 19, 0)  # over the weekend
    after_hours = at(friday, 21, 0)  # counts from Monday: the end of Monday
    assert deadline(attachment, "portal", after_hours, HOURS) == at(monday, 20, 0)
    saturday = at(friday + dt.timedelta(days=1), 10, 0)  # the clinic is open, but it is not a working day
    assert deadline(home_call, "portal", saturday, HOURS) == at(monday, 8, 30)
    assert deadline(attachment, "portal", at(TUESDAY, 7, 0), HOURS) == at(TUESDAY, 20, 0)  # before opening


def test_deadlines_skip_public_holidays_and_count_transferred_working_days() -> None:
    independence_eve = dt.date(2026, 12, 15)  # Tuesday; 16 December is a public holiday
    assert deadline(ServiceKind.ATTACHMENT, "portal", at(independence_eve, 11), HOURS) == at(dt.date(2026, 12, 17), 11)
    # 2025: Friday 3 January was a day off, transferred from Sunday 5 January, which was worked.
    hours_2025 = WorkingHours.from_json(
        {str(d): ("08:00", "20:00") for d in range(1, 6)}, "Asia/Almaty", WorkCalendar()
    )
    assert WorkCalendar().is_working_day(dt.date(2025, 1, 5)) and not WorkCalendar().is_working_day(dt.date(2025, 1, 3))
    filed = at(dt.date(2025, 1, 2), 12)  # a holiday (New Year): counts from the transferred Sunday
    assert deadline(ServiceKind.HOME_CALL, "portal", filed, hours_2025) == at(dt.date(2025, 1, 5), 8, 30)
    assert deadline(ServiceKind.ATTACHMENT, "portal", filed, hours_2025) == at(dt.date(2025, 1, 5), 20, 0)
    # A transfer the package does not know yet is configuration.
    announced = WorkCalendar(extra_holidays=[dt.date(2026, 12, 18)], extra_working_days=[dt.date(2026, 12, 19)])
    configured = WorkingHours.from_json({str(d): ("08:00", "20:00") for d in range(1, 6)}, "Asia/Almaty", announced)
    assert deadline(ServiceKind.ATTACHMENT, "portal", at(dt.date(2026, 12, 17), 11), configured) == at(
        dt.date(2026, 12, 19), 11
    )
