"""A service answers each gateway delivery of a synchronous request once: a copied stamp is refused, but a
message the gateway itself delivers again (a new stamp, after a broker incident) is answered — its caller
is still waiting, and refusing it would turn a lost answer into a refusal of the citizen's request."""

from __future__ import annotations

import datetime as dt
from types import SimpleNamespace

from shared.messaging.dispatch import Dispatcher
from shared.wire.clock import Clock


def test_a_delivery_is_answered_once_and_a_new_delivery_again() -> None:
    clock = Clock()
    endpoint = SimpleNamespace(identity=None, store=None, clock=clock, bus=None, namespace="unit")
    dispatcher = Dispatcher(endpoint, {})  # type: ignore[arg-type]
    first = clock.now()
    assert dispatcher._first_answer("m-1", first) is True
    assert dispatcher._first_answer("m-1", first) is False  # the same stamp copied and sent again
    assert dispatcher._first_answer("m-1", first + dt.timedelta(milliseconds=40)) is True  # delivered anew
    assert dispatcher._first_answer("m-2", first) is True
