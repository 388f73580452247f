"""Injectable time. Every rule that depends on "now" asks a :class:`Clock`, never ``datetime.now``.

``Clock(start=...)`` begins at a configured instant and then runs at real speed, so a whole mesh can be
started "at 16:30 on a Tuesday" to exercise cut-offs and schedules without waiting.
"""

from __future__ import annotations

import datetime as dt
import time


class Clock:
    """Wall clock, optionally shifted so that it reads ``start`` at creation."""

    def __init__(self, start: dt.datetime | None = None) -> None:
        if start is not None and start.tzinfo is None:
            raise ValueError("clock start must be timezone-aware")
        self._offset = 0.0 if start is None else start.timestamp() - time.time()

    def now(self) -> dt.datetime:
        """Current UTC time as this clock sees it."""
        return dt.datetime.fromtimestamp(time.time() + self._offset, dt.UTC)

    def shift(self, seconds: float) -> None:
        """Move this clock forward (tests only)."""
        self._offset += seconds
