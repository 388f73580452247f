"""Working days in Kazakhstan: public holidays with fixed dates, and working-day arithmetic.

Holidays on movable dates (Курбан айт) and transferred days off are announced yearly; they are given as
configuration (``extra_holidays``) rather than guessed here.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

# (month, day): New Year, Christmas, Women's Day, Nauryz, Unity Day, Defender's Day, Victory Day,
# Capital Day, Constitution Day, Republic Day, Independence Day.
FIXED_HOLIDAYS: tuple[tuple[int, int], ...] = (
    (1, 1),
    (1, 2),
    (1, 7),
    (3, 8),
    (3, 21),
    (3, 22),
    (3, 23),
    (5, 1),
    (5, 7),
    (5, 9),
    (7, 6),
    (8, 30),
    (10, 25),
    (12, 16),
)


class WorkCalendar:
    """Weekends and public holidays."""

    def __init__(self, extra_holidays: Iterable[dt.date] = (), working_weekdays: Iterable[int] = (1, 2, 3, 4, 5)):
        self.extra = frozenset(extra_holidays)
        self.working_weekdays = frozenset(working_weekdays)

    def is_holiday(self, day: dt.date) -> bool:
        return (day.month, day.day) in FIXED_HOLIDAYS or day in self.extra

    def is_working_day(self, day: dt.date) -> bool:
        return day.isoweekday() in self.working_weekdays and not self.is_holiday(day)

    def next_working_day(self, day: dt.date) -> dt.date:
        """The first working day strictly after ``day``."""
        day += dt.timedelta(days=1)
        while not self.is_working_day(day):
            day += dt.timedelta(days=1)
        return day
