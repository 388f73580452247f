"""Long-poll for "обновить статус": a waiting citizen is woken when their request's status changes.

Without it a browser or REST client polls; a city of citizens each polling every second or two costs the
portal an HTTP request and a database read per citizen per poll. A status change applied in this process
wakes the waiters of that request after its transaction commits; a change applied by another portal
replica is seen by the waiter's periodic re-read.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager, suppress

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncSession


class RequestChanges:
    """Waiters per request id, woken when that request changes."""

    def __init__(self) -> None:
        self._waiters: dict[str, set[asyncio.Event]] = {}

    def after_commit(self, session: AsyncSession, request_id: str) -> None:
        """Wake the waiters of ``request_id`` once ``session``'s transaction has committed."""
        event.listen(session.sync_session, "after_commit", lambda _session: self.changed(request_id), once=True)

    def changed(self, request_id: str) -> None:
        for waiter in self._waiters.get(request_id, ()):
            waiter.set()

    @contextmanager
    def watch(self, request_id: str) -> Iterator[asyncio.Event]:
        """An event set when ``request_id`` changes here. Watch *before* reading the request, so that a
        change committed between the read and the wait is not missed."""
        waiter = asyncio.Event()
        self._waiters.setdefault(request_id, set()).add(waiter)
        try:
            yield waiter
        finally:
            waiters = self._waiters.get(request_id)
            if waiters is not None:
                waiters.discard(waiter)
                if not waiters:
                    del self._waiters[request_id]


async def wait_for(waiter: asyncio.Event, seconds: float) -> None:
    """Until ``waiter`` is set, at most ``seconds``."""
    with suppress(TimeoutError):
        await asyncio.wait_for(waiter.wait(), seconds)
