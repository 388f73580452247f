"""Signature verdicts from real certificates of the development CA, through the running signature service."""

from __future__ import annotations

import base64
import datetime as dt
import json
from pathlib import Path

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from services.signature.ca import DevCA
from shared.messaging.dispatch import MeshClient
from shared.wire.certs import KeyPurpose
from shared.wire.clock import Clock
from shared.wire.jws import b64url_encode, sign_compact
from tests.waiting import until
from tools.launcher import Mesh

IIN = "850315300019"
DOCUMENT = json.dumps({"service": "home_call", "iin": IIN, "nonce": "n-1"}).encode()


async def verify(mesh: Mesh, jws: str, **expected: str) -> dict:
    async with httpx.AsyncClient(base_url=mesh.url("signature")) as http:
        response = await http.post("/api/v1/verify", json={"jws": jws, **expected})
    assert response.status_code == 200, response.text
    return response.json()


def signed(issued, payload: bytes = DOCUMENT) -> str:  # type: ignore[no-untyped-def]
    return sign_compact(payload, issued.key, issued.chain)


async def test_valid_signature_names_the_signer(mesh: Mesh, ca: DevCA) -> None:
    issued = ca.issue_person(IIN, "ИВАНОВ", "ИВАН", "ИВАНОВИЧ", key_type="rsa")
    verdict = await verify(mesh, signed(issued), expected_iin=IIN)
    assert verdict["valid"] is True and verdict["code"] is None
    signer = verdict["signer"]
    assert (signer["iin"], signer["surname"], signer["given_name"], signer["patronymic"]) == (
        IIN,
        "ИВАНОВ",
        "ИВАН",
        "ИВАНОВИЧ",
    )
    assert signer["key_usage"] == "SIGN" and "1.2.398.3.3.4.1.1" in signer["roles"]
    assert signer["serial"] == format(issued.certificate.serial_number, "x")
    assert base64.urlsafe_b64decode(verdict["payload"] + "==") == DOCUMENT


async def test_clinic_signature_names_bin_and_organisation(mesh: Mesh, ca: DevCA) -> None:
    issued = ca.issue_employee(IIN, "АХМЕТОВА", "ДИНАРА", "980440012347", "Поликлиника № 1")
    verdict = await verify(mesh, signed(issued), expected_bin="980440012347")
    assert verdict["valid"] and verdict["signer"]["bin"] == "980440012347"
    assert verdict["signer"]["organization"] == "Поликлиника № 1"
    wrong = await verify(mesh, signed(issued), expected_bin="030740045218")
    assert (wrong["valid"], wrong["code"]) == (False, "BIN_MISMATCH")


@pytest.mark.parametrize(
    ("options", "code"),
    [
        ({"not_before": -800, "not_after": -1}, "CERT_EXPIRED"),
        ({"not_before": 2}, "CERT_NOT_YET_VALID"),
        ({"purpose": KeyPurpose.AUTH}, "CERT_WRONG_USAGE"),
    ],
)
async def test_certificate_faults(mesh: Mesh, ca: DevCA, clock: Clock, options: dict, code: str) -> None:
    now = clock.now()
    options = {k: now + dt.timedelta(days=v) if k.startswith("not_") else v for k, v in options.items()}
    verdict = await verify(mesh, signed(ca.issue_person(IIN, "A", "B", **options)))
    assert (verdict["valid"], verdict["code"]) == (False, code)
    assert verdict["message"]  # a citizen-facing motivation


async def test_untrusted_second_ca(mesh: Mesh, tmp_path: Path, clock: Clock) -> None:
    stranger = DevCA(tmp_path / "rogue", name="Rogue", clock=clock)
    verdict = await verify(mesh, signed(stranger.issue_person(IIN, "A", "B")))
    assert verdict["code"] == "CERT_UNTRUSTED"


async def test_iin_mismatch(mesh: Mesh, ca: DevCA) -> None:
    verdict = await verify(mesh, signed(ca.issue_person(IIN, "A", "B")), expected_iin="061211600012")
    assert verdict["code"] == "IIN_MISMATCH"


async def test_tampering_is_detected(mesh: Mesh, ca: DevCA) -> None:
    header, payload, signature = signed(ca.issue_person(IIN, "A", "B")).split(".")
    other_payload = b64url_encode(DOCUMENT.replace(b"home_call", b"attachment"))
    raw_header = json.loads(base64.urlsafe_b64decode(header + "=="))
    other_header = b64url_encode(json.dumps({**raw_header, "kid": "x"}).encode())
    raw_signature = bytearray(base64.urlsafe_b64decode(signature + "=="))
    raw_signature[5] ^= 0x01
    for token in (
        f"{header}.{other_payload}.{signature}",
        f"{other_header}.{payload}.{signature}",
        f"{header}.{payload}.{b64url_encode(bytes(raw_signature))}",
    ):
        verdict = await verify(mesh, token)
        assert (verdict["valid"], verdict["code"]) == (False, "SIGNATURE_INVALID")


async def test_alg_none_and_hmac_are_refused(mesh: Mesh, ca: DevCA) -> None:
    import hashlib
    import hmac

    issued = ca.issue_person(IIN, "A", "B")
    x5c = [base64.b64encode(c.public_bytes(Encoding.DER)).decode() for c in issued.chain]
    payload = b64url_encode(DOCUMENT)
    for alg in ("none", "HS256"):
        header = b64url_encode(json.dumps({"alg": alg, "x5c": x5c}).encode())
        signature = (
            ""
            if alg == "none"
            else b64url_encode(hmac.new(b"secret", f"{header}.{payload}".encode(), hashlib.sha256).digest())
        )
        verdict = await verify(mesh, f"{header}.{payload}.{signature}")
        assert (verdict["valid"], verdict["code"]) == (False, "SIGNATURE_INVALID")


async def _await_code(mesh: Mesh, jws: str, code: str, within: float = 30.0) -> dict:
    """The verdict once the service gives ``code`` (CRL files are re-read every 0.2 s in tests)."""

    async def verdict() -> dict | None:
        answer = await verify(mesh, jws)
        return answer if answer["code"] == code else None

    return await until(verdict, within, f"the verdict {code}")


async def test_revocation_is_enforced_after_the_crl_is_published(mesh: Mesh, ca: DevCA) -> None:
    issued = ca.issue_person(IIN, "A", "B")
    token = signed(issued)
    assert (await verify(mesh, token))["valid"] is True
    ca.revoke(issued.certificate.serial_number)  # revoke + publish
    verdict = await _await_code(mesh, token, "CERT_REVOKED")
    assert (verdict["valid"], verdict["code"]) == (False, "CERT_REVOKED")


async def test_stale_crl_means_status_unknown(mesh: Mesh, ca: DevCA, clock: Clock) -> None:
    token = signed(ca.issue_person(IIN, "A", "B"))
    try:
        ca.publish_crls(next_update=dt.timedelta(hours=1), last_update=clock.now() - dt.timedelta(hours=3))
        verdict = await _await_code(mesh, token, "CERT_STATUS_UNKNOWN")
        assert (verdict["valid"], verdict["code"]) == (False, "CERT_STATUS_UNKNOWN")
    finally:
        ca.publish_crls()
    assert (await _await_code(mesh, token, None))["valid"] is True  # type: ignore[arg-type]


async def test_verify_over_the_bus_through_the_gateway(portal: MeshClient, ca: DevCA) -> None:
    token = signed(ca.issue_person(IIN, "A", "B"))
    verdict = await portal.request("signature", "document.verify", {"jws": token, "expected_iin": IIN})
    assert verdict["valid"] is True and verdict["signer"]["iin"] == IIN
    mismatch = await portal.request("signature", "document.verify", {"jws": token, "expected_iin": "061211600012"})
    assert mismatch["code"] == "IIN_MISMATCH"


async def test_crl_endpoint_serves_the_current_crl(mesh: Mesh, ca: DevCA) -> None:
    async with httpx.AsyncClient(base_url=mesh.url("signature")) as http:
        response = await http.get("/crl")
        root = await http.get("/crl/root")
        missing = await http.get("/crl/nope")
    assert response.status_code == 200 and response.headers["content-type"] == "application/pkix-crl"
    crl = x509.load_der_x509_crl(response.content)
    assert crl.issuer == ca.ca.subject and crl.is_signature_valid(ca.ca.public_key())  # type: ignore[arg-type]
    assert x509.load_der_x509_crl(root.content).issuer == ca.root.subject
    assert missing.status_code == 404 and missing.json()["code"] == "CRL_NOT_FOUND"


async def test_the_key_usage_check_cannot_be_switched_off(mesh: Mesh) -> None:
    async with httpx.AsyncClient(base_url=mesh.url("signature")) as http:
        response = await http.post("/api/v1/verify", json={"jws": "a.b.c", "purpose": None})
    assert response.status_code == 422 and response.json()["code"] == "VALIDATION_ERROR"
