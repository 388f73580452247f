"""A test citizen: a key from the test CA, and the portal's REST API driven exactly as a client would."""

from __future__ import annotations

import base64
import json
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import httpx

from services.signature.ca import DevCA, Issued
from shared.demo.population import SyntheticPerson
from shared.wire import cms
from shared.wire.canonical import canonical_json
from shared.wire.certs import Role
from shared.wire.clock import Clock
from shared.wire.contracts import Signature
from shared.wire.jws import sign_compact
from tools.launcher import Mesh

PASSWORD = "Tulpar-Zhol-2026"
SIGNING_RIGHT = Role.SIGNING_RIGHT.value
FINAL = {"completed", "refused", "failed"}


class ApiFailure(AssertionError):
    def __init__(self, response: httpx.Response) -> None:
        super().__init__(f"{response.status_code} {response.text[:300]}")
        self.status = response.status_code
        self.body = response.json()
        self.code = self.body.get("code")


@dataclass
class Citizen:
    person: SyntheticPerson
    mesh: Mesh
    ca: DevCA
    clock: Clock
    key: Issued = field(init=False)
    http: httpx.AsyncClient = field(init=False)

    def __post_init__(self) -> None:
        self.key = self.ca.issue_person(self.person.iin, self.person.surname.upper(), self.person.name.upper())
        self.http = httpx.AsyncClient(base_url=self.mesh.url("portal"), timeout=30)

    @property
    def iin(self) -> str:
        return self.person.iin

    async def call(self, method: str, path: str, **kwargs: Any) -> Any:
        response = await self.http.request(method, path, **kwargs)
        if response.status_code >= 400:
            raise ApiFailure(response)
        return response.json() if response.content else None

    async def signed_challenge(self, key: Issued | None = None, *, as_cms: bool = False) -> dict[str, str]:
        """The portal's challenge signed with the citizen's own key (JWS, or CMS as NCALayer makes it)."""
        signer = key or self.key
        challenge = await self.call("POST", "/api/v1/auth/challenge")
        document = challenge["document"].encode()
        if as_cms:
            signature = {"cms": cms.sign(document, signer.key, signer.chain, signing_time=self.clock.now())}
        else:
            signature = {"jws": sign_compact(document, signer.key, signer.chain)}
        return {"challenge": challenge["challenge"], **signature}

    async def register(self, key: Issued | None = None, password: str = PASSWORD, *, as_cms: bool = False) -> Any:
        """Registration proven by ЭЦП: the portal's challenge signed with the citizen's own key."""
        body = {**await self.signed_challenge(key, as_cms=as_cms), "password": password}
        return await self.call("POST", "/api/v1/auth/register", json=body)

    async def log_in_with_key(self, key: Issued | None = None, *, as_cms: bool = False) -> Any:
        """Log-in by ЭЦП: the challenge signed with one's own key, no password."""
        body = await self.signed_challenge(key, as_cms=as_cms)
        return await self.call("POST", "/api/v1/auth/login/key", json=body)

    async def enter(self) -> Citizen:
        """Register by ЭЦП, which logs in too (again for a citizen already registered: the proof sets the same
        password, and no failed login is spent on finding out)."""
        token = await self.register()
        self.http.headers["Authorization"] = f"Bearer {token['access_token']}"
        return self

    async def prepare(self, service: str, clinic: str | None = None, **fields: Any) -> dict[str, Any]:
        body = {"service": service, "fields": fields, **({"clinic_bin": clinic} if clinic else {})}
        return await self.call("POST", "/api/v1/requests/prepare", json=body)

    async def sign(
        self, prepared: dict[str, Any], key: Issued | None = None, content: bytes | None = None
    ) -> dict[str, Any]:
        signer = key or self.key
        jws = sign_compact(content or prepared["document"].encode(), signer.key, signer.chain)
        return await self.call("POST", f"/api/v1/requests/{prepared['draft_id']}/sign", json={"jws": jws})

    async def sign_cms(self, prepared: dict[str, Any], *, detached: bool = True) -> dict[str, Any]:
        """Sign as NCALayer does (CMS SignedData, by default without the document inside)."""
        document = prepared["document"].encode()
        token = cms.sign(document, self.key.key, self.key.chain, signing_time=self.clock.now(), detached=detached)
        return await self.call("POST", f"/api/v1/requests/{prepared['draft_id']}/sign", json={"cms": token})

    async def submit(self, service: str, clinic: str | None = None, **fields: Any) -> dict[str, Any]:
        """ "Отправить запрос" then "подписать"; returns the stored request."""
        return await self.sign(await self.prepare(service, clinic, **fields))

    def signed_document(
        self, service: str, clinic: str, *, as_cms: bool = False, nonce: str | None = None, **fields: Any
    ) -> str:
        """A document signed without the portal's help (one-step submission); as a JWS, or as an NCALayer
        CMS with the document inside. The nonce is the client's choice (a fresh one by default)."""
        document = {
            "service": service,
            "iin": self.iin,
            "provider": clinic,
            "fields": fields,
            "time": self.clock.now().isoformat(),
            "nonce": nonce or uuid.uuid4().hex,
        }
        content = canonical_json(document)
        if as_cms:
            return cms.sign(content, self.key.key, self.key.chain, signing_time=self.clock.now(), detached=False)
        return sign_compact(content, self.key.key, self.key.chain)

    async def submit_signed(self, token: str) -> dict[str, Any]:
        return await self.call("POST", "/api/v1/requests", json=Signature.of(token))

    async def wait(self, request_id: str, seconds: float = 90, until: set[str] = FINAL) -> dict[str, Any]:
        """Poll "обновить статус" until the request reaches one of ``until`` (a generous bound, not a speed
        check: a slow machine takes longer, and the outcome is what is asserted)."""
        deadline = time.monotonic() + seconds
        seen: str | None = None
        while True:
            remaining = deadline - time.monotonic()
            # the first look answers at once; then a long-poll that returns when the status moves on
            params = {"wait": round(max(0.0, min(remaining, 20)), 2), "seen": seen} if seen else {}
            request = await self.call("GET", f"/api/v1/requests/{request_id}", params=params)
            seqs = {e["seq"] for e in request["history"] if e["seq"]}
            complete = seqs == set(range(1, len(seqs) + 1))  # the clinic's statuses may cross in flight
            if request["status"] in until and complete:
                return request
            if time.monotonic() > deadline:
                raise AssertionError(f"request {request_id} still {request['status']} after {seconds}s")
            seen = request["status"] if complete else "-"  # '-': answer once the history is whole

    async def verified_result(self, request_id: str, clinic: str) -> dict[str, Any]:
        """The result, checked independently by the signature service against the clinic's БИН."""
        result = await self.call("GET", f"/api/v1/requests/{request_id}/result")
        async with httpx.AsyncClient(base_url=self.mesh.url("signature")) as http:
            verdict = (await http.post("/api/v1/verify", json={"jws": result["jws"], "expected_bin": clinic})).json()
        assert verdict["valid"], verdict
        assert verdict["signer"]["bin"] == clinic and verdict["signer"]["key_usage"] == "SIGN"
        assert verdict["signer"]["iin"] and SIGNING_RIGHT in verdict["signer"]["roles"]  # an authorised person
        payload = json.loads(base64.urlsafe_b64decode(verdict["payload"] + "=="))
        assert payload == result["document"]
        return result["document"]

    async def close(self) -> None:
        await self.http.aclose()
