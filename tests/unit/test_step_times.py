"""The regulation's time limits as service levels: each step timed once where it happens, a refusal as its
own step, a step over its limit counted as a breach — driven by a test clock, never by sleeping."""

from __future__ import annotations

import pytest
from prometheus_client import REGISTRY

from shared.platform.metrics import STEP_BUCKETS
from shared.platform.steps import StepTimes
from shared.rules.deadlines import ARM_STEPS, PORTAL_STEPS
from shared.rules.errors import TooManyAttempts
from shared.wire.refusals import Refusal, RefusalError


class ManualClock:
    """Seconds that pass only when the test says so."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def breaches(service: str, step: str) -> float:
    return REGISTRY.get_sample_value("emhana_step_breaches_total", {"service": service, "step": step}) or 0.0


def test_every_limit_of_both_tables_is_a_bucket_boundary() -> None:
    limits = {limit.total_seconds() for _, limit in (*PORTAL_STEPS.values(), *ARM_STEPS.values())}
    assert limits <= set(STEP_BUCKETS)
    assert set(PORTAL_STEPS) == {f"process_{n}" for n in range(1, 9)} and set(ARM_STEPS) == {
        f"step_{n}" for n in range(1, 9)
    }


def test_a_step_its_refusal_and_its_breach() -> None:
    clock = ManualClock()
    steps = StepTimes("test-portal", PORTAL_STEPS, clock=clock)
    before = breaches("test-portal", "process_1")
    with steps.timed("process_1", refused="process_2"):
        clock.now += 59  # within the minute
    with steps.timed("process_1", refused="process_2"):
        clock.now += 61  # over it: a breach
    with pytest.raises(RefusalError), steps.timed("process_1", refused="process_2"):
        clock.now += 31
        raise RefusalError(Refusal.AUTH_FAILED)  # process 2 has 30 s: also a breach
    with pytest.raises(TooManyAttempts), steps.timed("process_1", refused="process_2"):
        raise TooManyAttempts("TOO_MANY_ATTEMPTS", "wait", retry_after=5)  # a rule refused it: process 2 too
    with pytest.raises(ConnectionError), steps.timed("process_1", refused="process_2"):
        raise ConnectionError  # not a step of the regulation: not timed at all
    report = {row["step"]: row for row in steps.report()}
    assert (report["process_1"]["count"], report["process_1"]["over_limit"]) == (2, 1)
    assert (report["process_2"]["count"], report["process_2"]["over_limit"]) == (2, 1)
    assert report["process_1"]["limit_seconds"] == 60 and report["process_2"]["limit_seconds"] == 30
    assert report["process_1"]["p99_ms"] == 61_000.0
    assert breaches("test-portal", "process_1") - before == 1
    observed = REGISTRY.get_sample_value(
        "emhana_step_seconds_bucket", {"service": "test-portal", "step": "process_1", "le": "60.0"}
    )
    assert observed == 1  # the one within the limit falls at or under the limit's bucket


def test_a_step_without_a_refusal_step_is_not_timed_when_refused() -> None:
    clock = ManualClock()
    steps = StepTimes("test-arm", ARM_STEPS, clock=clock)
    with pytest.raises(RefusalError), steps.timed("step_5"):
        raise RefusalError(Refusal.CERT_REVOKED)
    assert {row["step"]: row["count"] for row in steps.report()}["step_5"] == 0
