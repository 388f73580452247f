"""Injectable time. Every rule that depends on "now" asks a :class:`Clock`, never ``datetime.now``.

A clock is real time shifted by a fixed offset. The offset is a setting shared by every process of the
mesh (``EMHANA_CLOCK_OFFSET_SECONDS``), so all services agree on "now" even when they start at different
moments; ``make run CLOCK_START=2026-11-24T16:30+05:00`` (the launcher, ``tools.launcher``) computes it
once for all.
"""

from __future__ import annotations

import datetime as dt
import time
import zoneinfo

# The time citizens and clinic staff read (UTC+5): pages and command-line tables show Astana time.
ASTANA = zoneinfo.ZoneInfo("Asia/Almaty")


class Clock:
    """Wall clock shifted by ``offset_seconds``."""

    def __init__(self, offset_seconds: float = 0.0) -> None:
        self.offset_seconds = offset_seconds

    @classmethod
    def starting_at(cls, start: dt.datetime) -> Clock:
        """A clock that reads ``start`` now (its offset can be handed to other processes)."""
        if start.tzinfo is None:
            raise ValueError("clock start must be timezone-aware")
        return cls(start.timestamp() - time.time())

    def now(self) -> dt.datetime:
        """Current UTC time as this clock sees it."""
        return dt.datetime.fromtimestamp(time.time() + self.offset_seconds, dt.UTC)

    def shifted(self, seconds: float) -> Clock:
        """Another clock, ``seconds`` ahead of this one (negative: behind)."""
        return Clock(self.offset_seconds + seconds)
