"""Bad input to every HTTP endpoint of every service gets a 4xx with a code, never a 500.

Endpoints are taken from each running service's own OpenAPI document, so a new endpoint is covered
without touching this test.
"""

from __future__ import annotations

import httpx
import pytest

from services.signature.ca import DevCA
from shared.wire.clock import Clock
from tests.conftest import People
from tests.e2e.citizens import Citizen
from tools.launcher import SERVICE_PORTS, Mesh

BAD_PATH_VALUES = ["%00", "x" * 3000, "..%2F..%2Fetc", "ИИН", "-1"]
BAD_BODIES: list[tuple[str, bytes]] = [
    ("application/json", b"{not json"),
    ("application/json", b"[]"),
    ("application/json", b'{"jws": 12}'),
    ("application/json", b'{"jws": "a.b.c", "expected_iin": "' + b"9" * 50 + b'"}'),
    ("application/json", b'{"jws": "' + b"A" * 300_000 + b'"}'),
    ("text/plain", b"hello"),
    ("application/json", b""),
    ("application/json", b'{"iin": "85031530001\\u0000", "password": "x\\u0000yyyyyyyyy"}'),
    (
        "application/json",
        b'{"service": "home_call", "fields": {"address": "ab\\u0000cdef", "phone": "+77011234567",'
        b' "complaints": "abc"}}',
    ),
    ("application/json", b'{"service": "appointment", "fields": {"doctor_code": "d\\u0000", "slot_start": "x"}}'),
    ("application/json", b'{"jws": "a\\u0000.b.c"}'),
]
BAD_QUERIES = [
    {},
    {"correlation_id": ""},
    {"correlation_id": "x" * 500},
    {"limit": "-5"},
    {"limit": "lots"},
    {"offset": "-1"},
    {"limit": "0"},
    {"days": "0"},
    {"days": "lots"},
    {"days": "99"},
    {"doctor_code": "x" * 100},
    {"specialty": "y" * 200},
]


def assert_typed_4xx(response: httpx.Response) -> None:
    assert 400 <= response.status_code < 500, (response.request.method, response.request.url, response.status_code)
    body = response.json()
    assert isinstance(body.get("code"), str) and body["code"], body
    assert isinstance(body.get("message"), str)


async def logged_in_headers(mesh: Mesh, citizen: Citizen) -> dict[str, str]:
    await citizen.enter()
    return {"Authorization": citizen.http.headers["Authorization"]}


@pytest.mark.parametrize("service", [*SERVICE_PORTS, "portal-logged-in"])
async def test_every_endpoint_refuses_bad_input_with_a_code(
    mesh: Mesh, service: str, people: People, ca: DevCA, clock: Clock
) -> None:
    headers: dict[str, str] = {}
    if service == "portal-logged-in":
        citizen = Citizen(people.take("attached_1")[0], mesh, ca, clock)
        headers = await logged_in_headers(mesh, citizen)
        await citizen.close()
        service = "portal"
    async with httpx.AsyncClient(base_url=mesh.url(service), timeout=10, headers=headers) as http:
        spec = (await http.get("/openapi.json")).json()
        tried = 0
        for path, operations in spec["paths"].items():
            for method, operation in operations.items():
                params = operation.get("parameters", [])
                has_path = any(p["in"] == "path" for p in params)
                has_query = any(p["in"] == "query" for p in params)
                urls = [path]
                if has_path:
                    urls = [path.split("{")[0] + value for value in BAD_PATH_VALUES]
                for url in urls:
                    if "requestBody" in operation:
                        for content_type, body in BAD_BODIES:
                            response = await http.request(
                                method, url, content=body, headers={"content-type": content_type}
                            )
                            if response.status_code != 200:  # a well-formed verify request legitimately gives 200
                                assert_typed_4xx(response)
                            tried += 1
                    if has_query:
                        names = {p["name"] for p in params if p["in"] == "query"}
                        # Bad values of this endpoint's own parameters (a path with a bad value fails anyway).
                        for query in [q for q in BAD_QUERIES if has_path or set(q) & names]:
                            response = await http.request(method, url, params=query)
                            assert_typed_4xx(response)
                            tried += 1
                    if has_path and "requestBody" not in operation:
                        response = await http.request(method, url)
                        if response.status_code != 200:
                            assert_typed_4xx(response)
                        tried += 1
        assert_typed_4xx(await http.get("/no/such/endpoint"))
        assert_typed_4xx(await http.delete("/health/live"))
        assert tried > 0 or service in {"arm", "gbd_fl"}


@pytest.mark.parametrize("service", sorted(SERVICE_PORTS))
async def test_oversized_bodies_are_refused_before_they_are_read(mesh: Mesh, service: str) -> None:
    """413 with a code for a body over the limit: by its Content-Length, and for a chunked one too."""
    path = {"portal": "/api/v1/auth/login", "arm": "/api/v1/staff/auth/login"}.get(service, "/api/v1/verify")

    async def chunks():  # type: ignore[no-untyped-def]
        for _ in range(200):
            yield b"x" * 1024

    async with httpx.AsyncClient(base_url=mesh.url(service)) as http:
        declared = await http.post(path, content=b"{" + b" " * (1024 * 1024) + b"}")
        chunked = await http.post(path, content=chunks())
    for response in (declared, chunked):
        assert response.status_code == 413 and response.json()["code"] == "TOO_LARGE", response.text


async def test_x_forwarded_for_is_not_believed_from_an_unnamed_proxy(mesh: Mesh, people: People) -> None:
    """The address that throttling and the logs see is the real peer's, not one a client claims."""
    (person,) = people.take("unattached")
    forged = "203.0.113.77"
    async with httpx.AsyncClient(base_url=mesh.url("portal")) as http:
        response = await http.post(
            "/api/v1/auth/login",
            json={"iin": person.iin, "password": "Wrong-pass-123"},
            headers={"X-Forwarded-For": forged},
        )
    assert response.status_code == 401
    assert mesh.log_file is not None
    log = mesh.log_file.read_text(errors="replace")
    assert "login refused" in log and forged not in log


async def test_the_web_pages_answer_bad_input_with_a_4xx_and_change_nothing(
    mesh: Mesh, people: People, ca: DevCA, clock: Clock
) -> None:
    """The pages are not in the OpenAPI documents: their routes, logged in, with bad or missing input."""
    from tests.e2e.staff import STAFF_PASSWORD, member
    from tests.e2e.test_eservices import CLINIC_1

    citizen = await Citizen(people.take("attached_1")[0], mesh, ca, clock).enter()
    await citizen.close()
    html = {"Accept": "text/html"}
    bad_uuid, no_uuid = "00000000-0000-4000-8000-000000000000", "not-a-uuid"
    sites = {
        "portal": (citizen.iin, "Tulpar-Zhol-2026"),
        "arm": (member(CLINIC_1).iin, STAFF_PASSWORD),
    }
    for site, (iin, password) in sites.items():
        async with httpx.AsyncClient(base_url=mesh.url(site), timeout=30, headers=html) as http:
            assert (await http.post("/login", data={"iin": "1" * 40, "password": "x"})).status_code == 422
            assert (await http.post("/login", data={"iin": iin, "password": "wrong-password"})).status_code == 401
            logged_in = await http.post("/login", data={"iin": iin, "password": password})
            assert logged_in.status_code == 303, logged_in.text[:300]
            away = await http.get("/lang/kk", params={"next": "//evil.example/"})
            assert (away.status_code, away.headers["location"]) == (303, "/")
            attempts = [
                ("POST", "/logout", {}),  # no CSRF token: nothing is changed
                ("POST", f"/drafts/{bad_uuid}", {"jws": "a.b.c"}),
                ("GET", f"/drafts/{no_uuid}", None),
                ("POST", "/uploads?name=x", {}),
            ]
            if site == "portal":
                attempts += [
                    ("GET", "/services/no_such_service", None),
                    ("GET", f"/requests/{no_uuid}", None),
                    ("GET", f"/requests/{bad_uuid}/result", None),
                    ("GET", "/services/appointment?patient_iin=12345", None),
                    ("POST", f"/requests/{bad_uuid}/survey", {"process_and_result": "9", "information": "x"}),
                    ("POST", "/register", {"iin": "abc", "password": "short", "password_again": "other"}),
                ]
            else:
                attempts += [
                    ("GET", "/persons?iin=12345", None),
                    ("GET", "/persons?iin=" + "9" * 200, None),
                    ("GET", "/journal/home-calls?day=yesterday&page=abc", None),
                    ("GET", "/journal/appointments?day=2026-13-40", None),
                    ("GET", "/journal/home-calls?day=1.1.99999999999999999999", None),  # too large for a date
                    ("GET", "/file/no_such_service", None),
                    ("POST", "/home-calls/NOPE", {"action": "explode"}),
                    ("POST", "/absences", {"doctor_code": "x" * 300, "day": "soon", "reason": ""}),
                ]
            for method, path, form in attempts:
                response = await http.request(method, path, data=form)
                assert 400 <= response.status_code < 500, (site, method, path, response.status_code)
                # a page answers with a page; the upload route answers its script in JSON
                kind = "application/json" if path.startswith("/uploads") else "text/html"
                assert response.headers["content-type"].startswith(kind), (site, path)
            assert (await http.get("/")).status_code in (200, 303)  # still logged in: logout was refused
