"""Documents attached in electronic form (diagram 1 process 3; table 2 process 5), over the real broker:
uploaded, checked by content, named by hash in the signed document, and seen by the clinic."""

from __future__ import annotations

import hashlib

import pytest

from services.signature.ca import DevCA
from tests.conftest import People
from tests.e2e.staff import StaffClient, member
from tests.e2e.test_eservices import CLINIC_1, HOME_CALL, citizens, refused_with
from tools.launcher import Mesh

PDF = b"%PDF-1.4\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4


@pytest.fixture
async def registrar(mesh: Mesh, ca: DevCA):  # type: ignore[no-untyped-def]
    client = StaffClient(member(CLINIC_1), mesh, ca)
    yield await client.login()
    await client.close()


async def test_a_citizen_attaches_documents_that_the_signature_covers_and_the_clinic_sees(
    citizen_factory, people: People, registrar: StaffClient
) -> None:
    (citizen,) = await citizens(citizen_factory, people, "attached_1")
    scan = await citizen.call("POST", "/api/v1/uploads", params={"name": "справка.png"}, content=PDF)
    assert (scan["media_type"], scan["sha256"]) == ("application/pdf", hashlib.sha256(PDF).hexdigest())  # by content
    photo = await citizen.call("POST", "/api/v1/uploads", params={"name": "фото"}, content=PNG)
    assert photo["media_type"] == "image/png"
    not_allowed = await refused_with(
        "UNSUPPORTED_TYPE", citizen.call("POST", "/api/v1/uploads", params={"name": "a.pdf"}, content=b"MZ\x90\x00")
    )
    assert not_allowed.status == 415
    too_large = await refused_with(
        "TOO_LARGE",
        citizen.call("POST", "/api/v1/uploads", params={"name": "big.pdf"}, content=PDF + b"0" * (2 * 1024 * 1024)),
    )
    assert too_large.status == 413

    body = {"service": "home_call", "fields": HOME_CALL, "documents": [scan["id"], photo["id"]]}
    prepared = await citizen.call("POST", "/api/v1/requests/prepare", json=body)
    assert scan["sha256"] in prepared["document"] and photo["sha256"] in prepared["document"]  # signed over
    request = await citizen.sign(prepared)
    final = await citizen.wait(request["id"])
    assert final["status"] == "completed", final

    seen = await registrar.call("GET", f"/api/v1/staff/registrations/{final['registration_number']}")
    assert [(d["name"], d["sha256"]) for d in seen["documents"]] == [
        ("справка.png", scan["sha256"]),
        ("фото", photo["sha256"]),
    ]
    content = await registrar.http.get(
        f"/api/v1/staff/registrations/{final['registration_number']}/documents/{photo['sha256']}"
    )
    assert (content.status_code, content.headers["content-type"], content.content) == (200, "image/png", PNG)


async def test_a_signed_document_naming_a_file_never_uploaded_is_refused(citizen_factory, people: People) -> None:
    (citizen,) = await citizens(citizen_factory, people, "attached_1")
    missing = {"name": "x.pdf", "media_type": "application/pdf", "sha256": "0" * 64, "size": 10}
    jws = citizen.signed_document("home_call", CLINIC_1, **HOME_CALL, documents=[missing])
    await refused_with("DOCUMENT_NOT_UPLOADED", citizen.submit_signed(jws))
    assert await citizen.call("GET", "/api/v1/requests") == []
    someone = (await citizens(citizen_factory, people, "attached_1"))[0]
    theirs = await someone.call("POST", "/api/v1/uploads", params={"name": "scan"}, content=PDF)
    body = {"service": "home_call", "fields": HOME_CALL, "documents": [theirs["id"]]}
    await refused_with("NOT_FOUND", citizen.call("POST", "/api/v1/requests/prepare", json=body))  # not yours


async def test_staff_attach_scanned_documents_when_filing(
    citizen_factory, people: People, registrar: StaffClient
) -> None:
    (citizen,) = await citizens(citizen_factory, people, "unattached")
    scan = await registrar.call("POST", "/api/v1/staff/uploads", params={"name": "заявление"}, content=PDF)
    prepared = await registrar.call(
        "POST",
        "/api/v1/staff/requests/prepare",
        json={"service": "attachment", "iin": citizen.iin, "fields": {}, "documents": [scan["id"]]},
    )
    filed = await registrar.sign(prepared)
    assert filed["status"] == "completed", filed
    seen = await registrar.call("GET", f"/api/v1/staff/registrations/{filed['registration_number']}")
    assert [d["sha256"] for d in seen["documents"]] == [scan["sha256"]] and seen["channel"] == "staff"
