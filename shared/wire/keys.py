"""Public keys and signature checks of certificates and CRLs, whatever the key: RSA, EC or Kazakh GOST 2015.

``cryptography`` parses every certificate and CRL НУЦ РК issues, but ``public_key()``,
``verify_directly_issued_by`` and ``is_signature_valid`` refuse GOST keys. This module gives the rest of
the mesh one place to ask "what is this certificate's key" and "did this issuer sign that", answering for
GOST with :mod:`shared.wire.gost` and for everything else with ``cryptography``. A key or signature algorithm
the mesh does not support raises :class:`UnsupportedAlgorithm`, which the callers turn into the refusal
``CERT_UNSUPPORTED_ALGORITHM`` — never a 500.
"""

from __future__ import annotations

import functools
import warnings
from typing import Any, ClassVar

from asn1crypto import core
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.exceptions import UnsupportedAlgorithm as _LibraryUnsupported
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import Encoding

from shared.wire import gost

# НУЦ's CA names are longer than RFC 5280's 64-character bound on a common name (69 for the GOST 2022 CA);
# the certificates are what the national CA issues, so the library's warning on every parse is only noise.
warnings.filterwarnings("ignore", message="Attribute's length must be", category=UserWarning)

PublicKey = rsa.RSAPublicKey | ec.EllipticCurvePublicKey | gost.GostPublicKey


class UnsupportedAlgorithm(ValueError):
    """A key or signature algorithm the mesh cannot check."""


class _AlgorithmIdentifier(core.Sequence):
    _fields: ClassVar[list[tuple[Any, ...]]] = [
        ("algorithm", core.ObjectIdentifier),
        ("parameters", core.Any, {"optional": True}),
    ]


class _SubjectPublicKeyInfo(core.Sequence):
    _fields: ClassVar[list[tuple[Any, ...]]] = [
        ("algorithm", _AlgorithmIdentifier),
        ("public_key", core.OctetBitString),
    ]


class _GostKeyParameters(core.Sequence):
    _fields: ClassVar[list[tuple[Any, ...]]] = [
        ("key_parameters", core.ObjectIdentifier),
        ("digest", core.ObjectIdentifier, {"optional": True}),
    ]


class _TbsCertificate(core.Sequence):
    """Only as far as the subject's key: the rest is ``cryptography``'s to read."""

    _fields: ClassVar[list[tuple[Any, ...]]] = [
        ("version", core.Any, {"explicit": 0, "optional": True}),
        ("serial_number", core.Integer),
        ("signature", core.Any),
        ("issuer", core.Any),
        ("validity", core.Any),
        ("subject", core.Any),
        ("subject_public_key_info", _SubjectPublicKeyInfo),
        ("issuer_unique_id", core.Any, {"implicit": 1, "optional": True}),
        ("subject_unique_id", core.Any, {"implicit": 2, "optional": True}),
        ("extensions", core.Any, {"explicit": 3, "optional": True}),
    ]


def _gost_key(spki: _SubjectPublicKeyInfo) -> gost.GostPublicKey:
    algorithm = spki["algorithm"]["algorithm"].dotted
    if algorithm != gost.GostOid.PUBLIC_KEY:
        raise UnsupportedAlgorithm(f"public key algorithm {algorithm} is not supported")
    parameters = spki["algorithm"]["parameters"]
    if parameters is None or not isinstance(parameters.parsed, core.Sequence):
        raise UnsupportedAlgorithm("a GOST key without its parameter set")
    chosen = _GostKeyParameters.load(parameters.dump())
    curve = gost.curve_for([chosen["key_parameters"].dotted])
    # The BIT STRING holds a DER OCTET STRING of x ‖ y (each little-endian in НУЦ's profile).
    octets = core.OctetString.load(spki["public_key"].native).native
    return gost.GostPublicKey.from_octets(octets, curve)


@functools.lru_cache(maxsize=1024)
def public_key(cert: x509.Certificate) -> PublicKey:
    """The certificate's subject key; :class:`UnsupportedAlgorithm` if the mesh cannot use it."""
    try:
        key = cert.public_key()
    except (_LibraryUnsupported, ValueError):
        tbs = _TbsCertificate.load(cert.tbs_certificate_bytes)
        try:
            return _gost_key(tbs["subject_public_key_info"])
        except UnsupportedAlgorithm:
            raise
        except (ValueError, TypeError) as exc:
            raise UnsupportedAlgorithm(f"unreadable public key: {exc}") from None
    if isinstance(key, rsa.RSAPublicKey | ec.EllipticCurvePublicKey):
        return key
    raise UnsupportedAlgorithm(f"{type(key).__name__} keys are not supported")


def _gost_signature_valid(
    issuer: x509.Certificate, signature_oid: x509.ObjectIdentifier, signed: bytes, signature: bytes
) -> bool:
    bits = gost.DIGEST_BITS.get(signature_oid.dotted_string)
    if bits is None:
        raise UnsupportedAlgorithm(f"signature algorithm {signature_oid.dotted_string} is not supported")
    key = public_key(issuer)
    if not isinstance(key, gost.GostPublicKey):
        return False
    return gost.verify(key, signed, signature, digest_bits=bits)


def is_gost_signature(oid: x509.ObjectIdentifier) -> bool:
    return oid.dotted_string.startswith("1.2.398.3.10.1.1.2.3.")


def certificate_signed_by(cert: x509.Certificate, issuer: x509.Certificate) -> bool:
    """Whether ``issuer`` (by name and key) signed ``cert``. Raises :class:`UnsupportedAlgorithm`."""
    if cert.issuer != issuer.subject:
        return False
    if is_gost_signature(cert.signature_algorithm_oid):
        return _gost_signature_valid(issuer, cert.signature_algorithm_oid, cert.tbs_certificate_bytes, cert.signature)
    try:
        cert.verify_directly_issued_by(issuer)
    except (ValueError, TypeError, InvalidSignature):
        return False
    except _LibraryUnsupported as exc:
        raise UnsupportedAlgorithm(str(exc)) from None
    return True


def crl_signed_by(crl: x509.CertificateRevocationList, issuer: x509.Certificate) -> bool:
    """Whether ``issuer``'s key signed ``crl``. Raises :class:`UnsupportedAlgorithm`."""
    if is_gost_signature(crl.signature_algorithm_oid):
        return _gost_signature_valid(issuer, crl.signature_algorithm_oid, crl.tbs_certlist_bytes, crl.signature)
    key = public_key(issuer)
    if isinstance(key, gost.GostPublicKey):
        return False
    return crl.is_signature_valid(key)


def der(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(Encoding.DER)
