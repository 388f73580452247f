"""Who at a clinic may do what, and how a deployment gets its first staff, on the real АРМ.

Each role against each action of the roles table (API and pages); an operator-made account that must choose
its own password first; every look-up of a citizen in ГБД ФЛ journaled with the staff member and the reason.
"""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from services.arm.models import PersonLookup
from shared.platform.db import Database
from shared.wire.ids import make_iin
from tests.conftest import People
from tests.e2e.staff import STAFF_PASSWORD, member
from tests.e2e.test_eservices import CLINIC_1, refused_with
from tests.e2e.test_staff import StaffFactory, staff_factory  # noqa: F401 - the fixture
from tools.launcher import ROOT, Mesh

PAGE = {"Accept": "text/html"}
# What each role may do, as the README and diagram 2 give it: the registrar (and the head) files requests
# for citizens and runs the journals; a doctor sees the journals and records the visits they make.
MAY = {
    "registrar": {"look up", "file", "upload", "sign", "journals", "slip", "assign", "visit", "cancel", "absence"},
    "head": {"look up", "file", "upload", "sign", "journals", "slip", "assign", "visit", "cancel", "absence"},
    "doctor": {"journals", "visit"},
}


def arm_database(mesh: Mesh) -> Database:
    return Database(mesh.env.get("EMHANA_ARM_DATABASE_URL") or f"sqlite+aiosqlite:///{mesh.var_dir / 'arm.db'}")


def actions(citizen_iin: str, today: str) -> dict[str, tuple[str, str, dict[str, Any]]]:
    """One request per action, each aimed at something that is not there (or harmless): an allowed role
    gets its ordinary answer (200, 404, 415, 422 …), a forbidden one 403 FORBIDDEN_ROLE before anything."""
    nope = "0000-2026-999999"
    return {
        "look up": ("GET", f"/persons/{citizen_iin}", {"params": {"reason": "приём в регистратуре"}}),
        "file": ("POST", "/requests/prepare", {"json": {"service": "home_call", "iin": citizen_iin, "fields": {}}}),
        "upload": ("POST", "/uploads", {"params": {"name": "scan"}, "content": b"not a document"}),
        "sign": ("POST", f"/requests/{uuid.uuid4()}/sign", {"json": {"jws": "a.b.c"}}),
        "journals": ("GET", "/journal/home-calls", {}),
        "slip": ("GET", f"/attachments/{nope}/slip.pdf", {}),
        "assign": ("POST", f"/home-calls/{nope}", {"json": {"action": "assign", "doctor": "Д-р Сапарова"}}),
        "visit": ("POST", f"/appointments/{nope}", {"json": {"action": "fulfilled"}}),
        "cancel": ("POST", f"/home-calls/{nope}", {"json": {"action": "cancel", "note": "ошибочный вызов"}}),
        "absence": ("POST", "/absences", {"json": {"doctor_code": "nope", "day": today, "reason": "больничный"}}),
    }


@pytest.mark.parametrize("role", ["registrar", "doctor", "head"])
async def test_each_role_against_each_action(role: str, staff_factory: StaffFactory, people: People) -> None:  # noqa: F811
    who = await staff_factory(CLINIC_1, role)
    (citizen,) = people.take("unattached")
    today = dt.date.today().isoformat()
    for action, (method, path, options) in actions(citizen.iin, today).items():
        response = await who.http.request(method, f"/api/v1/staff{path}", **options)
        if action in MAY[role]:
            assert response.status_code != 403, (role, action, response.text)
            assert response.status_code < 500, (role, action, response.text)
        else:
            assert response.status_code == 403, (role, action, response.status_code)
            assert response.json()["code"] == "FORBIDDEN_ROLE", (role, action)
    assert (await who.http.get("/api/v1/staff/journal/appointments")).status_code == 200


async def log_in_page(http: httpx.AsyncClient, iin: str, password: str) -> httpx.Response:
    return await http.post("/login", data={"iin": iin, "password": password, "next": "/"}, headers=PAGE)


async def test_the_pages_show_and_allow_each_role_only_its_own_actions(mesh: Mesh) -> None:
    for role, forbidden in (("doctor", True), ("registrar", False)):
        async with httpx.AsyncClient(base_url=mesh.url("arm"), timeout=30) as http:
            assert (await log_in_page(http, member(CLINIC_1, role).iin, STAFF_PASSWORD)).status_code == 303
            home = await http.get("/", headers=PAGE)
            assert home.status_code == 200
            assert ('href="/persons"' in home.text) is not forbidden, role
            assert ('href="/absences"' in home.text) is not forbidden, role
            for path in ("/persons", "/file/home_call", "/absences"):
                page = await http.get(path, headers=PAGE)
                assert page.status_code == (403 if forbidden else 200), (role, path)
                assert ('data-code="FORBIDDEN_ROLE"' in page.text) is forbidden, (role, path)
            assert (await http.get("/journal/home-calls", headers=PAGE)).status_code == 200


def admin(mesh: Mesh, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "services.arm.admin", *args],
        cwd=ROOT,
        env=mesh.base_env(),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=120,
    )


async def test_a_first_head_made_by_the_operator_must_choose_their_own_password(mesh: Mesh, tmp_path: Path) -> None:
    iin = make_iin(dt.date(1979, 6, 14), "F", 7311 + uuid.uuid4().int % 600)
    assert iin is not None
    given, own = "Bastapqy-Qupiya-2026", "Menin-Oz-Qupiyam-2026"
    secret = tmp_path / "first-head-password"
    secret.write_text(given + "\n")
    made = admin(
        mesh,
        *("add-staff", "--clinic", CLINIC_1, "--iin", iin, "--surname", "Ахметова", "--name", "Айгуль"),
        *("--role", "head", "--password-file", str(secret)),
    )
    assert made.returncode == 0, made.stderr
    assert given not in made.stdout + made.stderr  # the password is never printed
    # The command refuses, with a reason and exit status 2, what would make a bad account.
    weak = tmp_path / "weak"
    weak.write_text("12345678\n")
    for args in (
        ("--clinic", CLINIC_1, "--iin", iin, "--password-file", str(secret)),  # the ИИН has an account
        ("--clinic", "123456789012", "--iin", iin, "--password-file", str(secret)),  # not a clinic here
        ("--clinic", CLINIC_1, "--iin", "123456789012", "--password-file", str(secret)),  # not an ИИН
        ("--clinic", CLINIC_1, "--iin", iin, "--password-file", str(weak)),  # a weak password
        ("--clinic", CLINIC_1, "--iin", iin),  # no terminal to ask at, no secret file
    ):
        refused = admin(mesh, "add-staff", *args, "--surname", "X", "--name", "Y", "--role", "registrar")
        assert refused.returncode == 2 and refused.stderr.startswith("error: "), (args, refused.stderr)

    async with httpx.AsyncClient(base_url=mesh.url("arm"), timeout=30) as http:
        login = await http.post("/api/v1/staff/auth/login", json={"iin": iin, "password": given})
        assert login.status_code == 200 and login.json()["password_change_required"] is True
        http.headers["Authorization"] = f"Bearer {login.json()['access_token']}"
        assert (await http.get("/api/v1/staff/me")).json()["role"] == "head"
        blocked = await http.get("/api/v1/staff/journal/home-calls")
        assert blocked.status_code == 403 and blocked.json()["code"] == "PASSWORD_CHANGE_REQUIRED"
        change = "/api/v1/staff/auth/password"
        wrong = await http.post(change, json={"current_password": "not-it-at-all", "new_password": own})
        assert wrong.status_code == 401 and wrong.json()["code"] == "AUTH_FAILED"
        for bad in (given, "short-one", f"Qupiya-{iin}"):
            weak_answer = await http.post(change, json={"current_password": given, "new_password": bad})
            assert weak_answer.status_code == 422 and weak_answer.json()["code"] == "PASSWORD_POLICY", bad
        assert (await http.get("/api/v1/staff/journal/home-calls")).status_code == 403  # nothing changed
        assert (await http.post(change, json={"current_password": given, "new_password": own})).status_code == 204
        assert (await http.get("/api/v1/staff/journal/home-calls")).status_code == 200
        old = await http.post("/api/v1/staff/auth/login", json={"iin": iin, "password": given})
        assert old.status_code == 401
        new = await http.post("/api/v1/staff/auth/login", json={"iin": iin, "password": own})
        assert new.status_code == 200 and new.json()["password_change_required"] is False

    # The operator resets the password (a head who forgot theirs): the pages send them to choose their own.
    reset = admin(mesh, "reset-password", "--iin", iin, "--password-file", str(secret))
    assert reset.returncode == 0, reset.stderr
    async with httpx.AsyncClient(base_url=mesh.url("arm"), timeout=30) as http:
        entered = await log_in_page(http, iin, given)
        assert entered.status_code == 303 and entered.headers["location"] == "/password"
        elsewhere = await http.get("/journal/home-calls", headers=PAGE)
        assert elsewhere.status_code == 303 and elsewhere.headers["location"] == "/password"
        form = await http.get("/password", headers=PAGE)
        assert form.status_code == 200 and 'id="must-change"' in form.text
        csrf = form.text.split('name="csrf" value="', 1)[1].split('"', 1)[0]
        fields = {"current_password": given, "new_password": own, "new_password_again": own, "csrf": csrf}
        changed = await http.post("/password", data=fields, headers=PAGE)
        assert changed.status_code == 303 and changed.headers["location"] == "/"
        assert (await http.get("/journal/home-calls", headers=PAGE)).status_code == 200


async def test_every_look_up_of_a_citizen_is_journaled_with_who_and_why(
    staff_factory: StaffFactory,  # noqa: F811
    people: People,
    mesh: Mesh,
) -> None:
    registrar = await staff_factory(CLINIC_1)
    doctor = await staff_factory(CLINIC_1, "doctor")
    (citizen,) = people.take("unattached")
    await registrar.person(citizen.iin, "гражданин в регистратуре")
    no_reason = await registrar.http.get(f"/api/v1/staff/persons/{citizen.iin}")
    assert no_reason.status_code == 422
    blank = await registrar.http.get(f"/api/v1/staff/persons/{citizen.iin}", params={"reason": "  "})
    assert blank.status_code == 422 and blank.json()["code"] == "VALIDATION_ERROR"
    await refused_with("FORBIDDEN_ROLE", doctor.person(citizen.iin, "любопытство"))
    filed = await registrar.call(
        "POST",
        "/api/v1/staff/requests/prepare",
        json={"service": "attachment", "iin": citizen.iin, "fields": {}},
    )
    assert filed["draft_id"]
    db = arm_database(mesh)
    try:
        async with db.sessions() as session:
            rows = list(
                await session.scalars(
                    select(PersonLookup).where(PersonLookup.person_iin == citizen.iin).order_by(PersonLookup.id)
                )
            )
    finally:
        await db.close()
    assert [(r.staff_iin, r.clinic_bin, r.reason) for r in rows] == [
        (registrar.who.iin, CLINIC_1, "гражданин в регистратуре"),  # asked on purpose
        (registrar.who.iin, CLINIC_1, "filing: attachment"),  # the look-up of process 3 while filing
    ]
