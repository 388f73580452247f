"""How long the steps of a diagram take, measured where they happen and reported against their limits.

The limits are the regulation's (Приложение 1, tables 1 and 2: :mod:`shared.rules.deadlines`). A step is
timed once, in the service layer every channel shares (the pages, the REST API and the CLI all go through
it), with :meth:`StepTimes.timed`: a step that ends in a refusal of the regulation (a wrong password, a
signature refused) is timed as that refusal's own step. Each duration goes to Prometheus
(``emhana_step_seconds``, ``emhana_step_breaches_total``) and into a bounded in-memory reservoir per step
for ``/service-levels`` (count, p50/p95/p99, breaches since start).
"""

from __future__ import annotations

import datetime as dt
import statistics
import time
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from shared.platform.metrics import STEP_BREACHES, STEP_LIMIT, STEP_SECONDS
from shared.rules.errors import DomainError
from shared.wire.refusals import RefusalError


@dataclass(slots=True)
class StepStats:
    title: str
    limit: dt.timedelta
    recent: deque[float] = field(default_factory=lambda: deque(maxlen=1000))
    count: int = 0
    over_limit: int = 0
    longest: float = 0.0

    def record(self, seconds: float) -> bool:
        """Count one duration; whether it breached the limit."""
        self.recent.append(seconds)
        self.count += 1
        self.longest = max(self.longest, seconds)
        breached = seconds > self.limit.total_seconds()
        if breached:
            self.over_limit += 1
        return breached

    def report(self, step: str) -> dict[str, Any]:
        values = sorted(self.recent)

        def quantile(q: float) -> float | None:
            if not values:
                return None
            return round(values[min(len(values) - 1, int(q * len(values)))] * 1000, 1)

        return {
            "step": step,
            "title": self.title,
            "limit_seconds": self.limit.total_seconds(),
            "count": self.count,
            "p50_ms": quantile(0.5),
            "p95_ms": quantile(0.95),
            "p99_ms": quantile(0.99),
            "max_ms": round(self.longest * 1000, 1) if self.count else None,
            "mean_ms": round(statistics.fmean(values) * 1000, 1) if values else None,
            "over_limit": self.over_limit,
        }


class StepTimes:
    """The measured steps of one service, by the regulation's step names."""

    def __init__(
        self,
        service: str,
        limits: dict[str, tuple[str, dt.timedelta]],
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.service, self.clock = service, clock
        self.steps = {step: StepStats(title, limit) for step, (title, limit) in limits.items()}
        for step, (_, limit) in limits.items():
            STEP_LIMIT.labels(service, step).set(limit.total_seconds())
            STEP_BREACHES.labels(service, step)  # a series from the start: rates and alerts see zero, not nothing

    def record(self, step: str, seconds: float) -> None:
        seconds = max(0.0, seconds)
        STEP_SECONDS.labels(self.service, step).observe(seconds)
        if self.steps[step].record(seconds):
            STEP_BREACHES.labels(self.service, step).inc()

    @contextmanager
    def timed(self, step: str, refused: str | None = None) -> Iterator[None]:
        """Time the block as ``step``; when it ends in a refusal (a coded refusal or a rule of the service),
        as ``refused`` — the regulation's own step for that refusal — if there is one. Anything else (a
        broken connection, a bug) is not a step of the regulation and is not timed."""
        started = self.clock()
        try:
            yield
        except (RefusalError, DomainError):
            if refused is not None:
                self.record(refused, self.clock() - started)
            raise
        self.record(step, self.clock() - started)

    def report(self) -> list[dict[str, Any]]:
        return [stats.report(step) for step, stats in self.steps.items()]
