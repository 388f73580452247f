"""A REST client of the Emhana portal that signs for itself (docs/signing.md): log in, prepare a home call,
sign the exact bytes as a compact JWS (ES256, the full chain in ``x5c``), submit it — in two steps, then
the same service in one step with a document the client builds itself.

    python examples/rest/sign_and_submit.py --portal http://127.0.0.1:8101 --iin 980602300015 \\
        --password 'Tulpar-Zhol-2026' --key var/pki/issued/citizen-980602300015.key.pem \\
        --chain var/pki/issued/citizen-980602300015.pem

Only ``httpx`` and ``cryptography`` are used: nothing of the project, as an outside client would be.
"""

from __future__ import annotations

import argparse
import base64
import json
import sys
import time
import uuid

import httpx
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def sign_compact(payload: bytes, key: ec.EllipticCurvePrivateKey, chain: list[x509.Certificate]) -> str:
    """RFC 7515 compact JWS: ES256 over ``header.payload``; the signature is r‖s, 32 bytes each."""
    header = {
        "alg": "ES256",
        "x5c": [base64.b64encode(c.public_bytes(serialization.Encoding.DER)).decode() for c in chain],
    }
    signing_input = f"{b64url(json.dumps(header).encode())}.{b64url(payload)}"
    r, s = decode_dss_signature(key.sign(signing_input.encode("ascii"), ec.ECDSA(hashes.SHA256())))
    return f"{signing_input}.{b64url(r.to_bytes(32, 'big') + s.to_bytes(32, 'big'))}"


def canonical(value: object) -> bytes:
    """RFC 8785 for what the portal's documents hold (strings, numbers of the form, objects): sorted keys,
    no spaces, UTF-8. The two-step flow needs none of this: it signs the bytes the portal returned."""
    return json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode()


def wait(http: httpx.Client, request_id: str) -> dict:
    for _ in range(300):
        request = http.get(f"/api/v1/requests/{request_id}").raise_for_status().json()
        if request["status"] in ("completed", "refused", "failed"):
            return request
        time.sleep(0.2)
    raise SystemExit(f"request {request_id} has no outcome yet")


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--portal", required=True)
    parser.add_argument("--iin", required=True)
    parser.add_argument("--password", required=True)
    parser.add_argument("--key", required=True, help="PKCS#8 PEM private key")
    parser.add_argument("--chain", required=True, help="PEM certificates, the signer's first")
    parser.add_argument("--clinic", required=True, help="БИН of the citizen's clinic (one-step document)")
    args = parser.parse_args()
    key = serialization.load_pem_private_key(open(args.key, "rb").read(), password=None)
    assert isinstance(key, ec.EllipticCurvePrivateKey)
    chain = x509.load_pem_x509_certificates(open(args.chain, "rb").read())
    fields = {"address": "г. Астана, улица Кенесары, 40", "phone": "+77015550101", "complaints": "кашель"}

    with httpx.Client(base_url=args.portal, timeout=60) as http:
        token = http.post("/api/v1/auth/login", json={"iin": args.iin, "password": args.password})
        http.headers["Authorization"] = f"Bearer {token.raise_for_status().json()['access_token']}"

        # Two steps: the portal returns the exact document; sign those bytes, unchanged.
        prepared = http.post("/api/v1/requests/prepare", json={"service": "home_call", "fields": fields})
        prepared = prepared.raise_for_status().json()
        jws = sign_compact(prepared["document"].encode("utf-8"), key, chain)
        request = http.post(f"/api/v1/requests/{prepared['draft_id']}/sign", json={"jws": jws}).raise_for_status()
        print("two steps:", wait(http, request.json()["id"])["status"])

        # One step: the client writes the document (service, iin, provider, fields, time, nonce) itself.
        document = {
            "service": "home_call",
            "iin": args.iin,
            "provider": args.clinic,
            "fields": {**fields, "complaints": "кашель, насморк"},
            # The time of signing. A client whose clock is right uses its own; against a test mesh, whose clocks
            # run at another time, the portal's time from the prepared document stands in for it.
            "time": json.loads(prepared["document"])["time"],
            "nonce": uuid.uuid4().hex,
        }
        request = http.post("/api/v1/requests", json={"jws": sign_compact(canonical(document), key, chain)})
        print("one step:", wait(http, request.raise_for_status().json()["id"])["status"])
    return 0


if __name__ == "__main__":
    sys.exit(main())
