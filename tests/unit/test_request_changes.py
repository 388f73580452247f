"""The long-poll's wake-ups: a change committed here wakes this process's waiters and is told to the other
portal replicas; a replica's notice wakes the waiters here, and this process's own notice is skipped."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace

from services.portal.changes import RequestChanges
from tests.waiting import until


async def test_a_change_committed_here_wakes_the_waiters_and_is_told_to_the_other_replicas() -> None:
    changes, told = RequestChanges(), asyncio.Queue[str]()
    changes.connect(told.put)
    with changes.watch("r-1") as first, changes.watch("r-2") as other:
        assert changes.waiting == 2
        changes._committed("r-1")
        assert first.is_set() and not other.is_set()
        assert await asyncio.wait_for(told.get(), 5) == "r-1"
    assert changes.waiting == 0


async def test_a_notice_from_another_replica_wakes_the_waiters_and_its_own_is_skipped() -> None:
    changes = RequestChanges()
    with changes.watch("r-1") as waiter:
        await changes.from_peer(SimpleNamespace(app_id=changes.origin, body=b"r-1"))  # type: ignore[arg-type]
        assert not waiter.is_set()  # this process's own broadcast: its waiters were woken at the commit
        await changes.from_peer(SimpleNamespace(app_id="another replica", body=b"r-2"))  # type: ignore[arg-type]
        assert not waiter.is_set()
        await changes.from_peer(SimpleNamespace(app_id="another replica", body=b"r-1"))  # type: ignore[arg-type]
        assert waiter.is_set()


async def test_a_failed_notice_is_logged_and_forgotten() -> None:
    changes = RequestChanges()

    async def broker_away(_request_id: str) -> None:
        raise ConnectionError("broker away")

    changes.connect(broker_away)
    changes._committed("r-1")

    async def forgotten() -> bool:
        return not changes._telling

    await until(forgotten, 5, "the failed notice forgotten")
