"""The processed-message store counts a message once per sender (ids are the senders' own)."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import MetaData, insert

from shared.messaging.inbox import Inbox
from shared.platform.db import Database
from tests.databases import temporary_database

NOW = dt.datetime(2026, 12, 8, 9, 0, tzinfo=dt.UTC)
ID = "7d1c6a52-5b1e-4f0e-9a51-2f1f7b4c9e10"


@pytest.fixture(params=["sqlite", "postgres"])
async def stored(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[tuple[Database, Inbox]]:
    metadata = MetaData()
    inbox = Inbox(metadata)
    async with temporary_database(request.param, tmp_path, metadata) as db:
        yield db, inbox


async def test_another_senders_use_of_an_id_is_another_message(stored: tuple[Database, Inbox]) -> None:
    db, inbox = stored
    async with db.transaction() as session:
        await inbox.record(session, "portal", ID, {"reply": "to the portal"}, NOW)
    async with db.sessions() as session:
        assert await inbox.outcome(session, "portal", ID) == {"reply": "to the portal"}
        assert await inbox.outcome(session, "arm.980440012347", ID) is None  # not the portal's outcome
    async with db.transaction() as session:  # and it can be processed and recorded in its own right
        await inbox.record(session, "arm.980440012347", ID, {"reply": "to the clinic"}, NOW)
    async with db.sessions() as session:
        assert await inbox.outcome(session, "arm.980440012347", ID) == {"reply": "to the clinic"}
        assert await inbox.outcome(session, "portal", ID) == {"reply": "to the portal"}


async def test_a_row_kept_before_senders_were_kept_still_answers_for_its_id(stored: tuple[Database, Inbox]) -> None:
    """A message handled before the upgrade and redelivered after it is not applied again."""
    db, inbox = stored
    async with db.transaction() as session:
        await session.execute(insert(inbox.table).values(sender="", message_id=ID, outcome="{}", processed_at=NOW))
    async with db.sessions() as session:
        assert await inbox.outcome(session, "portal", ID) == {}
