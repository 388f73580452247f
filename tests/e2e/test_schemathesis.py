"""Schemathesis over every service's OpenAPI document, against the running mesh: generated requests get
no 5xx, only documented status codes, and bodies that match the documented schemas.

Routes whose random use would disturb the tests sharing the mesh are left out here and covered by their
own tests: logins and registrations (the per-client login throttle is shared), logout (it would end the
session used here) and the АРМ's changing routes (a valid-looking absence would cancel other tests'
bookings) — the АРМ is checked on its reading routes.
"""

from __future__ import annotations

import httpx
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from services.signature.ca import DevCA, Issued
from shared.wire.jws import sign_compact
from tests.conftest import OPERATOR_TOKEN, People
from tests.e2e.citizens import PASSWORD
from tests.e2e.staff import STAFF_PASSWORD, member
from tests.e2e.test_eservices import CLINIC_1
from tools.launcher import Mesh

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
SETTINGS = settings(max_examples=8, deadline=None, suppress_health_check=list(HealthCheck))


def load(mesh: Mesh, service: str):  # type: ignore[no-untyped-def]
    return schemathesis.openapi.from_url(f"{mesh.url(service)}/openapi.json")


def bearer(url: str, path: str, iin: str, password: str) -> dict[str, str]:
    with httpx.Client(base_url=url, timeout=30) as http:
        token = http.post(path, json={"iin": iin, "password": password}).json()["access_token"]
    return {"Authorization": f"Bearer {token}"}


def registered(url: str, key: Issued) -> dict[str, str]:
    """A citizen registered by ЭЦП (the portal's challenge signed with their key), as a bearer header."""
    with httpx.Client(base_url=url, timeout=30) as http:
        challenge = http.post("/api/v1/auth/challenge").json()
        jws = sign_compact(challenge["document"].encode(), key.key, key.chain)
        body = {"challenge": challenge["challenge"], "jws": jws, "password": PASSWORD}
        token = http.post("/api/v1/auth/register", json=body).json()["access_token"]
    return {"Authorization": f"Bearer {token}"}


def exercise(schema, headers: dict[str, str] | None = None) -> int:  # type: ignore[no-untyped-def]
    """Generated requests for every operation of ``schema``, each answer checked; returns the count."""
    operations = [result.ok() for result in schema.get_all_operations()]
    for operation in operations:
        for mode in GenerationMode:  # valid requests, and requests that break the schema

            @given(case=operation.as_strategy(mode))
            @SETTINGS
            def run(case) -> None:  # type: ignore[no-untyped-def]
                case.call_and_validate(headers=headers, checks=CHECKS)

            try:
                run()
            except Unsatisfiable:
                assert mode is GenerationMode.NEGATIVE  # an operation without inputs cannot be given bad ones
    return len(operations)


def test_portal(mesh: Mesh, people: People, ca: DevCA) -> None:
    (person,) = people.take("attached_1")
    headers = registered(mesh.url("portal"), ca.issue_person(person.iin, person.surname.upper(), person.name.upper()))
    assert exercise(load(mesh, "portal").exclude(path_regex=r"^/api/v1/auth/"), headers) >= 15


def test_arm(mesh: Mesh) -> None:
    doctor = member(CLINIC_1, "doctor")
    headers = bearer(mesh.url("arm"), "/api/v1/staff/auth/login", doctor.iin, STAFF_PASSWORD)
    assert exercise(load(mesh, "arm").include(method="GET"), headers) >= 5


def test_gateway(mesh: Mesh) -> None:
    assert exercise(load(mesh, "gateway"), {"Authorization": f"Bearer {OPERATOR_TOKEN}"}) >= 4


def test_signature_and_gbd_fl(mesh: Mesh) -> None:
    assert exercise(load(mesh, "signature")) >= 3
    assert exercise(load(mesh, "gbd_fl")) == 2  # health only: it answers on the bus
