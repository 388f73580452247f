"""What the citizen sees of their requests: the list, and one request with its history — read in one round
trip, and long-polled until its status moves."""

from __future__ import annotations

import time

from sqlalchemy import bindparam, select

from services.portal import security
from services.portal.changes import RequestChanges, wait_for
from services.portal.config import PortalSettings
from services.portal.models import Citizen, Request, RequestEvent
from shared.platform.db import Database
from shared.wire.contracts import FINAL_STATUSES

LONG_POLL_DONE = FINAL_STATUSES  # nothing more will come without the citizen acting


class History:
    """The citizen's requests and their histories, never another's."""

    def __init__(self, settings: PortalSettings, db: Database, changes: RequestChanges) -> None:
        self.settings, self.db, self.changes = settings, db, changes

    async def requests(self, citizen: Citizen, limit: int = 50, offset: int = 0) -> list[Request]:
        """The citizen's requests, newest first, one page at a time."""
        async with self.db.sessions() as session:
            return list(
                await session.scalars(
                    select(Request)
                    .where(Request.iin == citizen.iin)
                    .order_by(Request.submitted_at.desc(), Request.id)
                    .limit(limit)
                    .offset(offset)
                )
            )

    async def request_detail(
        self, citizen: Citizen, request_id: str, wait: float = 0.0, seen: str | None = None
    ) -> tuple[Request, list[RequestEvent]]:
        """The request and its history. With ``wait``, a long-poll: answered as soon as the status is no
        longer ``seen`` (by default, the status when the call arrived) or is final, else after ``wait``
        seconds."""
        deadline = time.monotonic() + wait
        while True:
            with self.changes.watch(request_id) as changed:
                request, events = await self._request_detail(citizen, request_id)
                seen = seen or request.status
                remaining = deadline - time.monotonic()
                moved = request.status != seen or request.status in LONG_POLL_DONE
                if (moved and history_complete(request, events)) or remaining <= 0:
                    return request, events
                # Woken by the change (applied here or on another replica); re-read now and then regardless.
                await wait_for(changed, min(remaining, self.settings.long_poll_reread_seconds))

    async def _request_detail(self, citizen: Citizen, request_id: str) -> tuple[Request, list[RequestEvent]]:
        # One prebuilt statement outside any transaction: a long-poll reads this at every wake-up.
        async with self.db.reading() as connection:
            rows = (await connection.execute(_DETAIL, {"request_id": request_id})).all()
        security.owned(rows[0] if rows else None, citizen)
        first = rows[0]._mapping
        request = Request(**{name: first[name] for name in _REQUEST_COLUMNS})  # detached, read only
        events = [
            RequestEvent(**{name: row._mapping[f"event_{name}"] for name in _EVENT_COLUMNS})
            for row in rows
            if row.event_id is not None
        ]
        return request, events


_REQUEST_COLUMNS = tuple(Request.__table__.columns.keys())
_EVENT_COLUMNS = tuple(RequestEvent.__table__.columns.keys())
_events = RequestEvent.__table__
# A request with its history, in one round trip (the history by when each step happened, not by arrival:
# the АРМ's reports may cross in flight).
_DETAIL = (
    select(Request.__table__, *(column.label(f"event_{column.key}") for column in _events.columns))
    .select_from(Request.__table__.outerjoin(_events, _events.c.request_id == Request.__table__.c.id))
    .where(Request.__table__.c.id == bindparam("request_id"))
    .order_by(_events.c.at, _events.c.seq, _events.c.id)
)


def history_complete(request: Request, events: list[RequestEvent]) -> bool:
    """Whether every clinic status up to the applied one is in the history: the clinic's messages may
    cross in flight (its "completed" applied before its "registered" is recorded), and a long-poll answers
    with the whole story rather than half of it."""
    return {e.seq for e in events if e.seq} >= set(range(1, request.status_seq + 1))
