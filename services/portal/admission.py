"""Admission: new submissions are shed while a clinic is behind, so that what is accepted is served.

A city's slot release at 8:00 is a crowd within a minute. Queueing all of it would make every citizen
wait longer and longer, with requests accepted that can no longer be served in time; instead the portal
watches how long its requests wait for the clinic's registration (the АРМ's first status) and, while the
oldest one of a clinic has waited longer than ``max_wait``, answers new submissions for that clinic with
503 and ``Retry-After`` at once — before anything is stored, so nothing is lost and nothing is half
done. The measure is time, not a count, so it follows from what the mesh achieves on the machine it runs
on, whatever that is. A request that never gets a status (its clinic's messages lost, handled by the
deadline watcher) is forgotten after ``forget_after``, so it cannot keep a clinic closed.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from shared.http import ApiError


class Admission:
    """Requests sent and not yet registered, per clinic, oldest first (see the module docstring)."""

    def __init__(
        self,
        max_wait: float,
        *,
        forget_after: float = 60.0,
        retry_after: int = 2,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.max_wait, self.forget_after, self.retry_after, self.clock = max_wait, forget_after, retry_after, clock
        self._waiting: dict[str, dict[str, float]] = {}  # clinic → request id → when sent (insertion order)

    def check(self, clinic_bin: str) -> None:
        """Raise 503 OVERLOADED while the clinic's oldest request has waited longer than ``max_wait``."""
        waiting = self._waiting.get(clinic_bin)
        if not waiting:
            return
        now = self.clock()
        for request_id, since in list(waiting.items()):
            if now - since <= self.forget_after:
                break
            del waiting[request_id]  # stuck: the deadline watcher has it; it must not keep the door shut
        oldest = next(iter(waiting.values()), None)
        if oldest is not None and now - oldest > self.max_wait:
            raise ApiError(
                503,
                "OVERLOADED",
                "the clinic is receiving more requests than it can register right now; try again shortly",
                headers={"Retry-After": str(self.retry_after)},
            )

    def sent(self, clinic_bin: str, request_id: str) -> None:
        self._waiting.setdefault(clinic_bin, {})[request_id] = self.clock()

    def answered(self, clinic_bin: str, request_id: str) -> None:
        self._waiting.get(clinic_bin, {}).pop(request_id, None)

    def waiting(self, clinic_bin: str) -> int:
        return len(self._waiting.get(clinic_bin, {}))
