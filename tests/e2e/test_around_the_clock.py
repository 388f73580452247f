"""П. 2 of each regulation: the portal works around the clock. On a mesh whose clocks read 03:00 on a
public holiday, a citizen registers, logs in and is served: an attachment is registered and decided with
its time limit counted from the next working day, a home call is refused with its reason (the clinic is
closed) — never a portal that is down — and the pages say that the portal works at any hour."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import httpx
import pytest

from services.signature.ca import DevCA
from shared.demo.people import demo_citizens
from shared.rules.calendar import WorkCalendar
from shared.wire.clock import ASTANA, Clock
from tests.conftest import POPULATION_SEED, POPULATION_SIZE, running_mesh
from tests.e2e.citizens import Citizen
from tests.e2e.test_eservices import CLINIC_4, HOME_CALL
from tools.launcher import Mesh

NIGHT = dt.datetime(2026, 12, 16, 3, 0, tzinfo=ASTANA)  # Independence Day, three in the morning


@pytest.fixture(scope="module")
def night_mesh(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Mesh]:
    with running_mesh("sqlite", tmp_path_factory.mktemp("night"), NIGHT) as instance:
        yield instance


async def test_the_portal_serves_at_night_on_a_holiday(night_mesh: Mesh) -> None:
    assert not WorkCalendar().is_working_day(NIGHT.date())  # a public holiday, as the test says
    clock = Clock(night_mesh.clock_offset_seconds)
    demo = demo_citizens(POPULATION_SIZE, POPULATION_SEED, per_group=300)
    person = demo.unattached[-1]
    citizen = await Citizen(person, night_mesh, DevCA(night_mesh.pki_dir, clock=clock), clock).enter()
    try:
        attached = await citizen.wait((await citizen.submit("attachment", clinic=CLINIC_4))["id"])
        assert attached["status"] == "completed", attached
        due = dt.datetime.fromisoformat(attached["deadline"]).astimezone(ASTANA)
        assert due.date() > NIGHT.date() and WorkCalendar().is_working_day(due.date())  # counted from opening
        call = await citizen.wait((await citizen.submit("home_call", **HOME_CALL))["id"])
        assert call["status"] == "refused" and call["refusal"]["code"] in ("AFTER_CUTOFF", "CLINIC_CLOSED")
        assert call["refusal"]["message"]  # motivated: the clinic is closed, the portal is not
    finally:
        await citizen.close()
    async with httpx.AsyncClient(base_url=night_mesh.url("portal")) as http:
        home = await http.get("/", headers={"Accept": "text/html", "Accept-Language": "ru"})
    assert home.status_code == 200 and "круглосуточно" in home.text
