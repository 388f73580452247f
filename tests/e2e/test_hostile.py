"""The hostile picture an outside review drew, kept as a test module: an attacker with their own portal
account and their own qualified key, and an attacker on the bus holding a service's key, try what the
review tried — tampering, algorithm confusion, a swapped ``x5c`` chain, someone else's key, replay of a
signed document, reading someone else's request, injection of forged clinic statuses straight into the
portal's queue and through the gateway. Each attack must be refused with a typed code and change nothing
the victim can see. (Kill -9 of each service under load, with counts of accepted / completed / lost /
duplicated, is ``test_zy_faults``; a broker restart is ``test_zz_broker_restart``.)
"""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import hashlib
import hmac
import json
import uuid

import httpx
import pytest
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from shared.messaging.bus import Bus
from shared.wire.canonical import canonical_json
from shared.wire.certs import TrustStore
from shared.wire.clock import Clock
from shared.wire.contracts import ESERVICE_STATUS
from shared.wire.envelope import peek, seal
from shared.wire.jws import b64url_encode, sign_compact
from shared.wire.stamp import STAMP_HEADER, make_stamp
from shared.wire.topology import arm_address, dead_letter_queue, queue_name
from tests.conftest import People, identity
from tests.e2e.citizens import PASSWORD, ApiFailure, Citizen
from tests.e2e.test_eservices import CLINIC_1, HOME_CALL, citizens
from tests.e2e.test_gateway import _queue_depth, send_raw
from tests.waiting import until
from tools.launcher import Mesh


async def refused(call) -> ApiFailure:  # type: ignore[no-untyped-def]
    with pytest.raises(ApiFailure) as info:
        await call
    assert 400 <= info.value.status < 500, info.value.body
    assert info.value.body.get("code") and info.value.body.get("message"), info.value.body
    return info.value


async def request_ids(citizen: Citizen) -> set[str]:
    return {r["id"] for r in await citizen.call("GET", "/api/v1/requests")}


def replace_payload(jws: str, payload: bytes) -> str:
    header, _, signature = jws.split(".")
    return f"{header}.{b64url_encode(payload)}.{signature}"


def decoded_header(jws: str) -> dict:
    return json.loads(base64.urlsafe_b64decode(jws.split(".")[0] + "=="))


def with_header(jws: str, header: dict) -> str:
    _, payload, signature = jws.split(".")
    return f"{b64url_encode(json.dumps(header).encode())}.{payload}.{signature}"


@pytest.fixture
async def victim_and_attacker(citizen_factory, people: People) -> tuple[Citizen, Citizen]:  # type: ignore[no-untyped-def]
    victim, attacker = await citizens(citizen_factory, people, "attached_1", 2)
    return victim, attacker


async def test_altered_documents_are_refused_and_change_nothing(victim_and_attacker) -> None:  # type: ignore[no-untyped-def]
    victim, _ = victim_and_attacker
    genuine = victim.signed_document("home_call", CLINIC_1, **HOME_CALL)
    document = json.loads(base64.urlsafe_b64decode(genuine.split(".")[1] + "=="))
    moved = canonical_json({**document, "fields": {**document["fields"], "address": "г. Астана, ул. Чужая, 1"}})
    raw_signature = bytearray(base64.urlsafe_b64decode(genuine.split(".")[2] + "=="))
    raw_signature[7] ^= 0x01
    header, payload, _ = genuine.split(".")
    for forged in (
        replace_payload(genuine, moved),  # the content changed under the signature
        with_header(genuine, {**decoded_header(genuine), "kid": "other"}),  # the protected header changed
        f"{header}.{payload}.{b64url_encode(bytes(raw_signature))}",  # one bit of the signature flipped
        genuine[:-4],  # truncated
    ):
        failure = await refused(victim.submit_signed(forged))
        assert failure.code in {"SIGNATURE_INVALID", "MALFORMED"}, failure.body
    # the prepared-then-signed path: a signature over anything but the prepared document is refused
    prepared = await victim.prepare("home_call", **HOME_CALL)
    failure = await refused(victim.sign(prepared, content=prepared["document"].replace("Сейфуллина", "Абая").encode()))
    assert failure.code == "SIGNATURE_INVALID"
    assert await request_ids(victim) == set()


async def test_algorithm_confusion_is_refused(victim_and_attacker) -> None:  # type: ignore[no-untyped-def]
    victim, _ = victim_and_attacker
    genuine = victim.signed_document("home_call", CLINIC_1, **HOME_CALL)
    header = decoded_header(genuine)
    _, payload, _ = genuine.split(".")
    # HS256 keyed with the signer's public key (the classic RS/HS confusion), and "none"
    public_pem = victim.key.certificate.public_key().public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo)
    for alg in ("HS256", "none", "RS512", "ES256K"):
        new_header = b64url_encode(json.dumps({**header, "alg": alg}).encode())
        mac = hmac.new(public_pem, f"{new_header}.{payload}".encode(), hashlib.sha256).digest()
        signature = "" if alg == "none" else b64url_encode(mac)
        failure = await refused(victim.submit_signed(f"{new_header}.{payload}.{signature}"))
        assert failure.code in {"SIGNATURE_INVALID", "MALFORMED"}, (alg, failure.body)
    assert await request_ids(victim) == set()


async def test_a_swapped_chain_or_someone_elses_key_is_refused(victim_and_attacker) -> None:  # type: ignore[no-untyped-def]
    victim, attacker = victim_and_attacker
    document = json.loads(
        base64.urlsafe_b64decode(victim.signed_document("home_call", CLINIC_1, **HOME_CALL).split(".")[1] + "==")
    )
    content = canonical_json({**document, "nonce": uuid.uuid4().hex})
    # the attacker's signature presented under the victim's certificate chain (x5c swap)
    by_attacker = sign_compact(content, attacker.key.key, attacker.key.chain)
    swapped_x5c = [base64.b64encode(c.public_bytes(Encoding.DER)).decode() for c in victim.key.chain]
    swapped = with_header(by_attacker, {**decoded_header(by_attacker), "x5c": swapped_x5c})
    assert (await refused(victim.submit_signed(swapped))).code == "SIGNATURE_INVALID"
    # the attacker's valid signature over a document in the victim's name: refused in either account
    assert (await refused(victim.submit_signed(by_attacker))).code == "IIN_MISMATCH"
    assert (await refused(attacker.submit_signed(by_attacker))).code == "IIN_MISMATCH"
    # the victim's prepared request signed with the attacker's key
    prepared = await victim.prepare("home_call", **HOME_CALL)
    assert (await refused(victim.sign(prepared, key=attacker.key))).code == "IIN_MISMATCH"
    assert await request_ids(victim) == set() and await request_ids(attacker) == set()


async def test_a_signed_document_is_applied_once_however_often_it_is_sent(victim_and_attacker) -> None:  # type: ignore[no-untyped-def]
    victim, attacker = victim_and_attacker
    signed = victim.signed_document("home_call", CLINIC_1, **HOME_CALL)
    answers = await asyncio.gather(*(victim.submit_signed(signed) for _ in range(8)), return_exceptions=True)
    accepted = [a for a in answers if isinstance(a, dict)]
    refusals = [a for a in answers if isinstance(a, ApiFailure)]
    assert len(accepted) == 1 and len(refusals) == 7, answers
    assert {r.code for r in refusals} == {"DUPLICATE_REQUEST"}
    assert (await refused(victim.submit_signed(signed))).code == "DUPLICATE_REQUEST"  # later, one by one
    assert await request_ids(victim) == {accepted[0]["id"]}
    # the attacker can neither read nor retry the victim's request
    for method, path in (("GET", ""), ("GET", "/result"), ("POST", "/retry")):
        failure = await refused(attacker.call(method, f"/api/v1/requests/{accepted[0]['id']}{path}"))
        assert failure.status == 404
    final = await victim.wait(accepted[0]["id"])
    assert final["status"] == "completed" and len(final["history"]) == 3


async def test_forged_clinic_statuses_on_the_bus_change_nothing(
    victim_and_attacker, mesh: Mesh, bus: Bus, store: TrustStore, clock: Clock
) -> None:  # type: ignore[no-untyped-def]
    victim, _ = victim_and_attacker
    request = await victim.submit("home_call", **HOME_CALL)
    done = await victim.wait(request["id"])
    assert done["status"] == "completed"
    clinic = arm_address(CLINIC_1)
    forged_status = {
        "request_id": request["id"],
        "seq": 99,  # higher than anything the clinic sent: it would overrule the outcome if it were applied
        "status": "refused",
        "at": clock.now().isoformat(),
        "refusal": {"code": "NOT_ATTACHED", "message": "forged"},
    }
    portal_queue = queue_name(mesh.namespace, "portal")
    dead_letters = dead_letter_queue(mesh.namespace, "portal")
    before = await _queue_depth(bus, dead_letters)
    # 1. straight into the portal's queue, sealed with the АРМ's own key (an insider's copy), no gateway stamp
    arm = identity(mesh, "arm")
    message_id, raw = seal(
        arm, type=ESERVICE_STATUS, recipient="portal", payload=forged_status, clock=clock, sender=clinic
    )
    await bus.publish(portal_queue, raw, message_id=str(message_id), type=ESERVICE_STATUS)
    # 2. the same with a stamp the АРМ made itself (only the gateway's stamp counts)
    message_id, raw = seal(
        arm, type=ESERVICE_STATUS, recipient="portal", payload=forged_status, clock=clock, sender=clinic
    )
    stamp = make_stamp(arm, peek(raw), raw, clock.now())  # the gateway's stamp format, the АРМ's key
    await bus.publish(
        portal_queue, raw, message_id=str(message_id), type=ESERVICE_STATUS, headers={STAMP_HEADER: stamp}
    )

    async def both_dead_lettered() -> bool:
        return await _queue_depth(bus, dead_letters) >= before + 2

    await until(both_dead_lettered, 60, "the two forged statuses refused by the portal")
    # 3. through the gateway under the clinic's name but with another service's certificate
    gbd_fl = identity(mesh, "gbd_fl")
    message_id, raw = seal(
        gbd_fl, type=ESERVICE_STATUS, recipient="portal", payload=forged_status, clock=clock, sender=clinic
    )
    answer = await send_raw(bus, mesh, store, raw, message_id)
    assert answer["payload"]["code"] == "SIGNATURE_INVALID"
    # 4. through the gateway in its own name: the ГБД ФЛ has no right to send statuses
    message_id, raw = seal(gbd_fl, type=ESERVICE_STATUS, recipient="portal", payload=forged_status, clock=clock)
    answer = await send_raw(bus, mesh, store, raw, message_id)
    assert answer["payload"]["code"] == "ACCESS_DENIED"
    # 5. a message captured on its way to the gateway, sent to it again
    message_id, raw = seal(
        identity(mesh, "portal"),
        type="ping",
        recipient="signature",
        payload={},
        clock=clock,
        ttl=dt.timedelta(minutes=1),
    )
    assert (await send_raw(bus, mesh, store, raw, message_id))["type"] == "ping.reply"
    assert (await send_raw(bus, mesh, store, raw, message_id))["payload"]["code"] == "REPLAYED"
    after = await victim.call("GET", f"/api/v1/requests/{request['id']}")
    assert after["status"] == "completed" and after["history"] == done["history"]
    assert after["has_result"] is True


async def test_session_forms_from_another_site_are_refused(citizen_factory, mesh: Mesh, people: People) -> None:  # type: ignore[no-untyped-def]
    """Login CSRF: a log-in or registration form posted from another site is refused with 403 before any
    credential is looked at (no session cookie is set); the site's own form logs in. And a changing form of
    a session without that session's CSRF token changes nothing (the session survives a forged log-out)."""
    person = people.take("attached_1")[0]
    await citizen_factory(person).enter()  # registered by ЭЦП
    async with httpx.AsyncClient(base_url=mesh.url("portal"), timeout=30) as browser:
        page = {"Accept": "text/html"}
        login = {"iin": person.iin, "password": PASSWORD, "next": "/requests"}
        foreign = [
            {"Origin": "https://evil.example"},
            {"Origin": "null"},
            {"Origin": "http://["},  # not an address: refused, not a 500
            {"Sec-Fetch-Site": "cross-site"},
            # A client's own X-Forwarded-Host is not believed (only a configured proxy's would be).
            {"Origin": "https://evil.example", "X-Forwarded-Host": "evil.example"},
        ]
        for headers in foreign:
            answer = await browser.post("/login", data=login, headers={**page, **headers})
            assert answer.status_code == 403, headers
            assert not answer.headers.get_list("set-cookie") and not browser.cookies, headers
            registration = {"challenge": "c", "jws": "a.b.c", "password": PASSWORD, "password_again": PASSWORD}
            assert (await browser.post("/register", data=registration, headers={**page, **headers})).status_code == 403
            by_key = {"challenge": "c", "jws": "a.b.c"}
            assert (await browser.post("/login/key", data=by_key, headers={**page, **headers})).status_code == 403
            # decided before the form is read: a foreign form with fields missing is refused too, not 422
            assert (await browser.post("/login", data={}, headers={**page, **headers})).status_code == 403
        async with httpx.AsyncClient(base_url=mesh.url("arm"), timeout=30) as arm:
            assert (await arm.post("/login", data=login, headers={**page, **foreign[0]})).status_code == 403

        own = {**page, "Origin": mesh.url("portal"), "Sec-Fetch-Site": "same-origin"}
        answer = await browser.post("/login", data=login, headers=own)
        assert answer.status_code == 303 and browser.cookies
        forged = await browser.post("/logout", data={"csrf": "0" * 32}, headers=own)
        assert forged.status_code == 403
        still = await browser.get("/requests", headers=page)
        assert still.status_code == 200  # a page of the session, not a redirect to the login page
