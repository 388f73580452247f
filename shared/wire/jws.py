"""JSON Web Signatures (RFC 7515), compact and detached-content, with the certificate chain in ``x5c``.

Only RS256, ES256 and the Kazakh GOST 34.10-2015 names below are accepted: ``none`` and every HMAC
algorithm are refused before any key is touched, because a signature whose key comes from the message
itself only means something when it is an asymmetric signature checked against a certificate that chains
to a trust anchor.

JOSE registers no GOST algorithm, so the mesh names its own (docs/signing.md): ``KZ-GOST-2015-512``
(GOST 34.10-2015 on tc26 512 paramSetA with Streebog-512) and ``KZ-GOST-2015-256``; the signature bytes
are r ‖ s, each little-endian, exactly as in НУЦ's certificates and NCALayer's CMS.
"""

from __future__ import annotations

import base64
import binascii
import functools
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from types import MappingProxyType
from typing import Any

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature, encode_dss_signature
from cryptography.hazmat.primitives.serialization import Encoding

from shared.wire import gost, keys

GOST_512 = "KZ-GOST-2015-512"
GOST_256 = "KZ-GOST-2015-256"
ALLOWED_ALGORITHMS = frozenset({"RS256", "ES256", GOST_512, GOST_256})
GostSigner = tuple[int, gost.Curve]  # the private scalar and its curve (the citizen's own tools only)
SigningKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey
_MAX_HEADER_BYTES = 64 * 1024


class JwsProblem(StrEnum):
    MALFORMED = "malformed"
    ALGORITHM = "algorithm_not_allowed"
    SIGNATURE = "signature_mismatch"
    UNSUPPORTED_KEY = "unsupported_key"


class JwsError(ValueError):
    """A JWS that cannot be accepted; ``problem`` says why."""

    def __init__(self, problem: JwsProblem, detail: str) -> None:
        super().__init__(detail)
        self.problem = problem


def b64url_encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


_B64URL = re.compile(r"[A-Za-z0-9_-]*")


def b64url_decode(text: str) -> bytes:
    # Strict alphabet: Python's decoder would silently skip other characters, letting two different
    # strings (one with, say, a NUL in it) carry the same signature.
    if not _B64URL.fullmatch(text) or len(text) % 4 == 1:
        raise JwsError(JwsProblem.MALFORMED, "not base64url")
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError):
        raise JwsError(JwsProblem.MALFORMED, "not base64url") from None


def algorithm_for(key: SigningKey | GostSigner) -> str:
    if isinstance(key, tuple):
        return GOST_512 if key[1].size == 64 else GOST_256
    if isinstance(key, rsa.RSAPrivateKey):
        return "RS256"
    if isinstance(key, ec.EllipticCurvePrivateKey) and isinstance(key.curve, ec.SECP256R1):
        return "ES256"
    raise ValueError("only RSA and P-256 keys can sign")


def _raw_sign(key: SigningKey | GostSigner, signing_input: bytes) -> bytes:
    if isinstance(key, tuple):
        return gost.sign(key[0], key[1], signing_input)
    if isinstance(key, rsa.RSAPrivateKey):
        return key.sign(signing_input, padding.PKCS1v15(), hashes.SHA256())
    r, s = decode_dss_signature(key.sign(signing_input, ec.ECDSA(hashes.SHA256())))
    return r.to_bytes(32, "big") + s.to_bytes(32, "big")


@functools.lru_cache(maxsize=64)
def _protected_header(key: SigningKey | GostSigner, chain: tuple[x509.Certificate, ...]) -> str:
    """A signer's protected header, encoded once: it is the same on every message the key signs."""
    header = {
        "alg": algorithm_for(key),
        "x5c": [base64.b64encode(c.public_bytes(Encoding.DER)).decode("ascii") for c in chain],
    }
    return b64url_encode(json.dumps(header, separators=(",", ":")).encode())


def sign_compact(payload: bytes, key: SigningKey | GostSigner, chain: list[x509.Certificate]) -> str:
    """Compact JWS ``header.payload.signature`` with the signer's chain (leaf first) in ``x5c``."""
    header = _protected_header(key, tuple(chain))
    body = b64url_encode(payload)
    signature = _raw_sign(key, f"{header}.{body}".encode("ascii"))
    return f"{header}.{body}.{b64url_encode(signature)}"


def sign_detached(payload: bytes, key: SigningKey | GostSigner, chain: list[x509.Certificate]) -> str:
    """Detached-content JWS ``header..signature`` (RFC 7515 appendix F)."""
    header, _, signature = sign_compact(payload, key, chain).split(".")
    return f"{header}..{signature}"


@dataclass(frozen=True, slots=True)
class ParsedJws:
    """A structurally valid JWS whose signature is still unchecked."""

    algorithm: str
    chain: list[x509.Certificate]
    header: Mapping[str, Any]  # read-only: decoded once and shared by every message with this header
    payload: bytes
    signing_input: bytes
    signature: bytes


def parse(token: str, detached_payload: bytes | None = None) -> ParsedJws:
    """Split and decode a compact (or, with ``detached_payload``, detached) JWS; check header and alg."""
    if not isinstance(token, str) or token.count(".") != 2:
        raise JwsError(JwsProblem.MALFORMED, "a JWS has three dot-separated parts")
    header_b64, payload_b64, signature_b64 = token.split(".")
    if len(header_b64) > _MAX_HEADER_BYTES:
        raise JwsError(JwsProblem.MALFORMED, "header too large")
    if detached_payload is not None:
        if payload_b64:
            raise JwsError(JwsProblem.MALFORMED, "detached JWS must have an empty payload part")
        payload_b64 = b64url_encode(detached_payload)
        payload = detached_payload
    else:
        payload = b64url_decode(payload_b64)
    algorithm, header, chain = _decode_header(header_b64)
    return ParsedJws(
        algorithm=algorithm,
        chain=list(chain),
        header=header,
        payload=payload,
        signing_input=f"{header_b64}.{payload_b64}".encode("ascii"),
        signature=b64url_decode(signature_b64),
    )


@functools.lru_cache(maxsize=256)
def _decode_header(header_b64: str) -> tuple[str, Mapping[str, Any], tuple[x509.Certificate, ...]]:
    """The algorithm, header and ``x5c`` chain of a protected header, checked; raises :class:`JwsError`.

    Remembered by the header's exact text: a signer's header (algorithm and chain) is the same on every
    message it signs, so decoding it and its certificates once is enough. Only the decoding is
    remembered — the signature and the chain's trust, validity and revocation are checked every time.
    """
    try:
        header = json.loads(b64url_decode(header_b64))
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise JwsError(JwsProblem.MALFORMED, "header is not JSON") from None
    if not isinstance(header, dict):
        raise JwsError(JwsProblem.MALFORMED, "header is not a JSON object")
    alg = header.get("alg")
    if alg not in ALLOWED_ALGORITHMS:
        raise JwsError(JwsProblem.ALGORITHM, f"algorithm {alg!r} is not allowed")
    if "crit" in header:
        raise JwsError(JwsProblem.MALFORMED, "critical header parameters are not supported")
    x5c = header.get("x5c")
    if not isinstance(x5c, list) or not x5c or not all(isinstance(c, str) for c in x5c):
        raise JwsError(JwsProblem.MALFORMED, "x5c certificate chain is missing")
    try:
        chain = tuple(x509.load_der_x509_certificate(base64.b64decode(c, validate=True)) for c in x5c)
    except (binascii.Error, ValueError):
        raise JwsError(JwsProblem.MALFORMED, "x5c holds something that is not a DER certificate") from None
    return alg, MappingProxyType(header), chain


def verify_signature(parsed: ParsedJws) -> None:
    """Check the signature with the leaf certificate's key; the key type must fit ``alg``."""
    try:
        key = keys.public_key(parsed.chain[0])
    except keys.UnsupportedAlgorithm as exc:
        raise JwsError(JwsProblem.UNSUPPORTED_KEY, str(exc)) from None
    if parsed.algorithm in (GOST_512, GOST_256):
        bits = 512 if parsed.algorithm == GOST_512 else 256
        if not isinstance(key, gost.GostPublicKey) or key.curve.size * 8 != bits:
            raise JwsError(JwsProblem.SIGNATURE, "key type does not fit the algorithm")
        if not gost.verify(key, parsed.signing_input, parsed.signature, digest_bits=bits):
            raise JwsError(JwsProblem.SIGNATURE, "signature does not match")
        return
    try:
        if parsed.algorithm == "RS256" and isinstance(key, rsa.RSAPublicKey):
            key.verify(parsed.signature, parsed.signing_input, padding.PKCS1v15(), hashes.SHA256())
            return
        if (
            parsed.algorithm == "ES256"
            and isinstance(key, ec.EllipticCurvePublicKey)
            and isinstance(key.curve, ec.SECP256R1)
            and len(parsed.signature) == 64
        ):
            r = int.from_bytes(parsed.signature[:32], "big")
            s = int.from_bytes(parsed.signature[32:], "big")
            key.verify(encode_dss_signature(r, s), parsed.signing_input, ec.ECDSA(hashes.SHA256()))
            return
    except InvalidSignature:
        raise JwsError(JwsProblem.SIGNATURE, "signature does not match") from None
    raise JwsError(JwsProblem.SIGNATURE, "key type does not fit the algorithm")
