"""The three e-services end to end through the portal (regulation, diagram 1), over the real broker.

The mesh runs on a Tuesday at 16:30 in Astana (see conftest): Поликлиника № 1 closes at 20:00 (home
calls accepted until 18:00), Нура-Мед closes at 18:00 (cut-off passed), morning slots are in the past.
"""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import functools
import secrets
import time
import zoneinfo
from collections.abc import Awaitable, Callable
from typing import Any

import aio_pika
import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from services.signature.ca import DevCA
from shared.wire import cms
from shared.wire.certs import KeyPurpose
from shared.wire.clock import Clock
from shared.wire.gost import GostPublicKey
from shared.wire.ids import make_iin
from shared.wire.jws import sign_compact
from shared.wire.keys import public_key
from shared.wire.topology import arm_address, portal_changes_exchange, queue_name
from tests.conftest import AMQP_URL, NURA, People, free_port
from tests.e2e.citizens import PASSWORD, ApiFailure, Citizen
from tests.e2e.test_gateway import _queue_depth
from tests.helpers.metrics import metric_total
from tests.waiting import until
from tools.launcher import Mesh

CLINIC_1 = "980440012347"  # Поликлиника № 1: hours 08–20, attached: Сарыарка
CLINIC_4 = "030740045218"  # Поликлиника № 4: attached: Есиль
NO_CONTRACT = "151040031418"  # Алтын Дән: no ФСМС contract
ASTANA = zoneinfo.ZoneInfo("Asia/Almaty")
HOME_CALL = {"address": "г. Астана, улица Сейфуллина, 10, кв. 5", "phone": "+77011234567", "complaints": "температура"}


async def citizens(factory, people: People, pool: str, count: int = 1) -> list[Citizen]:  # type: ignore[no-untyped-def]
    return [await factory(p).enter() for p in people.take(pool, count)]


async def refused_with(failure_code: str, call) -> ApiFailure:  # type: ignore[no-untyped-def]
    with pytest.raises(ApiFailure) as info:
        await call
    assert info.value.code == failure_code, info.value.body
    return info.value


def tomorrow_slots(clock: Clock, hour: int = 8, count: int = 10, minutes: int = 20) -> list[dt.datetime]:
    """Wednesday morning slots of d1-therapist-1 (08:00–14:00, 20-minute slots, break 11:00–11:20)."""
    day = clock.now().astimezone(ASTANA).date() + dt.timedelta(days=1)
    first = dt.datetime.combine(day, dt.time(hour, 0), ASTANA)
    return [first + dt.timedelta(minutes=minutes * i) for i in range(count)]


async def signature_service_sees_revoked(mesh: Mesh, key, seconds: float = 30) -> None:  # type: ignore[no-untyped-def]
    """Wait until the signature service has re-read the CRL that revokes ``key``."""
    from shared.wire.jws import sign_compact

    jws = sign_compact(b"{}", key.key, key.chain)

    async def revoked() -> bool:
        async with httpx.AsyncClient(base_url=mesh.url("signature")) as http:
            return (await http.post("/api/v1/verify", json={"jws": jws})).json().get("code") == "CERT_REVOKED"

    await until(revoked, seconds, "the revocation at the signature service")


async def wait_for_queue_depth(queue: str, depth: int, seconds: float = 30) -> None:
    async def reached() -> bool:
        return await _queue_depth(None, queue) >= depth

    await until(reached, seconds, f"{depth} messages in {queue}")


# -- each service from registration to a verified, clinic-signed result --------------------------


async def test_home_call_from_registration_to_signed_result(citizen_factory, people: People, clock: Clock) -> None:
    (citizen,) = await citizens(citizen_factory, people, "attached_1")
    me = await citizen.call("GET", "/api/v1/me")
    assert me["attachment"]["clinic_bin"] == CLINIC_1
    request = await citizen.submit("home_call", temperature=39.2, **HOME_CALL)
    assert request["status"] == "submitted" and request["iin"] == citizen.iin
    submitted = dt.datetime.fromisoformat(request["submitted_at"])
    assert dt.datetime.fromisoformat(request["deadline"]) - submitted == dt.timedelta(minutes=30)
    final = await citizen.wait(request["id"])
    assert final["status"] == "completed", final
    assert [e["status"] for e in final["history"]] == ["submitted", "registered", "completed"]
    assert final["registration_number"].startswith(CLINIC_1[-4:]) and final["has_result"] is True
    assert request["has_result"] is False
    notice = await citizen.verified_result(request["id"], CLINIC_1)
    visit_from = dt.datetime.fromisoformat(notice["visit"]["from"]).astimezone(ASTANA)
    visit_to = dt.datetime.fromisoformat(notice["visit"]["to"]).astimezone(ASTANA)
    now = clock.now().astimezone(ASTANA)
    assert visit_from.date() == now.date()  # the visit is the same day
    assert visit_from >= now + dt.timedelta(minutes=59) and visit_to <= visit_from.replace(hour=20, minute=0)
    assert notice["registration_number"] == final["registration_number"] and notice["patient_iin"] == citizen.iin
    assert notice["doctor"]
    # table 1's times of the portal's own steps, measured and reported against their limits
    levels = {s["step"]: s for s in (await citizen.call("GET", "/api/v1/service-levels"))["steps"]}
    assert {k: levels[k]["limit_seconds"] for k in ("process_1", "process_3", "process_5", "process_8")} == {
        "process_1": 60,
        "process_3": 90,
        "process_5": 60,
        "process_8": 1800,
    }
    for step in ("process_1", "process_3", "process_5", "process_6", "process_8"):
        assert levels[step]["count"] >= 1 and 0 <= levels[step]["p50_ms"] <= levels[step]["max_ms"], levels[step]


async def test_a_nonce_counts_once_per_citizen_not_across_citizens(citizen_factory, people: People) -> None:
    """The nonce of a one-step request is the client's choice: another citizen's use of it does not make a
    request a duplicate — at the portal or at the clinic — while the same citizen's document counts once."""
    first, second = await citizens(citizen_factory, people, "attached_1", 2)
    nonce = f"chosen-{secrets.token_hex(6)}"
    theirs = first.signed_document("home_call", CLINIC_1, nonce=nonce, **HOME_CALL)
    assert (await first.wait((await first.submit_signed(theirs))["id"]))["status"] == "completed"
    mine = await second.submit_signed(second.signed_document("home_call", CLINIC_1, nonce=nonce, **HOME_CALL))
    assert (await second.wait(mine["id"]))["status"] == "completed"  # registered at the clinic too
    await refused_with("DUPLICATE_REQUEST", first.submit_signed(theirs))


async def test_a_home_call_signed_as_ncalayer_does_detached_cms_then_one_step_attached(
    citizen_factory, people: People, mesh: Mesh
) -> None:
    """NCALayer's format through the real mesh: the portal takes a detached CMS of the prepared document,
    the signature service, the gateway and the clinic check it, and a one-step CMS with the document inside
    goes the same way; the signature service's own endpoint judges the detached form with its document."""
    (citizen,) = await citizens(citizen_factory, people, "attached_1")
    prepared = await citizen.prepare("home_call", **HOME_CALL)
    request = await citizen.sign_cms(prepared)
    assert request["status"] == "submitted"
    assert (await citizen.wait(request["id"]))["status"] == "completed"
    one_step = await citizen.submit_signed(citizen.signed_document("home_call", CLINIC_1, as_cms=True, **HOME_CALL))
    assert one_step["status"] == "submitted"
    final = await citizen.wait(one_step["id"])
    # the same document twice: the clinic refuses a second home call while one is open, or completes it
    assert final["status"] in {"completed", "refused"}, final
    document = b'{"any":"document"}'
    detached = cms.sign(document, citizen.key.key, citizen.key.chain, signing_time=citizen.clock.now())
    async with httpx.AsyncClient(base_url=mesh.url("signature")) as http:
        body = {"cms": detached, "content": base64.b64encode(document).decode(), "expected_iin": citizen.iin}
        verdict = (await http.post("/api/v1/verify", json=body)).json()
        assert verdict["valid"] and verdict["signer"]["iin"] == citizen.iin, verdict
        body["content"] = base64.b64encode(document + b" ").decode()
        verdict = (await http.post("/api/v1/verify", json=body)).json()
        assert not verdict["valid"] and verdict["code"] == "SIGNATURE_INVALID"
        both = await http.post("/api/v1/verify", json={"cms": detached, "jws": "a.b.c"})
        assert both.status_code == 422 and both.json()["code"] == "VALIDATION_ERROR", both.text
    # a detached CMS of something else than the prepared document, or no CMS at all, is refused and changes nothing
    other = await citizen.prepare("home_call", **HOME_CALL)
    for junk in ("AAAA", "MIIB"):
        await refused_with(
            "SIGNATURE_INVALID",
            citizen.call("POST", f"/api/v1/requests/{other['draft_id']}/sign", json={"cms": junk}),
        )
    forged = cms.sign(b"{}", citizen.key.key, citizen.key.chain, signing_time=citizen.clock.now())
    failure = await refused_with(
        "SIGNATURE_INVALID",
        citizen.call("POST", f"/api/v1/requests/{other['draft_id']}/sign", json={"cms": forged}),
    )
    assert failure.status == 422, failure.body
    assert len(await citizen.call("GET", "/api/v1/requests")) == 2  # the two accepted above, nothing more


@pytest.mark.parametrize(("key_type", "key_class"), [("gost", GostPublicKey), ("rsa", rsa.RSAPublicKey)])
async def test_a_citizen_with_a_gost_or_rsa_key_registers_attaches_calls_a_doctor_and_books(
    citizen_factory, people: People, ca: DevCA, key_type: str, key_class: type
) -> None:
    """The whole citizen side with each of НУЦ's key families — GOST 34.10-2015 (Kazakh identifiers and byte
    order, from the development CA's GOST issuing CA) and RSA: registration by ЭЦП, an attachment signed as
    NCALayer's CMS, a home call and an appointment with its cancellation signed as JWS — each checked by the
    signature service, the gateway's recipients and the clinic, over the real broker."""
    (person,) = people.take("unattached")
    citizen = citizen_factory(person)
    citizen.key = ca.issue_person(person.iin, person.surname.upper(), person.name.upper(), key_type=key_type)
    assert isinstance(public_key(citizen.key.chain[0]), key_class)
    await citizen.enter()  # registered by the GOST key
    attachment = await citizen.sign_cms(await citizen.prepare("attachment", clinic=CLINIC_1))
    assert (await citizen.wait(attachment["id"]))["status"] == "completed"
    notice = await citizen.verified_result(attachment["id"], CLINIC_1)
    assert notice["patient_iin"] == citizen.iin
    home_call = await citizen.submit("home_call", **HOME_CALL)
    assert home_call["clinic_bin"] == CLINIC_1
    assert (await citizen.wait(home_call["id"]))["status"] == "completed"
    free = await citizen.call("GET", f"/api/v1/clinics/{CLINIC_1}/slots", params={"doctor_code": "d1-therapist-2"})
    slot = free[-1]["start"]  # the end of the window: the nearest ones are for other tests
    booking = await citizen.submit("appointment", doctor_code="d1-therapist-2", slot_start=slot)
    booked = await citizen.wait(booking["id"])
    assert booked["status"] == "completed", booked
    cancel = await citizen.submit("appointment_cancel", registration_number=booked["registration_number"])
    assert (await citizen.wait(cancel["id"]))["status"] == "completed"
    # a tampered signature is refused at condition 2 and changes nothing
    prepared = await citizen.prepare("home_call", **HOME_CALL)
    header, payload, signature = sign_compact(prepared["document"].encode(), *_key_and_chain(citizen)).split(".")
    forged = f"{header}.{payload}.{signature[:-4]}AAAA"
    await refused_with(
        "SIGNATURE_INVALID",
        citizen.call("POST", f"/api/v1/requests/{prepared['draft_id']}/sign", json={"jws": forged}),
    )


def _key_and_chain(citizen: Citizen) -> tuple[Any, Any]:
    return citizen.key.key, citizen.key.chain


async def test_appointment_and_cancellation(citizen_factory, people: People, clock: Clock) -> None:
    first, second = await citizens(citizen_factory, people, "attached_1", 2)
    slot = tomorrow_slots(clock, hour=12, count=1)[0]
    free = await first.call("GET", f"/api/v1/clinics/{CLINIC_1}/slots", params={"doctor_code": "d1-therapist-1"})
    assert slot.isoformat() in {s["start"] for s in free}
    request = await first.submit("appointment", doctor_code="d1-therapist-1", slot_start=slot.isoformat())
    final = await first.wait(request["id"])
    assert final["status"] == "completed", final
    submitted_at, due = (dt.datetime.fromisoformat(final[k]) for k in ("submitted_at", "deadline"))
    assert due - submitted_at == dt.timedelta(minutes=30)  # Приложение 2, table 1: 30 minutes of clinic time
    ticket = await first.verified_result(request["id"], CLINIC_1)
    assert ticket["document"] == "Справка о записи на приём к врачу"  # as the regulation names the result
    assert (ticket["room"], ticket["doctor"]["specialty"]) == ("204", "участковый терапевт")
    assert dt.datetime.fromisoformat(ticket["start"]) == slot
    taken = await first.call("GET", f"/api/v1/clinics/{CLINIC_1}/slots", params={"doctor_code": "d1-therapist-1"})
    assert slot.isoformat() not in {s["start"] for s in taken}
    await refused_with(
        "SLOT_TAKEN", second.prepare("appointment", doctor_code="d1-therapist-1", slot_start=slot.isoformat())
    )

    cancel = await first.submit("appointment_cancel", registration_number=final["registration_number"])
    cancelled_by = await first.wait(cancel["id"])
    assert cancelled_by["status"] == "completed"
    # The appointment itself now reads cancelled for the citizen, saying by which request.
    appointment = await first.wait(request["id"], until={"cancelled"})
    assert appointment["registration_number"] == final["registration_number"]
    assert cancelled_by["registration_number"] in appointment["note"]
    assert [e["status"] for e in appointment["history"]][-1] == "cancelled"
    again = await second.submit("appointment", doctor_code="d1-therapist-1", slot_start=slot.isoformat())
    assert (await second.wait(again["id"]))["status"] == "completed"  # the cancelled slot was freed


async def test_an_adult_cannot_book_the_paediatrician_whoever_builds_the_request(
    citizen_factory, people: People
) -> None:
    """The pages offer an adult no paediatrician; a client that asks anyway is refused at the hold (before
    signing) and a document signed anyway is refused by the clinic: DOCTOR_NOT_FOR_PATIENT."""
    (adult,) = await citizens(citizen_factory, people, "attached_1")
    free = await adult.call("GET", f"/api/v1/clinics/{CLINIC_1}/slots", params={"doctor_code": "d1-pediatrician"})
    start = free[-1]["start"]
    await refused_with(
        "DOCTOR_NOT_FOR_PATIENT", adult.prepare("appointment", doctor_code="d1-pediatrician", slot_start=start)
    )
    jws = adult.signed_document("appointment", CLINIC_1, doctor_code="d1-pediatrician", slot_start=start)
    refused = await adult.wait((await adult.submit_signed(jws))["id"])
    assert (refused["status"], refused["refusal"]["code"]) == ("refused", "DOCTOR_NOT_FOR_PATIENT")
    still_free = await adult.call("GET", f"/api/v1/clinics/{CLINIC_1}/slots", params={"doctor_code": "d1-pediatrician"})
    assert start in {s["start"] for s in still_free}  # nothing was booked


async def test_attachment_change_and_the_portal_then_routes_there(citizen_factory, people: People) -> None:
    (citizen,) = await citizens(citizen_factory, people, "unattached")
    await refused_with("NOT_ATTACHED", citizen.prepare("home_call", **HOME_CALL))
    request = await citizen.submit("attachment", clinic=CLINIC_4)
    final = await citizen.wait(request["id"])
    assert final["status"] == "completed", final
    notice = await citizen.verified_result(request["id"], CLINIC_4)
    assert notice["document"].startswith("Справка (талон) о прикреплении") and notice["previous_clinic_bin"] is None
    deadline = dt.datetime.fromisoformat(final["deadline"]).astimezone(ASTANA)
    assert deadline.date() > dt.datetime.fromisoformat(final["submitted_at"]).astimezone(ASTANA).date()
    home_call = await citizen.submit("home_call", **HOME_CALL)  # no clinic given: routed to the new clinic
    assert home_call["clinic_bin"] == CLINIC_4
    assert (await citizen.wait(home_call["id"]))["status"] == "completed"


async def test_voluntary_change_limit_but_residence_change_is_allowed(citizen_factory, people: People) -> None:
    (citizen,) = await citizens(citizen_factory, people, "attached_1")
    moved = await citizen.wait((await citizen.submit("attachment", clinic=CLINIC_4))["id"])
    assert moved["status"] == "completed"
    back = await citizen.wait((await citizen.submit("attachment", clinic=CLINIC_1))["id"])
    assert (back["status"], back["refusal"]["code"]) == ("refused", "CHANGE_LIMIT")
    assert back["refusal"]["message"]
    residence = await citizen.submit(
        "attachment", clinic=CLINIC_1, reason="residence_change", new_address="улица Сейфуллина, 3"
    )
    assert (await citizen.wait(residence["id"]))["status"] == "completed"
    again = await citizen.wait((await citizen.submit("attachment", clinic=CLINIC_1))["id"])
    assert again["refusal"]["code"] == "ALREADY_ATTACHED"


async def test_minor_is_attached_by_a_parent_but_not_by_a_stranger(citizen_factory, people: People) -> None:
    parent_person, child = people.family()
    parent = await citizen_factory(parent_person).enter()
    (stranger,) = await citizens(citizen_factory, people, "unattached")
    # the portal refuses before anything is prepared; a document signed anyway is refused by the clinic
    await refused_with("NOT_GUARDIAN", stranger.prepare("attachment", clinic=CLINIC_4, patient_iin=child.iin))
    jws = stranger.signed_document("attachment", CLINIC_4, patient_iin=child.iin)
    refused = await stranger.wait((await stranger.submit_signed(jws))["id"])
    assert refused["refusal"]["code"] == "NOT_GUARDIAN"
    request = await parent.submit("attachment", clinic=CLINIC_4, patient_iin=child.iin)
    final = await parent.wait(request["id"])
    assert final["status"] == "completed" and final["patient_iin"] == child.iin
    notice = await parent.verified_result(request["id"], CLINIC_4)
    assert (notice["patient_iin"], notice["iin"]) == (child.iin, parent.iin)


# -- refusals of diagram 1 ---------------------------------------------------------------------


async def test_registration_is_proven_by_the_persons_own_key(citizen_factory, people: People, ca: DevCA) -> None:
    """Registration as egov.kz does it: the portal's challenge signed with one's own key; the ИИН is the
    certificate's. The checks of the proof and of the password, each with its code, change nothing."""
    (person,) = people.take("unattached")
    citizen = citizen_factory(person)
    await refused_with("PASSWORD_POLICY", citizen.register(password="short"))
    await refused_with("PASSWORD_POLICY", citizen.register(password="qwerty123"))
    await refused_with("PASSWORD_POLICY", citizen.register(password=f"Aa-{person.iin}"))
    absent = make_iin(dt.date(1985, 3, 15), "M", 9876)
    await refused_with("PERSON_NOT_FOUND", citizen.register(ca.issue_person(absent, "ЖОҚ", "АДАМ")))
    auth_key = ca.issue_person(person.iin, person.surname.upper(), person.name.upper(), purpose=KeyPurpose.AUTH)
    challenge = await citizen.call("POST", "/api/v1/auth/challenge")
    jws = sign_compact(challenge["document"].encode(), auth_key.key, auth_key.chain)
    body = {"challenge": challenge["challenge"], "jws": jws, "password": PASSWORD}
    registered = await citizen.call("POST", "/api/v1/auth/register", json=body)  # an AUTH key proves too
    assert (registered["iin"], registered["created"]) == (person.iin, True)
    assert registered["surname"] == person.surname and registered["access_token"]
    # the same signed challenge again is a replay: refused, whatever password it carries
    await refused_with(
        "EXPIRED", citizen.call("POST", "/api/v1/auth/register", json={**body, "password": "X-" + PASSWORD})
    )
    # a signature of something else than the challenge, and a form that names an ИИН, prove nothing
    fresh = await citizen.call("POST", "/api/v1/auth/challenge")
    other = sign_compact(b'{"purpose":"emhana-registration"}', auth_key.key, auth_key.chain)
    await refused_with(
        "SIGNATURE_INVALID",
        citizen.call(
            "POST", "/api/v1/auth/register", json={"challenge": fresh["challenge"], "jws": other, "password": PASSWORD}
        ),
    )
    await refused_with(
        "VALIDATION_ERROR",
        citizen.call("POST", "/api/v1/auth/register", json={"iin": person.iin, "password": PASSWORD}),
    )
    # login with the password the proof set
    token = await citizen.call("POST", "/api/v1/auth/login", json={"iin": person.iin, "password": PASSWORD})
    assert token["access_token"]


async def test_a_stranger_cannot_register_for_someone_and_a_lost_password_is_set_again_by_ecp(
    citizen_factory, people: People, mesh: Mesh, ca: DevCA
) -> None:
    """The registration oracle is gone: a stranger without the owner's key learns nothing and blocks
    nothing. The owner who forgot their password proves themselves again and sets a new one; their old
    sessions end (this also frees an account squatted before proof was required)."""
    (person,) = people.take("attached_1")
    owner = citizen_factory(person)
    stranger = citizen_factory(person)  # the same ИИН, but a key the stranger made themselves
    outside = DevCA(mesh.var_dir / f"outside-ca-{person.iin}")
    forged = outside.issue_person(person.iin, person.surname.upper(), person.name.upper())
    failure = await refused_with("CERT_UNTRUSTED", stranger.register(forged))
    assert person.surname not in str(failure.body) and person.iin not in str(failure.body)  # nothing about them
    await owner.enter()  # not blocked: registers by their own key
    assert (await owner.call("GET", "/api/v1/me"))["iin"] == person.iin
    old_session = dict(owner.http.headers)
    again = await owner.register(password="Zhana-Qupiya-2026", as_cms=True)  # NCALayer's CMS proves as well
    assert again["created"] is False and again["iin"] == person.iin
    async with httpx.AsyncClient(base_url=mesh.url("portal"), headers=old_session) as http:
        assert (await http.get("/api/v1/me")).status_code == 401  # the old session ended
    await refused_with(
        "AUTH_FAILED", owner.call("POST", "/api/v1/auth/login", json={"iin": person.iin, "password": PASSWORD})
    )
    new = await owner.call("POST", "/api/v1/auth/login", json={"iin": person.iin, "password": "Zhana-Qupiya-2026"})
    assert new["access_token"]


async def test_registration_and_login_refusals(citizen_factory, people: People, mesh: Mesh) -> None:
    (person,) = people.take("unattached")
    citizen = citizen_factory(person)
    absent = make_iin(dt.date(1985, 3, 15), "M", 9876)
    await citizen.enter()
    # process 2: wrong password — and an unknown ИИН gets the same answer
    failure = await refused_with(
        "AUTH_FAILED",
        citizen.call("POST", "/api/v1/auth/login", json={"iin": person.iin, "password": "Wrong-pass-123"}),
    )
    assert failure.status == 401
    await refused_with(
        "AUTH_FAILED", citizen.call("POST", "/api/v1/auth/login", json={"iin": absent, "password": PASSWORD})
    )


async def test_login_throttling_lifts_by_itself_and_logout_revokes(citizen_factory, people: People) -> None:
    (citizen,) = await citizens(citizen_factory, people, "unattached")
    login = {"iin": citizen.iin, "password": "Wrong-pass-123"}
    for _ in range(5):
        await refused_with("AUTH_FAILED", citizen.call("POST", "/api/v1/auth/login", json=login))
    throttled = await refused_with(
        "TOO_MANY_ATTEMPTS", citizen.call("POST", "/api/v1/auth/login", json={**login, "password": PASSWORD})
    )
    assert throttled.status == 429
    # the log-in page says the way out that needs no password: proving oneself with ЭЦП
    page = await citizen.http.post("/login", data={**login, "next": "/"}, headers={"Accept": "text/html"})
    assert page.status_code == 429 and 'id="prove-instead"' in page.text and 'href="/login/key"' in page.text
    # The lock lifts by itself when the window ends (3 seconds in the test mesh): wait for a login to pass.
    await until(lambda: login_works(citizen), 30, "the lifting of the login lock")
    assert await citizen.enter()
    await citizen.call("GET", "/api/v1/requests")
    await citizen.call("POST", "/api/v1/auth/logout")
    await refused_with("UNAUTHORIZED", citizen.call("GET", "/api/v1/requests"))


async def test_a_person_locked_out_by_guesses_logs_in_with_their_own_key(citizen_factory, people: People) -> None:
    """Guessers can hold a password back (per pair, or the per-ИИН ceiling from many addresses), never the
    key: log-in by ЭЦП checks no password, and afterwards this client is trusted for the ИИН again."""
    (citizen,) = await citizens(citizen_factory, people, "unattached")
    await citizen.call("POST", "/api/v1/auth/logout")
    citizen.http.headers.pop("Authorization")
    guess = {"iin": citizen.iin, "password": "Wrong-pass-123"}
    for _ in range(5):
        await refused_with("AUTH_FAILED", citizen.call("POST", "/api/v1/auth/login", json=guess))
    right = {**guess, "password": PASSWORD}
    await refused_with("TOO_MANY_ATTEMPTS", citizen.call("POST", "/api/v1/auth/login", json=right))
    by_key = await citizen.log_in_with_key(as_cms=True)
    me = await citizen.call("GET", "/api/v1/me", headers={"Authorization": f"Bearer {by_key['access_token']}"})
    assert me["iin"] == citizen.iin
    assert (await citizen.call("POST", "/api/v1/auth/login", json=right))["access_token"]  # guesses forgiven
    # A key whose ИИН has no account: said only after the proof, and nothing is made.
    (stranger,) = people.take("unattached")
    newcomer = citizen_factory(stranger)
    await refused_with("NOT_REGISTERED", newcomer.log_in_with_key())
    await refused_with(
        "AUTH_FAILED", newcomer.call("POST", "/api/v1/auth/login", json={"iin": stranger.iin, "password": PASSWORD})
    )


async def test_a_burst_of_parallel_guesses_gets_no_more_than_the_allowed_number_checked(
    citizen_factory, people: People
) -> None:
    """60 parallel wrong guesses for one ИИН from one client: each is reserved before its password is
    checked, so at most 5 per 3-second window are ever evaluated; the rest get 429 with Retry-After."""
    (citizen,) = await citizens(citizen_factory, people, "unattached")
    bodies = [{"iin": citizen.iin, "password": f"Wrong-pass-{n:03d}"} for n in range(60)]
    async with httpx.AsyncClient(base_url=citizen.mesh.url("portal"), timeout=60) as http:
        started = time.monotonic()
        responses = await asyncio.gather(*(http.post("/api/v1/auth/login", json=b) for b in bodies))
        elapsed = time.monotonic() - started
    statuses = [r.status_code for r in responses]
    assert set(statuses) <= {401, 429}, statuses
    windows = int(elapsed // 3) + 1  # the test mesh counts attempts over 3-second windows
    assert 0 < statuses.count(401) <= 5 * windows, (statuses, elapsed)
    assert all(r.headers.get("retry-after") for r in responses if r.status_code == 429)
    # The lock lifts by itself when the window ends (and other tests, all on 127.0.0.1, may log in again).
    await until(lambda: login_works(citizen), 30, "the lifting of the login lock")


async def login_works(citizen: Citizen) -> bool:
    async with httpx.AsyncClient(base_url=citizen.mesh.url("portal"), timeout=60) as http:
        response = await http.post("/api/v1/auth/login", json={"iin": citizen.iin, "password": PASSWORD})
    return response.status_code == 200


@pytest.mark.parametrize("fault", ["revoked", "expired", "someone_else", "auth_key", "tampered", "other_content"])
async def test_signature_refusals_at_condition_2(
    citizen_factory, people: People, ca: DevCA, clock: Clock, fault: str
) -> None:
    (citizen,) = await citizens(citizen_factory, people, "attached_1")
    prepared = await citizen.prepare("home_call", **HOME_CALL)
    now = clock.now()
    key, content, code = (
        None,
        None,
        {
            "revoked": "CERT_REVOKED",
            "expired": "CERT_EXPIRED",
            "someone_else": "IIN_MISMATCH",
            "auth_key": "CERT_WRONG_USAGE",
            "tampered": "SIGNATURE_INVALID",
            "other_content": "SIGNATURE_INVALID",
        }[fault],
    )
    if fault == "revoked":
        key = ca.issue_person(citizen.iin, "A", "B")
        ca.revoke(key.certificate.serial_number)
        await signature_service_sees_revoked(citizen.mesh, key)
    elif fault == "expired":
        key = ca.issue_person(
            citizen.iin, "A", "B", not_before=now - dt.timedelta(days=400), not_after=now - dt.timedelta(days=1)
        )
    elif fault == "someone_else":
        key = ca.issue_person(people.take("attached_1")[0].iin, "C", "D")
    elif fault == "auth_key":
        key = ca.issue_person(citizen.iin, "A", "B", purpose=KeyPurpose.AUTH)
    elif fault == "other_content":
        content = prepared["document"].replace("температура", "кашель").encode()
    if fault == "tampered":
        from shared.wire.jws import sign_compact

        header, payload, signature = sign_compact(
            prepared["document"].encode(), citizen.key.key, citizen.key.chain
        ).split(".")
        forged = f"{header}.{payload}.{signature[:-6]}AAAAAA"
        with pytest.raises(ApiFailure) as info:
            await citizen.call("POST", f"/api/v1/requests/{prepared['draft_id']}/sign", json={"jws": forged})
        assert info.value.code == code
    else:
        await refused_with(code, citizen.sign(prepared, key=key, content=content))
    assert await citizen.call("GET", "/api/v1/requests") == []  # process 4: nothing was stored or sent


async def test_not_attached_is_refused_by_the_clinic(citizen_factory, people: People, clock: Clock) -> None:
    (citizen,) = await citizens(citizen_factory, people, "attached_4")
    home_call = await citizen.wait((await citizen.submit("home_call", clinic=CLINIC_1, **HOME_CALL))["id"])
    assert (home_call["status"], home_call["refusal"]["code"]) == ("refused", "NOT_ATTACHED")
    assert home_call["registration_number"]  # registered (process 6), then refused (process 7)
    slot = tomorrow_slots(clock, hour=13, count=1)[0]
    jws = citizen.signed_document("appointment", CLINIC_1, doctor_code="d1-therapist-1", slot_start=slot.isoformat())
    booking = await citizen.wait((await citizen.submit_signed(jws))["id"])
    assert booking["refusal"]["code"] == "NOT_ATTACHED"


async def test_after_cutoff_and_slot_in_past(
    citizen_factory, people: People, clock: Clock, nura_patient: Citizen
) -> None:
    citizen = nura_patient
    call = await citizen.wait((await citizen.submit("home_call", **HOME_CALL))["id"])
    assert (call["status"], call["refusal"]["code"]) == ("refused", "AFTER_CUTOFF")
    (patient,) = await citizens(citizen_factory, people, "attached_1")
    this_morning = clock.now().astimezone(ASTANA).replace(hour=9, minute=0, second=0, microsecond=0)
    await refused_with(
        "SLOT_IN_PAST",
        patient.prepare("appointment", doctor_code="d1-therapist-1", slot_start=this_morning.isoformat()),
    )
    jws = patient.signed_document(
        "appointment", CLINIC_1, doctor_code="d1-therapist-1", slot_start=this_morning.isoformat()
    )
    signed_way = await patient.wait((await patient.submit_signed(jws))["id"])
    assert signed_way["refusal"]["code"] == "SLOT_IN_PAST"


async def test_clinic_without_contract_or_full(citizen_factory, people: People, nura_patient: Citizen) -> None:
    (citizen,) = await citizens(citizen_factory, people, "unattached")
    no_contract = await citizen.wait((await citizen.submit("attachment", clinic=NO_CONTRACT))["id"])
    assert no_contract["refusal"]["code"] == "NO_CONTRACT"
    codes = []
    for person in await citizens(citizen_factory, people, "unattached", 3):  # Нура-Мед has room for 2
        codes.append((await person.wait((await person.submit("attachment", clinic=NURA))["id"]))["status"])
    assert "refused" in codes
    last = await person.call("GET", f"/api/v1/requests/{(await person.call('GET', '/api/v1/requests'))[0]['id']}")
    assert last["refusal"]["code"] == "NO_CAPACITY"
    clinics = {c["bin"]: c for c in await citizen.call("GET", "/api/v1/clinics")}
    assert clinics[NURA]["accepting"] is False and clinics[NO_CONTRACT]["accepting"] is False


# -- concurrency, privacy, outages -------------------------------------------------------------


async def test_fifty_citizens_ten_slots(citizen_factory, people: People, clock: Clock) -> None:
    crowd = await citizens(citizen_factory, people, "attached_1", 50)
    tomorrow = clock.now().astimezone(ASTANA).date() + dt.timedelta(days=1)
    free = await crowd[0].call("GET", f"/api/v1/clinics/{CLINIC_1}/slots", params={"doctor_code": "d1-therapist-1"})
    slots = [
        start
        for start in (dt.datetime.fromisoformat(s["start"]) for s in free)
        if start.astimezone(ASTANA).date() == tomorrow
    ][:10]
    assert len(slots) == 10
    documents = [
        c.signed_document("appointment", CLINIC_1, doctor_code="d1-therapist-1", slot_start=slots[i % 10].isoformat())
        for i, c in enumerate(crowd)
    ]
    submitted = await asyncio.gather(*(c.submit_signed(d) for c, d in zip(crowd, documents, strict=True)))
    finals = await asyncio.gather(*(c.wait(r["id"], seconds=60) for c, r in zip(crowd, submitted, strict=True)))
    completed = [(c, f) for c, f in zip(crowd, finals, strict=True) if f["status"] == "completed"]
    refused = [f for f in finals if f["status"] == "refused"]
    assert len(completed) == 10 and len(refused) == 40, [f["status"] for f in finals]
    assert {f["refusal"]["code"] for f in refused} == {"SLOT_TAKEN"}
    starts = [dt.datetime.fromisoformat((await c.verified_result(f["id"], CLINIC_1))["start"]) for c, f in completed]
    assert sorted(starts) == sorted(slots)  # every slot booked exactly once


async def test_a_citizen_sees_only_their_own_requests(citizen_factory, people: People) -> None:
    alice, bob = await citizens(citizen_factory, people, "attached_1", 2)
    request = await alice.submit("home_call", **HOME_CALL)
    await alice.wait(request["id"])
    assert [r["id"] for r in await bob.call("GET", "/api/v1/requests")] == []
    for path in (f"/api/v1/requests/{request['id']}", f"/api/v1/requests/{request['id']}/result"):
        await refused_with("NOT_FOUND", bob.call("GET", path))
    await refused_with("NOT_FOUND", bob.call("POST", f"/api/v1/requests/{request['id']}/retry"))
    async with httpx.AsyncClient(base_url=alice.mesh.url("portal")) as anonymous:
        assert (await anonymous.get("/api/v1/requests")).status_code == 401


async def test_request_sent_while_the_clinic_is_down_is_answered_once_back(
    citizen_factory, people: People, mesh: Mesh
) -> None:
    (citizen,) = await citizens(citizen_factory, people, "attached_1")
    assert (await citizen.call("GET", "/api/v1/me"))["attachment"]["clinic_bin"] == CLINIC_1
    mesh.stop_service("arm")
    try:
        request = await citizen.submit("home_call", **HOME_CALL)
        await wait_for_queue_depth(queue_name(mesh.namespace, arm_address(CLINIC_1)), 1)  # waits for the АРМ
        assert (await citizen.call("GET", f"/api/v1/requests/{request['id']}"))["status"] == "submitted"
        survey = {"process_and_result": 3, "information": 3}  # the questionnaire waits for the outcome
        await refused_with(
            "NOT_FINISHED", citizen.call("POST", f"/api/v1/requests/{request['id']}/survey", json=survey)
        )
        assert await _queue_depth(None, queue_name(mesh.namespace, arm_address(CLINIC_1))) == 1
        assert (await citizen.call("GET", f"/api/v1/requests/{request['id']}"))["status"] == "submitted"
    finally:
        mesh.start_service("arm")
        mesh.wait_ready(["arm"])
    final = await citizen.wait(request["id"], seconds=60)
    assert final["status"] == "completed"
    assert [e["status"] for e in final["history"]] == ["submitted", "registered", "completed"]


async def test_catalogue_gives_form_schemas_with_formats(mesh: Mesh) -> None:
    async with httpx.AsyncClient(base_url=mesh.url("portal")) as http:
        catalogue = {s["code"]: s for s in (await http.get("/api/v1/services")).json()}
    assert set(catalogue) == {"home_call", "appointment", "appointment_cancel", "attachment"}
    home_call = catalogue["home_call"]["form_schema"]
    assert home_call["properties"]["phone"]["pattern"] == r"^\+7\d{10}$"
    assert set(home_call["required"]) == {"address", "phone", "complaints"}
    assert catalogue["attachment"]["deadline"] == "1 рабочий день"
    assert {s["contact_centre"] for s in catalogue.values()} == {"1414"}  # п. 10 of each regulation


async def test_bad_forms_are_refused_before_anything_is_signed(citizen_factory, people: People) -> None:
    (citizen,) = await citizens(citizen_factory, people, "attached_1")
    bad = await refused_with("VALIDATION_ERROR", citizen.prepare("home_call", address="x", phone="8701", complaints=""))
    assert "phone" in bad.body["message"]
    await refused_with(
        "VALIDATION_ERROR", citizen.call("POST", "/api/v1/requests/prepare", json={"service": "teleport"})
    )
    await refused_with(
        "VALIDATION_ERROR", citizen.call("POST", "/api/v1/requests/not-a-draft/sign", json={"jws": "a.b.c"})
    )
    unknown = "00000000-0000-4000-8000-000000000000"
    await refused_with("NOT_FOUND", citizen.call("POST", f"/api/v1/requests/{unknown}/sign", json={"jws": "a.b.c"}))


async def test_one_booking_per_patient_per_doctor_per_day_and_documents_count_once(
    citizen_factory, people: People, clock: Clock
) -> None:
    (citizen,) = await citizens(citizen_factory, people, "attached_1")
    tomorrow = clock.now().astimezone(ASTANA).date() + dt.timedelta(days=1)
    free = await citizen.call("GET", f"/api/v1/clinics/{CLINIC_1}/slots", params={"doctor_code": "d1-therapist-2"})
    first, second = [s["start"] for s in free if dt.datetime.fromisoformat(s["start"]).date() == tomorrow][:2]
    jws = citizen.signed_document("appointment", CLINIC_1, doctor_code="d1-therapist-2", slot_start=first)
    booked = await citizen.wait((await citizen.submit_signed(jws))["id"])
    assert booked["status"] == "completed"
    duplicate = await refused_with("DUPLICATE_REQUEST", citizen.submit_signed(jws))  # the same signed document
    assert duplicate.status == 409
    # Said at "отправить запрос", before anything is signed…
    early = await refused_with(
        "ONE_BOOKING_PER_DAY", citizen.prepare("appointment", doctor_code="d1-therapist-2", slot_start=second)
    )
    assert early.status == 409 and early.body["message"]
    # …and by the clinic for a document signed without the portal's help.
    jws = citizen.signed_document("appointment", CLINIC_1, doctor_code="d1-therapist-2", slot_start=second)
    same_day = await citizen.wait((await citizen.submit_signed(jws))["id"])
    assert (same_day["status"], same_day["refusal"]["code"]) == ("refused", "ONE_BOOKING_PER_DAY")
    other_doctor = [
        s["start"]
        for s in await citizen.call(
            "GET", f"/api/v1/clinics/{CLINIC_1}/slots", params={"doctor_code": "d1-therapist-1"}
        )
        if dt.datetime.fromisoformat(s["start"]).date() == tomorrow
    ][-1]
    another = await citizen.wait(
        (await citizen.submit("appointment", doctor_code="d1-therapist-1", slot_start=other_doctor))["id"]
    )
    assert another["status"] == "completed"  # another doctor the same day is fine
    newest_first = [r["id"] for r in await citizen.call("GET", "/api/v1/requests")]
    assert newest_first[0] == another["id"] and len(newest_first) == 3
    pages = [await citizen.call("GET", "/api/v1/requests", params={"limit": 2, "offset": o}) for o in (0, 2)]
    assert [r["id"] for page in pages for r in page] == newest_first and len(pages[0]) == 2


async def test_acting_for_another_person_needs_to_be_their_guardian(citizen_factory, people: People) -> None:
    alice, bob = await citizens(citizen_factory, people, "attached_1", 2)
    # Nothing about Bob is revealed to Alice: not his clinic (no provider is chosen), not whether he exists.
    refused = await refused_with("NOT_GUARDIAN", alice.prepare("home_call", patient_iin=bob.iin, **HOME_CALL))
    assert CLINIC_1 not in str(refused.body)
    absent = make_iin(dt.date(1985, 3, 15), "M", 9876)  # nobody in ГБД ФЛ
    await refused_with("NOT_GUARDIAN", alice.prepare("home_call", patient_iin=absent, **HOME_CALL))
    bad_checksum = bob.iin[:-1] + str((int(bob.iin[-1]) + 1) % 10)
    await refused_with("IIN_INVALID", alice.prepare("home_call", patient_iin=bad_checksum, **HOME_CALL))
    jws = alice.signed_document("home_call", CLINIC_1, patient_iin=bob.iin, **HOME_CALL)
    for_adult = await alice.wait((await alice.submit_signed(jws))["id"])
    assert (for_adult["status"], for_adult["refusal"]["code"]) == ("refused", "NOT_GUARDIAN")
    parent_person, child = people.family()
    parent = await citizen_factory(parent_person).enter()
    attached = await parent.wait((await parent.submit("attachment", clinic=CLINIC_4, patient_iin=child.iin))["id"])
    assert attached["status"] == "completed", attached
    child_call = await parent.wait((await parent.submit("home_call", patient_iin=child.iin, **HOME_CALL))["id"])
    assert child_call["status"] == "completed" and child_call["clinic_bin"] == CLINIC_4, child_call
    notice = await parent.verified_result(child_call["id"], CLINIC_4)
    assert notice["patient_iin"] == child.iin and notice["iin"] == parent.iin


async def test_quality_questionnaire_after_the_outcome(citizen_factory, people: People, mesh: Mesh) -> None:
    alice, bob = await citizens(citizen_factory, people, "attached_1", 2)
    async with httpx.AsyncClient(base_url=mesh.url("portal")) as http:
        before = (await http.get("/api/v1/services/home_call/indicators")).json()
    request = await alice.submit("home_call", **HOME_CALL)
    answers = {"process_and_result": 3, "information": 2}
    await alice.wait(request["id"])
    await refused_with("NOT_FOUND", bob.call("POST", f"/api/v1/requests/{request['id']}/survey", json=answers))
    await refused_with(
        "VALIDATION_ERROR",
        alice.call(
            "POST", f"/api/v1/requests/{request['id']}/survey", json={"process_and_result": 4, "information": 0}
        ),
    )
    await alice.call("POST", f"/api/v1/requests/{request['id']}/survey", json=answers)
    await refused_with("SURVEY_ANSWERED", alice.call("POST", f"/api/v1/requests/{request['id']}/survey", json=answers))
    async with httpx.AsyncClient(base_url=mesh.url("portal")) as http:
        after = (await http.get("/api/v1/services/home_call/indicators")).json()
    assert after["answers"] == before["answers"] + 1
    assert after["process_and_result"]["3"] == before["process_and_result"]["3"] + 1
    assert after["information"]["2"] == before["information"]["2"] + 1


async def test_a_deceased_person_an_unknown_slot_and_an_unknown_booking_are_refused_with_their_codes(
    citizen_factory, demo, people: People, clock: Clock
) -> None:
    assert demo.deceased is not None
    ghost = citizen_factory(demo.deceased)
    await refused_with("PERSON_DECEASED", ghost.register())
    (citizen,) = await citizens(citizen_factory, people, "attached_1")
    off_grid = tomorrow_slots(clock, hour=9, count=1)[0] + dt.timedelta(minutes=7)  # slots are 20 minutes
    await refused_with(
        "NO_SUCH_SLOT", citizen.prepare("appointment", doctor_code="d1-therapist-1", slot_start=off_grid.isoformat())
    )
    await refused_with(
        "NO_SUCH_SLOT", citizen.prepare("appointment", doctor_code="d4-gp", slot_start=off_grid.isoformat())
    )  # a doctor of another clinic
    unknown = await refused_with(
        "NO_SUCH_BOOKING", citizen.prepare("appointment_cancel", registration_number="2347-2026-999999")
    )
    assert unknown.status == 404
    assert await citizen.call("GET", "/api/v1/requests") == []  # nothing was filed


async def test_a_request_that_failed_technically_completes_on_retry(
    citizen_factory, people: People, mesh: Mesh
) -> None:
    """ГБД ФЛ down while the clinic processes a request: after its retries the АРМ answers TIMEOUT, the
    request is `failed` (nothing registered) with a retry, and the retry completes once ГБД ФЛ is back."""
    (citizen,) = await citizens(citizen_factory, people, "attached_1")
    assert (await citizen.call("GET", "/api/v1/me"))["attachment"]["clinic_bin"] == CLINIC_1
    mesh.stop_service("gbd_fl")
    try:
        request = await citizen.submit("home_call", **HOME_CALL)
        failed = await citizen.wait(request["id"], seconds=120)
    finally:
        mesh.start_service("gbd_fl")
        mesh.wait_ready(["gbd_fl"])
    assert (failed["status"], failed["refusal"]["code"], failed["registration_number"]) == ("failed", "TIMEOUT", None)
    retried = await citizen.call("POST", f"/api/v1/requests/{request['id']}/retry")
    assert retried["status"] == "submitted" and retried["correlation_id"] != failed["correlation_id"]
    final = await citizen.wait(request["id"], seconds=120)
    assert final["status"] == "completed" and final["registration_number"], final
    await refused_with("NOT_FAILED", citizen.call("POST", f"/api/v1/requests/{request['id']}/retry"))


@pytest.mark.parametrize("service", ["appointment", "attachment"])
async def test_condition_2_holds_for_every_service(
    citizen_factory, people: People, ca: DevCA, clock: Clock, service: str
) -> None:
    """A key of someone else, or a revoked one, is refused whatever the service; nothing is stored."""
    (citizen,) = await citizens(citizen_factory, people, "attached_1" if service == "appointment" else "unattached")
    if service == "appointment":
        start = await free_slot_tomorrow(citizen, "d1-therapist-2")
        prepared = await citizen.prepare("appointment", doctor_code="d1-therapist-2", slot_start=start)
    else:
        prepared = await citizen.prepare("attachment", clinic=CLINIC_4)
    someone_else = ca.issue_person(people.take("unattached")[0].iin, "C", "D")
    await refused_with("IIN_MISMATCH", citizen.sign(prepared, key=someone_else))
    revoked = ca.issue_person(citizen.iin, "A", "B")
    ca.revoke(revoked.certificate.serial_number)
    await signature_service_sees_revoked(citizen.mesh, revoked)
    await refused_with("CERT_REVOKED", citizen.sign(prepared, key=revoked))
    assert await citizen.call("GET", "/api/v1/requests") == []


async def free_slot_tomorrow(citizen: Citizen, doctor: str) -> str:
    tomorrow = citizen.clock.now().astimezone(ASTANA).date() + dt.timedelta(days=1)
    slots = await citizen.call("GET", f"/api/v1/clinics/{CLINIC_1}/slots", params={"doctor_code": doctor})
    return [s["start"] for s in slots if dt.datetime.fromisoformat(s["start"]).astimezone(ASTANA).date() == tomorrow][
        -1
    ]


async def test_after_the_cutoff_the_next_day_policy_plans_the_visit_for_the_next_working_day(
    mesh: Mesh, clock: Clock, nura_patient: Citizen
) -> None:
    """With EMHANA_ARM_AFTER_CUTOFF=next_day a late call is accepted for the next working day's first
    window instead of refused (Нура-Мед closes at 18:00: the cut-off, 16:00, has passed at 16:30)."""
    mesh.env["EMHANA_ARM_AFTER_CUTOFF"] = "next_day"
    mesh.stop_service("arm")
    mesh.start_service("arm")
    mesh.wait_ready(["arm"], timeout=90)
    try:
        call = await nura_patient.wait((await nura_patient.submit("home_call", **HOME_CALL))["id"])
        assert call["status"] == "completed", call
        notice = await nura_patient.verified_result(call["id"], NURA)
        visit = dt.datetime.fromisoformat(notice["visit"]["from"]).astimezone(ASTANA)
        today = clock.now().astimezone(ASTANA).date()
        assert visit.date() > today and visit.time() == dt.time(9, 0), notice["visit"]  # Нура-Мед opens at 9
    finally:
        del mesh.env["EMHANA_ARM_AFTER_CUTOFF"]
        mesh.stop_service("arm")
        mesh.start_service("arm")
        mesh.wait_ready(["arm"], timeout=90)


async def test_status_long_poll_answers_with_the_next_status(citizen_factory, people: People) -> None:
    (citizen,) = await citizens(citizen_factory, people, "attached_1")
    request = await citizen.submit("home_call", **HOME_CALL)
    moved = await citizen.call("GET", f"/api/v1/requests/{request['id']}", params={"wait": 30, "seen": "submitted"})
    assert moved["status"] in {"registered", "completed"}, moved  # the answer carries the status that followed
    final = await citizen.wait(request["id"])
    again = await citizen.call("GET", f"/api/v1/requests/{request['id']}", params={"wait": 30})
    assert again["status"] == final["status"] == "completed"  # a final status is answered at once
    too_long = citizen.call("GET", f"/api/v1/requests/{request['id']}", params={"wait": 31})
    await refused_with("VALIDATION_ERROR", too_long)


async def listen(connection: aio_pika.abc.AbstractRobustConnection, exchange: str) -> list[bytes]:
    """The bodies broadcast on a fanout exchange from now on, while ``connection`` is open."""
    heard: list[bytes] = []
    channel = await connection.channel()
    fanout = await channel.declare_exchange(exchange, aio_pika.ExchangeType.FANOUT, durable=True)
    queue = await channel.declare_queue(exclusive=True)
    await queue.bind(fanout)

    async def hear(message: aio_pika.abc.AbstractIncomingMessage) -> None:
        heard.append(message.body)

    await queue.consume(hear, no_ack=True)
    return heard


async def moved_on(get: Callable[[dict[str, Any]], Awaitable[dict[str, Any]]]) -> dict[str, Any]:
    """Long-poll until the status moves on from "submitted". A poll that ends with nothing moved is made
    again (the clinic may be slow to start); one that ends while the status had moved was not woken."""
    for _ in range(4):
        answer = await get({"wait": 30, "seen": "submitted"})
        if answer["status"] != "submitted":
            return answer
        assert (await get({}))["status"] == "submitted", "the status moved on and the long-poll was not woken"
    raise AssertionError("the status never moved on")


async def test_a_status_wakes_the_long_polls_on_every_portal_replica(
    citizen_factory, people: People, mesh: Mesh
) -> None:
    """A clinic's status is applied by whichever portal replica consumed it, and a citizen's long-poll may
    wait on any replica: the replica that applied it wakes its own waiters and broadcasts the request's id
    (and nothing else) to the others, which wake theirs. The periodic re-read is set beyond the polls' wait,
    so a poll answers with the new status only when it was woken."""
    mesh.env["EMHANA_PORTAL_LONG_POLL_REREAD_SECONDS"] = "120"
    mesh.stop_service("portal")
    mesh.start_service("portal")
    second = mesh.start_replica("portal", free_port())
    listener = await aio_pika.connect_robust(AMQP_URL)
    try:
        heard = await listen(listener, portal_changes_exchange(mesh.namespace))
        await asyncio.to_thread(mesh.wait_ready, ["portal", second], 120)
        (citizen,) = await citizens(citizen_factory, people, "attached_1")
        prepared = await citizen.prepare("home_call", **HOME_CALL)
        mesh.stop_service("arm")  # the request waits in the clinic's queue until both polls are waiting
        other = httpx.AsyncClient(base_url=mesh.url(second), headers=citizen.http.headers, timeout=60)
        try:
            request = await citizen.sign(prepared)
            path = f"/api/v1/requests/{request['id']}"

            async def on_main(params: dict[str, Any]) -> dict[str, Any]:
                return await citizen.call("GET", path, params=params)

            async def on_second(params: dict[str, Any]) -> dict[str, Any]:
                response = await other.get(path, params=params)
                assert response.status_code == 200, response.text
                return response.json()

            polls = [asyncio.create_task(moved_on(get)) for get in (on_main, on_second)]
            for process in ("portal", second):
                waiting = functools.partial(metric_total, mesh, process, "emhana_portal_long_polls")
                await until(waiting, 30, f"a long-poll on {process}")
        finally:
            mesh.start_service("arm")
        try:
            statuses = [answer["status"] for answer in await asyncio.gather(*polls)]
        finally:
            await other.aclose()
        assert all(status in {"registered", "completed"} for status in statuses), statuses

        async def broadcast() -> bool:
            return request["id"].encode() in heard

        await until(broadcast, 30, "the change broadcast to the other replicas")
        await asyncio.to_thread(mesh.wait_ready, ["arm"], 120)
    finally:
        await listener.close()
        mesh.stop_service(second)
        del mesh.env["EMHANA_PORTAL_LONG_POLL_REREAD_SECONDS"]
        mesh.stop_service("portal")
        mesh.start_service("portal")
        await asyncio.to_thread(mesh.wait_ready, ["portal", "arm"], 120)
