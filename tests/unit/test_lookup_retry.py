"""The АРМ asks ГБД ФЛ again when an answer is about the exchange rather than the person: a REPLAYED for its
own fresh message (a copy delivered again after a broker restart, the first answer lost) or a timeout must
not refuse the citizen's request; PERSON_NOT_FOUND is an answer and is not retried."""

from __future__ import annotations

from typing import Any

import pytest

from services.arm import registry
from shared.messaging.bus import RequestTimeout
from shared.wire.refusals import Refusal, RefusalError


class FakeGateway:
    def __init__(self, *outcomes: Any) -> None:
        self.outcomes = list(outcomes)
        self.ids: list[int] = []

    async def request(self, recipient: str, type: str, payload: dict, sender: str) -> dict:
        self.ids.append(len(self.ids))
        outcome = self.outcomes.pop(0)
        if isinstance(outcome, BaseException):
            raise outcome
        return outcome


@pytest.fixture(autouse=True)
def no_pause(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(registry, "LOOKUP_BACKOFF_SECONDS", 0.0)


async def test_a_lost_answer_or_a_timeout_is_asked_again() -> None:
    found = {"person": {"iin": "850315300019"}, "parents": []}
    gateway = FakeGateway(RefusalError(Refusal.REPLAYED), RequestTimeout("slow"), found)
    assert await registry.lookup_person(gateway, "850315300019", "arm.1", attempts=3) == found  # type: ignore[arg-type]
    assert len(gateway.ids) == 3


async def test_an_answer_about_the_person_is_not_retried_and_attempts_are_bounded() -> None:
    gateway = FakeGateway(RefusalError(Refusal.PERSON_NOT_FOUND))
    with pytest.raises(RefusalError) as refused:
        await registry.lookup_person(gateway, "850315300019", "arm.1", attempts=3)  # type: ignore[arg-type]
    assert refused.value.code is Refusal.PERSON_NOT_FOUND and len(gateway.ids) == 1
    stuck = FakeGateway(*(RefusalError(Refusal.REPLAYED) for _ in range(3)))
    with pytest.raises(RequestTimeout):
        await registry.lookup_person(stuck, "850315300019", "arm.1", attempts=3)  # type: ignore[arg-type]
    assert len(stuck.ids) == 3
