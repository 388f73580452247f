"""The provider channel (regulation, diagram 2) end to end over the real broker: clinic staff log in at the
АРМ, file requests for citizens with their own ЭЦП, work in the journals, and every change reaches the
citizen's portal as a signed status message.

The mesh runs on a Tuesday at 16:30 in Astana (see conftest).
"""

from __future__ import annotations

import datetime as dt
import io
import re
import zoneinfo
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import httpx
import pytest
from cryptography import x509
from cryptography.x509.oid import NameOID
from pypdf import PdfReader

from services.signature.ca import DevCA, person_subject
from shared.wire.certs import Role
from shared.wire.clock import Clock
from shared.wire.ids import make_iin
from tests.conftest import People
from tests.e2e.citizens import ApiFailure, Citizen
from tests.e2e.staff import CLINIC_NAMES, StaffClient, member
from tests.e2e.test_eservices import (
    CLINIC_1,
    CLINIC_4,
    HOME_CALL,
    citizens,
    refused_with,
    signature_service_sees_revoked,
)
from tests.waiting import until
from tools.launcher import Mesh

ASTANA = zoneinfo.ZoneInfo("Asia/Almaty")
StaffFactory = Callable[..., Awaitable[StaffClient]]


@pytest.fixture
async def staff_factory(mesh: Mesh, ca: DevCA) -> AsyncIterator[StaffFactory]:
    made: list[StaffClient] = []

    async def make(clinic_bin: str, role: str = "registrar") -> StaffClient:
        client = StaffClient(member(clinic_bin, role), mesh, ca)
        made.append(client)
        return await client.login()

    yield make
    for client in made:
        await client.close()


def today(clock: Clock) -> dt.date:
    return clock.now().astimezone(ASTANA).date()


async def in_portal(citizen: Citizen, request_id: str, status: str, seconds: float = 90) -> dict[str, Any]:
    """Wait until the citizen's portal shows the request with ``status`` (it travels as a signed message)."""

    async def shown() -> dict[str, Any] | None:
        try:
            seen = await citizen.call("GET", f"/api/v1/requests/{request_id}")
        except ApiFailure as exc:
            if exc.code != "NOT_FOUND":  # not there yet: the clinic's first status has not arrived
                raise
            return None
        return seen if seen["status"] == status else None

    return await until(shown, seconds, f"the portal showing {status}")


def entry(journal: dict[str, Any], number: str) -> dict[str, Any]:
    return next(item for item in journal["items"] if item["number"] == number)


async def free_slots(citizen: Citizen, clinic: str, doctor: str, day: dt.date) -> list[str]:
    slots = await citizen.call("GET", f"/api/v1/clinics/{clinic}/slots", params={"doctor_code": doctor, "days": 14})
    return [s["start"] for s in slots if dt.datetime.fromisoformat(s["start"]).astimezone(ASTANA).date() == day]


# -- the three services filed by staff --------------------------------------------------------------


async def test_home_call_filed_by_staff_reaches_the_journal_and_the_citizens_portal(
    staff_factory: StaffFactory, citizen_factory, people: People, clock: Clock
) -> None:
    registrar = await staff_factory(CLINIC_1)
    (citizen,) = await citizens(citizen_factory, people, "attached_1")
    found = await registrar.person(citizen.iin)  # processes 3 and condition 1
    assert found["person"]["iin"] == citizen.iin and found["attachment"]["clinic_bin"] == CLINIC_1
    filed = await registrar.file("home_call", citizen.iin, **HOME_CALL)
    assert filed["status"] == "completed", filed
    number = filed["registration_number"]
    assert number.startswith(f"{CLINIC_1[-4:]}-{today(clock).year}-")
    visit = filed["result"]["visit"]  # process 8: the date and time to tell the citizen
    assert dt.date.fromisoformat(visit["date"]) == today(clock) and filed["result"]["doctor"]
    call = entry(await registrar.journal("home_calls", day=today(clock).isoformat()), number)
    assert (call["patient_iin"], call["status"], call["phone"]) == (citizen.iin, "assigned", HOME_CALL["phone"])

    seen = await in_portal(citizen, filed["request_id"], "completed")
    assert (seen["channel"], seen["registration_number"], seen["overdue"]) == ("staff", number, False)
    notice = await citizen.verified_result(filed["request_id"], CLINIC_1)
    assert notice["registration_number"] == number and notice["patient_iin"] == citizen.iin

    await registrar.call("POST", f"/api/v1/staff/home-calls/{number}", json={"action": "visited"})
    visited = await in_portal(citizen, filed["request_id"], "visited")
    assert [e["status"] for e in visited["history"]] == ["submitted", "registered", "completed", "visited"]
    closed = await refused_with(
        "ALREADY_CLOSED",
        registrar.call("POST", f"/api/v1/staff/home-calls/{number}", json={"action": "cancel", "note": "ошибка"}),
    )
    assert closed.status == 409
    visited_only = await registrar.journal("home_calls", day=today(clock).isoformat(), status="visited")
    assert number in {item["number"] for item in visited_only["items"]}


async def test_each_service_filed_at_the_clinic_can_be_refused_on_its_grounds_and_the_citizen_is_told_why(
    staff_factory: StaffFactory, citizen_factory, people: People
) -> None:
    """Diagram 2, process 7: registered under the clinic's number, then a motivated refusal — for each of the
    three services — which reaches the citizen's portal with its code and the regulation's reason."""
    registrar = await staff_factory(CLINIC_1)
    (elsewhere,) = await citizens(citizen_factory, people, "attached_4")  # attached to another clinic
    (here,) = await citizens(citizen_factory, people, "attached_1")
    slots = await here.call("GET", f"/api/v1/clinics/{CLINIC_1}/slots", params={"doctor_code": "d1-therapist-1"})
    cases = [
        ("home_call", elsewhere, HOME_CALL, "NOT_ATTACHED"),
        ("appointment", elsewhere, {"doctor_code": "d1-therapist-1", "slot_start": slots[-1]["start"]}, "NOT_ATTACHED"),
        ("attachment", here, {}, "ALREADY_ATTACHED"),
    ]
    for service, citizen, fields, code in cases:
        filed = await registrar.file(service, citizen.iin, **fields)
        assert (filed["status"], filed["refusal"]["code"]) == ("refused", code), (service, filed)
        assert filed["registration_number"], service  # registered first (process 6), then refused (process 7)
        seen = await in_portal(citizen, filed["request_id"], "refused")
        assert (seen["channel"], seen["refusal"]["code"]) == ("staff", code), service
        assert seen["refusal"]["message"] and seen["registration_number"] == filed["registration_number"]


async def test_a_registrar_with_a_gost_key_signs_as_ncalayer_does(
    staff_factory: StaffFactory, citizen_factory, people: People
) -> None:
    """Staff sign the way citizens do: a GOST 2015 key of the clinic's employee, the document as NCALayer's
    detached CMS; the АРМ registers and decides it and the citizen's portal shows it."""
    registrar = await staff_factory(CLINIC_1)
    registrar.key = registrar.employee_key(key_type="gost")
    (citizen,) = await citizens(citizen_factory, people, "attached_1")
    filed = await registrar.sign(await registrar.prepare("home_call", citizen.iin, **HOME_CALL), as_cms=True)
    assert filed["status"] == "completed", filed
    seen = await in_portal(citizen, filed["request_id"], "completed")
    assert seen["channel"] == "staff"


async def test_appointments_filed_by_staff_and_by_citizens_are_recorded_as_they_happen(
    staff_factory: StaffFactory, citizen_factory, people: People, clock: Clock
) -> None:
    registrar = await staff_factory(CLINIC_1)
    first, second = await citizens(citizen_factory, people, "attached_1", 2)
    *_, slot_a, slot_b = await free_slots(first, CLINIC_1, "d1-therapist-2", today(clock))
    filed = await registrar.file("appointment", first.iin, doctor_code="d1-therapist-2", slot_start=slot_a)
    assert filed["status"] == "completed", filed
    assert filed["result"]["room"] and dt.datetime.fromisoformat(filed["result"]["start"]) == dt.datetime.fromisoformat(
        slot_a
    )
    day = today(clock).isoformat()
    booked = entry(
        await registrar.journal("appointments", day=day, doctor_code="d1-therapist-2"), filed["registration_number"]
    )
    assert (booked["patient_iin"], booked["state"]) == (first.iin, "booked")
    await in_portal(first, filed["request_id"], "completed")
    await registrar.call(
        "POST", f"/api/v1/staff/appointments/{filed['registration_number']}", json={"action": "no_show"}
    )
    no_show = await in_portal(first, filed["request_id"], "no_show")
    assert no_show["history"][-1]["status"] == "no_show"

    request = await second.submit("appointment", doctor_code="d1-therapist-2", slot_start=slot_b)  # portal channel
    booked_by_citizen = await second.wait(request["id"])
    assert booked_by_citizen["status"] == "completed"
    number = booked_by_citizen["registration_number"]
    for action in ("arrived", "fulfilled"):
        await registrar.call("POST", f"/api/v1/staff/appointments/{number}", json={"action": action})
    fulfilled = await in_portal(second, request["id"], "fulfilled")
    assert [e["status"] for e in fulfilled["history"]][-2:] == ["arrived", "fulfilled"]
    assert (
        entry(await registrar.journal("appointments", day=day, state="fulfilled"), number)["patient_iin"] == second.iin
    )


async def test_attachment_filed_by_staff_enters_the_register(
    staff_factory: StaffFactory, citizen_factory, people: People, mesh: Mesh
) -> None:
    registrar = await staff_factory(CLINIC_4)
    (citizen,) = await citizens(citizen_factory, people, "unattached")
    filed = await registrar.file("attachment", citizen.iin)
    assert filed["status"] == "completed", filed
    assert filed["result"]["document"].startswith("Справка (талон) о прикреплении")
    register = await registrar.journal("attachments", state="open")
    assert register["items"][0]["iin"] == citizen.iin and register["total"] > 200  # newest first, paged
    assert len(register["items"]) == 200
    me = await citizen.call("GET", "/api/v1/me")
    assert me["attachment"]["clinic_bin"] == CLINIC_4
    attached = await in_portal(citizen, filed["request_id"], "completed")
    assert attached["service"] == "attachment"
    submitted_at, due = (dt.datetime.fromisoformat(attached[k]) for k in ("submitted_at", "deadline"))
    assert due.astimezone(ASTANA).date() > submitted_at.astimezone(ASTANA).date()  # one working day, not 10 min

    number = filed["registration_number"]
    slip = await registrar.http.get(f"/api/v1/staff/attachments/{number}/slip.pdf")
    assert slip.status_code == 200 and slip.headers["content-type"] == "application/pdf"
    text = "".join(page.extract_text() for page in PdfReader(io.BytesIO(slip.content)).pages)
    flat = re.sub(r"\s+", "", text)
    for expected in (number, citizen.iin, CLINIC_4, "1414", "Талонприкрепления"):
        assert expected in flat, expected
    assert citizen.person.surname in text  # the patient by name, not only by ИИН
    link = re.search(r"(http://\S+/verify/(\S+)\?h=([0-9a-f]{16}))", flat)
    assert link is not None, text
    assert link.group(1).startswith(mesh.url("portal"))  # the portal's public page, from its setting
    async with httpx.AsyncClient() as anyone:  # the QR code's link works without logging in
        page = await anyone.get(link.group(1), headers={"Accept-Language": "kk"})
        assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
        assert 'data-valid="true"' in page.text and number in page.text
        machine = f"{mesh.url('portal')}/api/v1/verify/{link.group(2)}?h={link.group(3)}"
        checked = (await anyone.get(machine)).json()
        assert checked["valid"] is True and checked["signer"]["bin"] == CLINIC_4
        assert checked["document"]["registration_number"] == number
        forged_link = link.group(1)[:-1] + ("0" if link.group(1)[-1] != "0" else "1")
        forged = await anyone.get(forged_link, headers={"Accept": "text/html"})  # as a browser asks
        assert forged.status_code == 404 and "text/html" in forged.headers["content-type"]
    other = await staff_factory(CLINIC_1)
    assert (await other.http.get(f"/api/v1/staff/attachments/{number}/slip.pdf")).status_code == 404


# -- condition 1 and process 5's checks ---------------------------------------------------------------


async def test_a_person_unknown_to_gbd_fl_gets_the_process_4_message_and_nothing_is_registered(
    staff_factory: StaffFactory, clock: Clock
) -> None:
    registrar = await staff_factory(CLINIC_1)
    absent = make_iin(dt.date(1985, 3, 15), "M", 9876)
    assert absent is not None
    before = (await registrar.journal("home_calls", day=today(clock).isoformat()))["total"]
    unknown = await refused_with("PERSON_NOT_FOUND", registrar.person(absent))
    assert unknown.status == 404 and "ГБД ФЛ" in unknown.body["message"]
    await refused_with("PERSON_NOT_FOUND", registrar.prepare("home_call", absent, **HOME_CALL))
    await refused_with("IIN_INVALID", registrar.person("123456789012"))
    assert (await registrar.journal("home_calls", day=today(clock).isoformat()))["total"] == before


def no_staff_role(ca: DevCA, staff: StaffClient):  # type: ignore[no-untyped-def]
    """A certificate that names the person and the clinic but carries no employee role."""
    who = staff.who
    subject = [
        *person_subject(who.iin, who.surname, who.name, None),
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, CLINIC_NAMES[who.clinic_bin]),
        x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, f"BIN{who.clinic_bin}"),
    ]
    return ca.issue(subject, roles=(Role.LEGAL_ENTITY,))


@pytest.mark.parametrize(
    ("fault", "code"),
    [
        ("citizen_certificate", "BIN_MISMATCH"),
        ("expired", "CERT_EXPIRED"),
        ("revoked", "CERT_REVOKED"),
        ("another_clinic", "BIN_MISMATCH"),
        ("no_staff_role", "CERT_NOT_STAFF"),
        ("someone_else", "IIN_MISMATCH"),
    ],
)
async def test_staff_signature_faults_are_refused_with_their_code_and_nothing_is_registered(
    staff_factory: StaffFactory,
    citizen_factory,
    people: People,
    ca: DevCA,
    clock: Clock,
    mesh: Mesh,
    fault: str,
    code: str,
) -> None:
    registrar = await staff_factory(CLINIC_1)
    (citizen,) = await citizens(citizen_factory, people, "attached_1")
    now = clock.now()
    if fault == "citizen_certificate":
        key = ca.issue_person(registrar.who.iin, registrar.who.surname, registrar.who.name)
    elif fault == "expired":
        key = registrar.employee_key(not_before=now - dt.timedelta(days=400), not_after=now - dt.timedelta(days=1))
    elif fault == "revoked":
        key = registrar.employee_key()
        ca.revoke(key.certificate.serial_number)
        await signature_service_sees_revoked(mesh, key)
    elif fault == "another_clinic":
        key = registrar.employee_key(CLINIC_4)
    elif fault == "no_staff_role":
        key = no_staff_role(ca, registrar)
    else:
        other = StaffClient(member(CLINIC_1, "doctor"), mesh, ca)
        key = other.key
        await other.close()
    day = today(clock).isoformat()
    before = (await registrar.journal("home_calls", day=day))["total"]
    prepared = await registrar.prepare("home_call", citizen.iin, **HOME_CALL)
    await refused_with(code, registrar.sign(prepared, key=key))
    assert (await registrar.journal("home_calls", day=day))["total"] == before  # nothing registered
    assert (await registrar.sign(prepared))["status"] == "completed"  # the right key still works


# -- who sees what ------------------------------------------------------------------------------------


async def test_staff_see_and_change_only_their_own_clinic_and_tokens_do_not_cross(
    staff_factory: StaffFactory, citizen_factory, people: People, clock: Clock, mesh: Mesh
) -> None:
    clinic_1, clinic_4 = await staff_factory(CLINIC_1), await staff_factory(CLINIC_4)
    (citizen,) = await citizens(citizen_factory, people, "attached_1")
    filed = await clinic_1.file("home_call", citizen.iin, **HOME_CALL)
    number = filed["registration_number"]
    day = today(clock).isoformat()
    assert number not in {i["number"] for i in (await clinic_4.journal("home_calls", day=day))["items"]}
    assert all(i["doctor_code"].startswith("d4-") for i in (await clinic_4.journal("appointments", day=day))["items"])
    await refused_with(
        "NOT_FOUND", clinic_4.call("POST", f"/api/v1/staff/home-calls/{number}", json={"action": "visited"})
    )
    await refused_with(
        "NOT_FOUND",
        clinic_4.call(
            "POST",
            "/api/v1/staff/absences",
            json={"doctor_code": "d1-therapist-1", "day": day, "reason": "отпуск"},
        ),
    )
    assert all(i["iin"] != citizen.iin for i in (await clinic_4.journal("attachments"))["items"])
    overdue = await clinic_4.call("GET", "/api/v1/staff/overdue")
    numbers = [i["number"] for i in (*overdue["home_calls"], *overdue["registrations"])]
    assert overdue["count"] == len(numbers) and all(n.startswith(CLINIC_4[-4:]) for n in numbers)
    citizen_token = citizen.http.headers["Authorization"]
    async with httpx.AsyncClient(base_url=mesh.url("arm")) as arm:
        refused = await arm.get("/api/v1/staff/me", headers={"Authorization": citizen_token})
        assert (refused.status_code, refused.json()["code"]) == (401, "UNAUTHORIZED")
    async with httpx.AsyncClient(base_url=mesh.url("portal")) as portal:
        refused = await portal.get(
            "/api/v1/requests", headers={"Authorization": clinic_1.http.headers["Authorization"]}
        )
        assert refused.status_code == 401


async def test_staff_login_refusals_and_logout(staff_factory: StaffFactory, mesh: Mesh) -> None:
    registrar = await staff_factory(CLINIC_4)
    async with httpx.AsyncClient(base_url=mesh.url("arm")) as arm:
        wrong = await arm.post(
            "/api/v1/staff/auth/login", json={"iin": registrar.who.iin, "password": "Wrong-pass-123"}
        )
        assert (wrong.status_code, wrong.json()["code"]) == (401, "AUTH_FAILED")
    assert (await registrar.call("GET", "/api/v1/staff/me"))["clinic_bin"] == CLINIC_4
    await registrar.call("POST", "/api/v1/staff/auth/logout")
    await refused_with("UNAUTHORIZED", registrar.call("GET", "/api/v1/staff/me"))


# -- a doctor's absence -----------------------------------------------------------------------------


async def test_a_doctors_absence_cancels_the_bookings_with_the_reason(
    staff_factory: StaffFactory, citizen_factory, people: People, clock: Clock
) -> None:
    registrar, doctor = await staff_factory(CLINIC_4), await staff_factory(CLINIC_4, "doctor")
    first, second = await citizens(citizen_factory, people, "attached_4", 2)
    slots = await first.call(
        "GET", f"/api/v1/clinics/{CLINIC_4}/slots", params={"doctor_code": "d4-therapist-1", "days": 14}
    )
    day = max(dt.datetime.fromisoformat(s["start"]).astimezone(ASTANA).date() for s in slots)  # the farthest day
    one, two, *_ = await free_slots(first, CLINIC_4, "d4-therapist-1", day)
    requests = []
    for citizen, start in ((first, one), (second, two)):
        request = await citizen.submit("appointment", doctor_code="d4-therapist-1", slot_start=start)
        assert (await citizen.wait(request["id"]))["status"] == "completed"
        requests.append(request)
    body = {"doctor_code": "d4-therapist-1", "day": day.isoformat(), "reason": "больничный лист"}
    forbidden = await refused_with("FORBIDDEN_ROLE", doctor.call("POST", "/api/v1/staff/absences", json=body))
    assert forbidden.status == 403
    absence = await registrar.call("POST", "/api/v1/staff/absences", json=body)
    assert len(absence["cancelled"]) == 2
    for citizen, request in zip((first, second), requests, strict=True):
        cancelled = await in_portal(citizen, request["id"], "cancelled")
        assert "больничный лист" in cancelled["note"]
    assert await free_slots(first, CLINIC_4, "d4-therapist-1", day) == []  # the doctor's slots are gone
    journal = await registrar.journal("appointments", day=day.isoformat(), state="cancelled")
    assert {i["number"] for i in journal["items"]} >= set(absence["cancelled"])
