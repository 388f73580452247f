"""Long-poll for "обновить статус": a waiting citizen is woken when their request's status changes.

Without it a browser or REST client polls; a city of citizens each polling every second or two costs the
portal an HTTP request and a database read per citizen per poll. A status change applied in this process
wakes the waiters of that request after its transaction commits, and is broadcast (the request id only)
to the other portal replicas, which wake theirs: a citizen's long-poll may wait on any replica, whichever
one consumed the clinic's status. A waiter still re-reads now and then (``long_poll_reread_seconds``), for
a notice lost while the broker was away.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager, suppress

from aio_pika.abc import AbstractIncomingMessage
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncSession

log = logging.getLogger(__name__)


class RequestChanges:
    """Waiters per request id, woken when that request changes here or on another replica (:meth:`connect`)."""

    def __init__(self) -> None:
        self._waiters: dict[str, set[asyncio.Event]] = {}
        self.origin = uuid.uuid4().hex  # this process: its own broadcasts come back to it and are skipped
        self._tell: Callable[[str], Awaitable[None]] | None = None
        self._telling: set[asyncio.Task[None]] = set()

    @property
    def waiting(self) -> int:
        """Long-polls waiting in this process right now."""
        return sum(len(waiters) for waiters in self._waiters.values())

    def connect(self, tell: Callable[[str], Awaitable[None]]) -> None:
        """Tell the other replicas of every change committed here, by ``tell(request_id)``."""
        self._tell = tell

    def after_commit(self, session: AsyncSession, request_id: str) -> None:
        """Wake the waiters of ``request_id`` (here and on the other replicas) once ``session``'s
        transaction has committed."""
        event.listen(session.sync_session, "after_commit", lambda _session: self._committed(request_id), once=True)

    def _committed(self, request_id: str) -> None:
        self.changed(request_id)
        if self._tell is not None:
            task = asyncio.get_running_loop().create_task(self._tell(request_id))
            self._telling.add(task)
            task.add_done_callback(self._told)

    def _told(self, task: asyncio.Task[None]) -> None:
        self._telling.discard(task)
        if not task.cancelled() and task.exception() is not None:
            # The other replicas' waiters see the change at their next re-read instead.
            log.info("could not tell the other replicas of a change: %r", task.exception())

    async def from_peer(self, message: AbstractIncomingMessage) -> None:
        """A change another replica committed (its broadcast). Anyone who can publish on the broker could
        send one; all it does is make the waiters of that request read it once more."""
        if message.app_id != self.origin:
            self.changed(message.body[:64].decode(errors="replace"))

    def changed(self, request_id: str) -> None:
        for waiter in self._waiters.get(request_id, ()):
            waiter.set()

    @contextmanager
    def watch(self, request_id: str) -> Iterator[asyncio.Event]:
        """An event set when ``request_id`` changes. Watch *before* reading the request, so that a change
        committed between the read and the wait is not missed."""
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
