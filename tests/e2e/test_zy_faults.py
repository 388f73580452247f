"""The fault picture an outside review drew, kept as a test: each service killed (SIGKILL) while citizens
are submitting, then restarted. Counted: accepted, completed, refused, failed (technical, with a retry),
lost (accepted and never answered) and duplicated (registered twice) — lost and duplicated must be 0.

Named ``zy`` to run before the broker-restart module and after the rest, since it restarts services.
"""

from __future__ import annotations

import asyncio

import pytest

from tests.conftest import People
from tests.e2e.faults import submit, tally
from tests.e2e.test_eservices import CLINIC_4
from tools.launcher import Mesh

CROWD = 8


@pytest.mark.parametrize("victim", ["arm", "gateway", "portal", "signature", "gbd_fl"])
async def test_a_service_killed_under_load_loses_and_duplicates_nothing(
    mesh: Mesh, citizen_factory, people: People, ca, clock, victim: str
) -> None:
    crowd = [await citizen_factory(p).enter() for p in people.take("attached_4", CROWD)]
    for citizen in crowd:  # the portal learns each one's clinic (used if the register is down meanwhile)
        assert (await citizen.call("GET", "/api/v1/me"))["attachment"]["clinic_bin"] == CLINIC_4
    tasks = [asyncio.create_task(submit(c)) for c in crowd]
    await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)  # under load: at least one is in
    mesh.stop_service(victim, kill=True)
    try:
        submitted = await asyncio.gather(*tasks)
    finally:
        mesh.start_service(victim)
        mesh.wait_ready([victim], timeout=90)

    counts = (await tally(f"{victim} killed", mesh, ca, clock, crowd, submitted)).counts
    assert counts["accepted"], counts
    assert counts["lost"] == counts["stuck"] == counts["duplicated"] == 0, counts
    assert counts["completed"] + counts["refused"] + counts["failed"] == counts["accepted"], counts
