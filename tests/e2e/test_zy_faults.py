"""The fault picture an outside review drew, kept as a test: each service killed (SIGKILL) while citizens
are submitting, then restarted. Counted: accepted, completed, refused, failed (technical, with a retry),
lost (accepted and never answered) and duplicated (registered twice) — lost and duplicated must be 0.

Named ``zy`` to run before the broker-restart module and after the rest, since it restarts services.
"""

from __future__ import annotations

import asyncio
import zoneinfo
from collections import Counter

import pytest

from shared.mesh import Mesh
from tests.conftest import People
from tests.e2e.citizens import ApiFailure, Citizen
from tests.e2e.staff import StaffClient, member
from tests.e2e.test_eservices import CLINIC_4, HOME_CALL
from tests.waiting import until

ASTANA = zoneinfo.ZoneInfo("Asia/Almaty")
CROWD = 8


async def submit(citizen: Citizen) -> dict | None:
    """A submission as a browser would make it; None when the portal did not accept it (it was down)."""
    try:
        return await citizen.submit("home_call", **HOME_CALL)
    except (ApiFailure, OSError, TimeoutError):
        return None
    except Exception as exc:  # httpx transport errors while the portal is being killed
        if type(exc).__module__.startswith("httpx"):
            return None
        raise


async def final_status(citizen: Citizen, request_id: str, seconds: float = 120) -> str:
    """The request's outcome, or ``lost`` when it has none within ``seconds`` (the portal may restart)."""

    async def outcome() -> str | None:
        request = await citizen.call("GET", f"/api/v1/requests/{request_id}")
        return request["status"] if request["status"] in {"completed", "refused", "failed"} else None

    try:
        return await until(outcome, seconds, "an outcome")
    except AssertionError:
        return "lost"


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

    accepted = [(c, r) for c, r in zip(crowd, submitted, strict=True) if r is not None]
    outcomes = Counter([await final_status(c, r["id"]) for c, r in accepted])
    registrar = await StaffClient(member(CLINIC_4), mesh, ca).login()
    try:
        today = clock.now().astimezone(ASTANA).date().isoformat()
        journal = await registrar.journal("home_calls", day=today)
    finally:
        await registrar.close()
    ours = {c.iin for c, _ in accepted}
    registered = Counter(item["patient_iin"] for item in journal["items"] if item["patient_iin"] in ours)
    duplicated = sum(n - 1 for n in registered.values())
    report = {"accepted": len(accepted), **outcomes, "duplicated": duplicated}
    assert accepted, report
    assert outcomes["lost"] == 0 and duplicated == 0, report
    assert outcomes["completed"] + outcomes["refused"] + outcomes["failed"] == len(accepted), report
    print(f"\n{victim} killed under load: {report}")
