"""GOST 34.10-2015 certificates and CRLs for the development CA, in НУЦ РК's profile.

``cryptography`` builds and signs X.509 only with its own key types. A GOST certificate is therefore built
by ``cryptography`` as usual with a stand-in key, then its subject key and signature are replaced: the
TBS gets the GOST SubjectPublicKeyInfo (and, when the issuer is GOST, the GOST signature algorithm) and is
signed again — by GOST (:mod:`shared.wire.gost`) or by the EC/RSA issuer's own key. CRLs of a GOST issuer the
same way. The result reads exactly like НУЦ's own GOST 2022 test material (tests/unit/test_gost.py checks
that the mesh verifies both with one code path).

Development and tests only: the GOST signer is not constant-time (shared/wire/gost.py).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.serialization import Encoding

from shared.wire import gost

_GOST_SIGNATURE_512 = bytes.fromhex("300e060a2a830e030a01010203020500")  # AlgorithmIdentifier, NULL parameters
_ECDSA_SHA256 = bytes.fromhex("300a06082a8648ce3d040302")
_RSA_SHA256 = bytes.fromhex("300d06092a864886f70d01010b0500")


@dataclass(frozen=True, slots=True)
class GostKey:
    """A GOST 34.10-2015 (512, paramSetA) private key of the development CA or of a person it issues to."""

    private: int

    @classmethod
    def generate(cls) -> GostKey:
        return cls(secrets.randbelow(gost.TC26_512_A.q - 1) + 1)

    @property
    def signer(self) -> tuple[int, gost.Curve]:
        """What :func:`shared.wire.jws.sign_compact` and :func:`shared.wire.cms.sign` take."""
        return self.private, gost.TC26_512_A

    def spki(self) -> bytes:
        """The DER SubjectPublicKeyInfo: the Kazakh key algorithm, x ‖ y little-endian in an OCTET STRING."""
        octets = gost.public_key_of(self.private, gost.TC26_512_A).to_octets()
        key = _tlv(0x04, octets)
        return _tlv(0x30, gost.KEY_ALGORITHM_512_DER + _tlv(0x03, b"\x00" + key))


# -- DER, as far as re-signing needs it ------------------------------------------------------------------


def _length(size: int) -> bytes:
    if size < 0x80:
        return bytes([size])
    raw = size.to_bytes((size.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(raw)]) + raw


def _tlv(tag: int, contents: bytes) -> bytes:
    return bytes([tag]) + _length(len(contents)) + contents


def _children(der: bytes) -> list[bytes]:
    """The encoded children of a DER SEQUENCE (each with its tag and length)."""
    offset = 1
    first = der[offset]
    offset += 1 + (first & 0x7F if first & 0x80 else 0)
    parts = []
    while offset < len(der):
        start = offset
        offset += 1
        size = der[offset]
        offset += 1
        if size & 0x80:
            count = size & 0x7F
            size = int.from_bytes(der[offset : offset + count], "big")
            offset += count
        offset += size
        parts.append(der[start:offset])
    return parts


def _sequence(parts: list[bytes]) -> bytes:
    return _tlv(0x30, b"".join(parts))


IssuerKey = GostKey | ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey


def _sign(issuer: IssuerKey, tbs: bytes) -> bytes:
    """The signature value over ``tbs`` under ``issuer``'s key (its algorithm: :func:`_sign_algorithm`)."""
    if isinstance(issuer, GostKey):
        return gost.sign(issuer.private, gost.TC26_512_A, tbs)
    if isinstance(issuer, ec.EllipticCurvePrivateKey):
        return issuer.sign(tbs, ec.ECDSA(hashes.SHA256()))
    return issuer.sign(tbs, padding.PKCS1v15(), hashes.SHA256())


def _resigned(der: bytes, issuer: IssuerKey, *, spki: bytes | None, algorithm_at: int) -> bytes:
    tbs_der, _, _ = _children(der)
    tbs = _children(tbs_der)
    tbs[algorithm_at] = _sign_algorithm(issuer)
    if spki is not None:
        tbs[algorithm_at + 4] = spki  # signature, issuer, validity, subject, subjectPublicKeyInfo
    new_tbs = _sequence(tbs)
    return _sequence([new_tbs, tbs[algorithm_at], _tlv(0x03, b"\x00" + _sign(issuer, new_tbs))])


def _sign_algorithm(issuer: IssuerKey) -> bytes:
    if isinstance(issuer, GostKey):
        return _GOST_SIGNATURE_512
    return _ECDSA_SHA256 if isinstance(issuer, ec.EllipticCurvePrivateKey) else _RSA_SHA256


def certificate(built: x509.Certificate, issuer: IssuerKey, subject: GostKey | None) -> x509.Certificate:
    """``built`` (made by ``cryptography`` with a stand-in key) with ``subject``'s GOST key, signed by
    ``issuer``. The stand-in key must not be used afterwards: nothing in the result refers to it."""
    der = built.public_bytes(Encoding.DER)
    at = 2 if _children(_children(der)[0])[0][0] == 0xA0 else 1  # after the optional [0] version
    return x509.load_der_x509_certificate(
        _resigned(der, issuer, spki=subject.spki() if subject else None, algorithm_at=at)
    )


def revocation_list(built: x509.CertificateRevocationList, issuer: GostKey) -> x509.CertificateRevocationList:
    """``built`` signed again by the GOST ``issuer`` (its TBS names the GOST signature algorithm)."""
    der = built.public_bytes(Encoding.DER)
    at = 1 if _children(_children(der)[0])[0][0] == 0x02 else 0  # after the optional version INTEGER
    return x509.load_der_x509_crl(_resigned(der, issuer, spki=None, algorithm_at=at))
