"""How long the steps of a diagram take, measured where they happen and reported against their limits.

Each process keeps the last ``window`` durations of each step in memory (a bounded reservoir): enough for
an operator's p50/p95 and a count of steps over their limit since start, without a store of its own.
"""

from __future__ import annotations

import datetime as dt
import statistics
from collections import deque
from dataclasses import dataclass, field
from typing import Any


@dataclass(slots=True)
class StepStats:
    title: str
    limit: dt.timedelta
    recent: deque[float] = field(default_factory=lambda: deque(maxlen=1000))
    count: int = 0
    over_limit: int = 0
    longest: float = 0.0

    def record(self, seconds: float) -> None:
        self.recent.append(seconds)
        self.count += 1
        self.longest = max(self.longest, seconds)
        if seconds > self.limit.total_seconds():
            self.over_limit += 1

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
            "max_ms": round(self.longest * 1000, 1) if self.count else None,
            "mean_ms": round(statistics.fmean(values) * 1000, 1) if values else None,
            "over_limit": self.over_limit,
        }


class StepTimes:
    """The measured steps of one service, by the regulation's step names."""

    def __init__(self, limits: dict[str, tuple[str, dt.timedelta]]) -> None:
        self.steps = {step: StepStats(title, limit) for step, (title, limit) in limits.items()}

    def record(self, step: str, seconds: float) -> None:
        self.steps[step].record(max(0.0, seconds))

    def report(self) -> list[dict[str, Any]]:
        return [stats.report(step) for step, stats in self.steps.items()]
