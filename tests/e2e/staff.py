"""A test staff member: an employee key from the test CA, and the АРМ's staff API driven as a client would."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

import httpx

from services.signature.ca import DevCA, Issued
from shared.demo.people import DemoStaff, demo_staff
from shared.rules.clinics import load_clinics
from shared.wire import cms
from shared.wire.certs import Role
from shared.wire.jws import sign_compact
from tests.e2e.citizens import ApiFailure
from tools.launcher import Mesh

STAFF_PASSWORD = "Emhana-Staff-2026"
CLINIC_NAMES = {c.bin: c.name for c in load_clinics().clinics}


def member(clinic_bin: str, role: str = "registrar") -> DemoStaff:
    return next(m for m in demo_staff(load_clinics()) if m.clinic_bin == clinic_bin and m.role == role)


@dataclass
class StaffClient:
    who: DemoStaff
    mesh: Mesh
    ca: DevCA
    key: Issued = field(init=False)
    http: httpx.AsyncClient = field(init=False)

    def __post_init__(self) -> None:
        self.key = self.employee_key()
        self.http = httpx.AsyncClient(base_url=self.mesh.url("arm"), timeout=60)

    def employee_key(self, clinic_bin: str | None = None, **options: Any) -> Issued:
        """An employee certificate of this person at ``clinic_bin`` (their own clinic by default)."""
        bin_ = clinic_bin or self.who.clinic_bin
        role = Role.HEAD if self.who.role == "head" else Role.EMPLOYEE
        return self.ca.issue_employee(
            self.who.iin, self.who.surname, self.who.name, bin_, CLINIC_NAMES[bin_], role, **options
        )

    async def call(self, method: str, path: str, **kwargs: Any) -> Any:
        response = await self.http.request(method, path, **kwargs)
        if response.status_code >= 400:
            raise ApiFailure(response)
        return response.json() if response.content else None

    async def login(self) -> StaffClient:
        token = await self.call(
            "POST", "/api/v1/staff/auth/login", json={"iin": self.who.iin, "password": STAFF_PASSWORD}
        )
        self.http.headers["Authorization"] = f"Bearer {token['access_token']}"
        return self

    async def person(self, iin: str, reason: str = "приём в регистратуре") -> dict[str, Any]:
        """Processes 3–4: the citizen in ГБД ФЛ (every look-up says why; the АРМ journals it)."""
        return await self.call("GET", f"/api/v1/staff/persons/{iin}", params={"reason": reason})

    async def prepare(self, service: str, iin: str, **fields: Any) -> dict[str, Any]:
        return await self.call(
            "POST", "/api/v1/staff/requests/prepare", json={"service": service, "iin": iin, "fields": fields}
        )

    async def sign(
        self, prepared: dict[str, Any], key: Issued | None = None, *, as_cms: bool = False
    ) -> dict[str, Any]:
        """Sign the prepared document with the staff member's key: a JWS, or a detached CMS as NCALayer makes."""
        signer = key or self.key
        document = prepared["document"].encode()
        if as_cms:
            body = {"cms": cms.sign(document, signer.key, signer.chain, signing_time=dt.datetime.now(dt.UTC))}
        else:
            body = {"jws": sign_compact(document, signer.key, signer.chain)}
        return await self.call("POST", f"/api/v1/staff/requests/{prepared['draft_id']}/sign", json=body)

    async def file(self, service: str, iin: str, **fields: Any) -> dict[str, Any]:
        """Processes 2–8: fill the form for the citizen and sign it with the staff member's own key."""
        return await self.sign(await self.prepare(service, iin, **fields))

    async def journal(self, kind: str, **params: Any) -> dict[str, Any]:
        path = {"home_calls": "/journal/home-calls", "appointments": "/journal/appointments"}.get(kind, f"/{kind}")
        return await self.call("GET", f"/api/v1/staff{path}", params={"size": 200, **params})

    async def close(self) -> None:
        await self.http.aclose()
