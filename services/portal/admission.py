"""Admission: the portal bounds the work it has in flight per clinic, so that what it accepts it serves.

A city's slot release at 8:00 is a crowd within a minute. Queueing all of it would make every citizen
wait longer and longer, with requests accepted that can no longer be served in time. Instead, per
clinic, the portal counts its work in flight — the steps running now (preparing a request, checking its
signature) and the requests sent and not yet registered by the clinic (the АРМ's first status) — and
answers a new step 503 with ``Retry-After`` at once when the count has reached the clinic's limit, before
anything is held or stored: nothing is lost and nothing is half done.

The limit follows the latency of that work (how long a step ran, how long a request waited for its
registration) against ``target`` seconds, as TCP follows its round trips. A sample above the target cuts
the limit by a quarter to a half, the more the further above (once per round: work admitted before the
last cut cannot cut it again, as it only reports the queue that cut was for); a sample within the target
raises it by one per limit's worth of samples while the limit is in use. Slow work with next to nothing
else in flight is the work's own time (a slow machine, a slow partner), not a queue, and cuts nothing; a
clinic quiet for a while after a cut gets its initial room back. So the limit settles where the
mesh, on whatever machine it runs, serves admitted work within the target; by Little's law the work in
flight is then about throughput × target, and the latency of what is accepted stays bounded however many
more arrive.

A clinic whose oldest request has waited longer than ``max_wait`` (its АРМ is down, its queue stuck) is
closed to new work until that request is answered; a request that never gets a status (handled by the
deadline watcher) is forgotten after ``forget_after``, so it cannot keep the clinic closed.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from shared.rules.errors import Overloaded

# What remains of the limit after a sample above the target: the target over the latency seen (a queue
# three times too long is cut to a third's worth), within these bounds.
DEEPEST_CUT, SHALLOWEST_CUT = 0.5, 0.75
# A clinic starts with room for a burst (a crowd at the slot release is served in seconds, not refused
# because nothing is known yet); sustained overload cuts the limit within a few rounds.
INITIAL_LIMIT = 64.0
# Work in flight (the sample's own included) from which a slow sample is taken for a queue.
QUEUE = 4
# A clinic quiet (its limit not in use) this long after the last cut gets its initial room back.
RECOVERY = 10.0


@dataclass
class _Clinic:
    limit: float
    steps: int = 0  # steps running now
    waiting: dict[str, float] = field(default_factory=dict)  # request id → when sent (oldest first)
    cut_at: float = -math.inf  # when the limit was last cut

    @property
    def in_flight(self) -> int:
        return self.steps + len(self.waiting)


class Admission:
    """Per clinic: work in flight, its limit and the requests waiting for registration (module docstring)."""

    def __init__(
        self,
        target: float,
        max_wait: float,
        *,
        initial_limit: float = INITIAL_LIMIT,
        floor: float = 2.0,
        ceiling: float = 1024.0,
        forget_after: float = 60.0,
        retry_after: int = 2,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.target, self.max_wait, self.forget_after = target, max_wait, forget_after
        self.initial_limit, self.floor, self.ceiling = initial_limit, floor, ceiling
        self.retry_after, self.clock = retry_after, clock
        self._clinics: dict[str, _Clinic] = {}

    def _clinic(self, clinic_bin: str) -> _Clinic:
        state = self._clinics.get(clinic_bin)
        if state is None:
            state = self._clinics[clinic_bin] = _Clinic(limit=self.initial_limit)
        return state

    def check(self, clinic_bin: str) -> None:
        """Raise 503 OVERLOADED when the clinic's work in flight has reached its limit, or its oldest request
        has waited longer than ``max_wait``."""
        state = self._clinics.get(clinic_bin)
        if state is None:
            return
        now = self.clock()
        while state.waiting:  # oldest first: only the stale head is looked at, not every request waiting
            request_id, since = next(iter(state.waiting.items()))
            if now - since <= self.forget_after:
                break
            del state.waiting[request_id]  # stuck: the deadline watcher has it; it must not keep the door shut
        if state.limit < self.initial_limit and state.in_flight < state.limit / 2 and now - state.cut_at > RECOVERY:
            state.limit = self.initial_limit  # quiet since the last cut: room for a burst again
        oldest = next(iter(state.waiting.values()), None)
        if state.in_flight >= state.limit or (oldest is not None and now - oldest > self.max_wait):
            raise Overloaded(
                "OVERLOADED",
                "the clinic is receiving more requests than it can register right now; try again shortly",
                retry_after=self.retry_after,
            )

    @contextmanager
    def step(self, clinic_bin: str) -> Iterator[None]:
        """Admit one step of work for the clinic (503 when it is full, see :meth:`check`); how long it ran
        is a latency sample."""
        self.check(clinic_bin)
        state = self._clinic(clinic_bin)
        state.steps += 1
        started = self.clock()
        try:
            yield
        finally:
            state.steps -= 1
            self._sample(state, started)

    def sent(self, clinic_bin: str, request_id: str) -> None:
        """A request went to the clinic: in flight until its registration (:meth:`answered`)."""
        self._clinic(clinic_bin).waiting[request_id] = self.clock()

    def answered(self, clinic_bin: str, request_id: str) -> None:
        """The clinic's first status (or a failure) for a request: no longer in flight; its wait is a sample."""
        state = self._clinics.get(clinic_bin)
        since = state.waiting.pop(request_id, None) if state is not None else None
        if state is not None and since is not None:
            self._sample(state, since)

    def _sample(self, state: _Clinic, started: float) -> None:
        now = self.clock()
        latency, in_flight = now - started, state.in_flight + 1  # this sample's work included
        if latency > self.target:
            # Slow work with next to nothing else in flight is the work's own time (a slow machine, a slow
            # partner), not a queue that a lower limit would shorten.
            if in_flight >= QUEUE and started > state.cut_at:
                cut = min(SHALLOWEST_CUT, max(DEEPEST_CUT, self.target / latency))
                state.limit = max(self.floor, state.limit * cut)
                state.cut_at = now
        elif in_flight >= state.limit / 2:  # only a limit in use grows
            state.limit = min(self.ceiling, state.limit + 1 / state.limit)

    def waiting(self, clinic_bin: str) -> int:
        """Requests of the clinic sent and not yet registered."""
        state = self._clinics.get(clinic_bin)
        return len(state.waiting) if state is not None else 0

    def limit(self, clinic_bin: str) -> float:
        """The clinic's current limit on work in flight."""
        state = self._clinics.get(clinic_bin)
        return state.limit if state is not None else self.initial_limit
