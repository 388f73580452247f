"""The regulation's steps timed whichever channel does them: the REST API, the CLI (the pages: see
test_browser's time choice), at the portal and at the АРМ — and read back from /service-levels and from
the Prometheus metrics. Breaches are driven by a test clock in tests/unit/test_step_times.py."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys

import httpx
import pytest

from services.signature.ca import DevCA
from shared.wire.clock import Clock
from shared.wire.ids import make_iin
from tests.conftest import People
from tests.e2e.citizens import Citizen
from tests.e2e.staff import ApiFailure, StaffClient, member
from tools.launcher import ROOT, Mesh

CLINIC_1 = "980440012347"
HOME_CALL = {"address": "г. Астана, улица Сейфуллина, 12", "phone": "+77017654321", "complaints": "кашель"}


async def counts(mesh: Mesh, service: str) -> dict[str, int]:
    """Each step's count from the service's /service-levels."""
    async with httpx.AsyncClient(base_url=mesh.url(service)) as http:
        levels = (await http.get("/api/v1/service-levels")).json()
    return {row["step"]: row["count"] for row in levels["steps"]}


def moved(before: dict[str, int], after: dict[str, int]) -> dict[str, int]:
    return {step: after[step] - before[step] for step in after if after[step] != before[step]}


async def test_table_1_steps_are_timed_through_the_api_and_refusals_as_their_own_steps(
    mesh: Mesh, ca: DevCA, clock: Clock, people: People
) -> None:
    (person,) = people.take("attached_1")
    citizen = Citizen(person, mesh, ca, clock)
    start = await counts(mesh, "portal")
    await citizen.enter()  # registration proven by ЭЦП: authorisation, process 1
    with pytest.raises(ApiFailure):
        await citizen.call("POST", "/api/v1/auth/login", json={"iin": person.iin, "password": "Not-it-at-all-1"})
    request = await citizen.submit("home_call", **HOME_CALL)  # processes 3 and 5, then the clinic's 6 and 8
    await citizen.wait(request["id"])
    (stranger,) = people.take("attached_1")
    someone_elses = ca.issue_person(stranger.iin, stranger.surname.upper(), stranger.name.upper())
    prepared = await citizen.prepare("home_call", **HOME_CALL)
    with pytest.raises(ApiFailure):
        await citizen.sign(prepared, key=someone_elses)  # condition 2 refuses it (IIN_MISMATCH): process 4
    after = await counts(mesh, "portal")
    assert moved(start, after) == {
        "process_1": 1,
        "process_2": 1,
        "process_3": 2,
        "process_4": 1,
        "process_5": 1,
        "process_6": 1,
        "process_8": 1,
    }
    async with httpx.AsyncClient(base_url=mesh.url("portal")) as http:
        metrics = (await http.get("/metrics")).text
    assert 'emhana_step_seconds_count{service="portal",step="process_5"}' in metrics
    assert 'emhana_step_limit_seconds{service="portal",step="process_2"} 30.0' in metrics
    await citizen.close()


def test_the_cli_goes_through_the_same_timed_steps(mesh: Mesh, ca: DevCA, people: People, tmp_path) -> None:  # type: ignore[no-untyped-def]
    import asyncio

    (person,) = people.take("attached_1")
    ca.save(ca.issue_person(person.iin, person.surname.upper(), person.name.upper()), f"levels-{person.iin}")
    key = str(mesh.pki_dir / "issued" / f"levels-{person.iin}.p12")
    env = {
        **os.environ,
        "EMHANA_SESSION": str(tmp_path / "session.json"),
        "EMHANA_PORTAL_URL": mesh.url("portal"),
        "EMHANA_PASSWORD": "Tulpar-Zhol-2026",
    }

    def emhana(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "clients.citizen", *args],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )

    start = asyncio.run(counts(mesh, "portal"))
    assert emhana("register", "--key", key).returncode == 0
    fields = [f"--field={name}={value}" for name, value in HOME_CALL.items()]
    submitted = emhana("submit", "home_call", "--key", key, "--wait", "30", *fields)
    assert submitted.returncode == 0, submitted.stderr
    after = asyncio.run(counts(mesh, "portal"))
    assert {step: n for step, n in moved(start, after).items() if step in ("process_1", "process_3", "process_5")} == {
        "process_1": 1,
        "process_3": 1,
        "process_5": 1,
    }


async def test_table_2_steps_are_timed_at_the_arm(mesh: Mesh, ca: DevCA, people: People) -> None:
    start = await counts(mesh, "arm")
    registrar = await StaffClient(member(CLINIC_1), mesh, ca).login()  # step 1
    (person,) = people.take("attached_1")
    await registrar.person(person.iin)  # step 3
    with pytest.raises(ApiFailure):
        await registrar.person(make_iin(dt.date(1985, 3, 15), "M", 9876) or "")  # nobody in ГБД ФЛ: step 4
    filed = await registrar.file("home_call", person.iin, **HOME_CALL)  # steps 2 (and 3 again), 5, 6 and 8
    assert filed["status"] == "completed"
    after = await counts(mesh, "arm")
    assert {step: n for step, n in moved(start, after).items() if step != "step_7"} == {
        "step_1": 1,
        "step_2": 1,
        "step_3": 2,  # the look-up asked for, and the one filing makes
        "step_4": 1,
        "step_5": 1,
        "step_6": 1,
        "step_8": 1,
    }
    async with httpx.AsyncClient(base_url=mesh.url("arm")) as http:
        levels = (await http.get("/api/v1/service-levels")).json()["steps"]
    step_1 = next(row for row in levels if row["step"] == "step_1")
    assert step_1["limit_seconds"] == 15 and step_1["p99_ms"] is not None
    await registrar.close()
