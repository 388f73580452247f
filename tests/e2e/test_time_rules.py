"""Time rules that need time to pass, on a mesh of their own whose clocks are moved on between steps
(every service restarted with the later time, as after an outage): a home call sent at 17:50 and
processed at 18:25 because the АРМ was down is accepted — the cut-off (18:00 at Поликлиника № 1) is
judged when the gateway accepted it — the waiting request is shown to the citizen as overdue, and the
clinic sees it in its overdue list; a call sent at 18:25 is refused."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from services.signature.ca import DevCA
from shared.demo.people import demo_citizens
from shared.wire.clock import Clock
from tests.conftest import POPULATION_SEED, POPULATION_SIZE, mesh_start_time, running_mesh
from tests.e2e.citizens import Citizen
from tests.e2e.staff import StaffClient, member
from tests.e2e.test_eservices import CLINIC_1, HOME_CALL
from tests.waiting import until
from tools.launcher import Mesh

CALLED = mesh_start_time().replace(hour=17, minute=50)
LATER = CALLED.replace(hour=18, minute=25)


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def late_mesh(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Mesh]:
    backend = request.param
    with running_mesh(backend, tmp_path_factory.mktemp(f"late-{backend}"), CALLED) as instance:
        yield instance


def move_clocks(mesh: Mesh, to: object, services: list[str]) -> None:
    """Restart ``services`` with every clock reading ``to`` (the others must be stopped first)."""
    mesh.clock_offset_seconds = Clock.starting_at(to).offset_seconds  # type: ignore[arg-type]
    for service in services:
        mesh.start_service(service)
    mesh.wait_ready(services, timeout=90)


async def test_a_call_processed_late_is_judged_when_it_was_sent_and_the_wait_is_overdue(late_mesh: Mesh) -> None:
    mesh = late_mesh
    person = demo_citizens(POPULATION_SIZE, POPULATION_SEED, per_group=300).attached_1[-1]
    clock = Clock(mesh.clock_offset_seconds)
    citizen = await Citizen(person, mesh, DevCA(mesh.pki_dir, clock=clock), clock).enter()
    try:
        assert (await citizen.call("GET", "/api/v1/me"))["attachment"]["clinic_bin"] == CLINIC_1  # known
        mesh.stop_service("arm")
        request = await citizen.submit("home_call", **HOME_CALL)  # 17:50, the АРМ is down: it waits queued
        assert request["overdue"] is False
        for service in list(mesh.processes):
            mesh.stop_service(service)
        move_clocks(mesh, LATER, ["signature", "gbd_fl", "gateway", "portal"])  # 18:25, the АРМ still down

        later = Clock(mesh.clock_offset_seconds)
        citizen.clock = later
        await citizen.enter()  # the token of 17:50 has expired meanwhile

        async def overdue() -> dict:
            seen = await citizen.call("GET", f"/api/v1/requests/{request['id']}")
            return seen if seen["overdue"] else {}

        waiting = await until(overdue)  # 30 minutes of the clinic's working time have passed
        assert waiting["status"] == "submitted" and waiting["overdue_since"]

        move_clocks(mesh, LATER, ["arm"])
        final = await citizen.wait(request["id"], seconds=90)
        assert final["status"] == "completed", final  # sent before the cut-off: accepted
        assert final["overdue"] is False and final["overdue_since"]  # the breach stays on record

        registrar = await StaffClient(member(CLINIC_1), mesh, DevCA(mesh.pki_dir, clock=later)).login()
        try:
            listed = await registrar.call("GET", "/api/v1/staff/overdue")
            late = [r for r in listed["registrations"] if r["number"] == final["registration_number"]]
            assert late and late[0]["channel"] == "portal"
        finally:
            await registrar.close()

        after_cutoff = await citizen.wait((await citizen.submit("home_call", **HOME_CALL))["id"], seconds=90)
        assert (after_cutoff["status"], after_cutoff["refusal"]["code"]) == ("refused", "AFTER_CUTOFF")
        async with httpx.AsyncClient(base_url=mesh.url("portal")) as http:
            indicators = (await http.get("/api/v1/services/home_call/indicators")).json()
        assert indicators["overdue"] >= 1
    finally:
        await citizen.close()
