"""CMS SignedData (RFC 5652) as NCALayer makes it: the citizen's signature in the format egov.kz uses.

NCALayer's ``createCMSSignatureFromBase64`` returns base64 of a ContentInfo with SignedData: one signer,
its certificate inside, signed attributes (content type, message digest, signing time), and the content
either inside or detached. The signer's key is RSA (sha256WithRSAEncryption), EC (ecdsa-with-SHA256) or
GOST 34.10-2015 (Kazakh identifiers, Streebog; the signature r ‖ s little-endian as in certificates).

A detached signature is carried through the mesh attached: :func:`attach` puts the content the citizen
signed into the SignedData. That changes no signed byte (the signature covers the signed attributes,
which hold the content's digest), so every later check sees the same signature over the same content.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hashlib
from dataclasses import dataclass

from asn1crypto import algos, cms
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa

from shared.wire import gost, keys

MAX_CMS_BYTES = 256 * 1024

_SHA256 = "2.16.840.1.101.3.4.2.1"
_DIGESTS = {
    _SHA256: lambda data: hashlib.sha256(data).digest(),
    gost.GostOid.DIGEST_512.value: lambda data: gost.streebog(data, bits=512),
    gost.GostOid.DIGEST_256.value: lambda data: gost.streebog(data, bits=256),
}
_RSA = {"1.2.840.113549.1.1.1", "1.2.840.113549.1.1.11"}  # rsaEncryption, sha256WithRSAEncryption
_ECDSA = {"1.2.840.10045.4.3.2"}  # ecdsa-with-SHA256
_GOST = {gost.GostOid.SIGNATURE_512.value, gost.GostOid.SIGNATURE_256.value, gost.GostOid.PUBLIC_KEY.value}


class CmsError(ValueError):
    """A CMS signature that cannot be accepted; ``unsupported`` when only its algorithm is the problem."""

    def __init__(self, detail: str, *, unsupported: bool = False) -> None:
        super().__init__(detail)
        self.unsupported = unsupported


@dataclass(frozen=True, slots=True)
class ParsedCms:
    """A structurally valid SignedData whose signature is still unchecked."""

    chain: list[x509.Certificate]  # the signer's certificate first
    payload: bytes
    signing_time: dt.datetime | None
    _signer: cms.SignerInfo
    _signed_bytes: bytes  # what the signature covers: the DER of the signed attributes as a SET, or the content

    def verify_signature(self) -> None:
        """Check the signature with the signer certificate's key; raise :class:`CmsError`."""
        info = self._signer
        algorithm = info["signature_algorithm"]["algorithm"].dotted
        digest_oid = info["digest_algorithm"]["algorithm"].dotted
        signature = info["signature"].native
        try:
            key = keys.public_key(self.chain[0])
        except keys.UnsupportedAlgorithm as exc:
            raise CmsError(str(exc), unsupported=True) from None
        if algorithm in _GOST and isinstance(key, gost.GostPublicKey):
            bits = 512 if digest_oid == gost.GostOid.DIGEST_512 else 256
            if not gost.verify(key, self._signed_bytes, signature, digest_bits=bits):
                raise CmsError("signature does not match")
            return
        if digest_oid != _SHA256:
            raise CmsError(f"digest {digest_oid} does not fit the {algorithm} signature", unsupported=True)
        try:
            if algorithm in _RSA and isinstance(key, rsa.RSAPublicKey):
                key.verify(signature, self._signed_bytes, padding.PKCS1v15(), hashes.SHA256())
                return
            if algorithm in _ECDSA and isinstance(key, ec.EllipticCurvePublicKey):
                key.verify(signature, self._signed_bytes, ec.ECDSA(hashes.SHA256()))
                return
        except InvalidSignature:
            raise CmsError("signature does not match") from None
        raise CmsError(f"signature algorithm {algorithm} does not fit the signer's key", unsupported=True)


def decode(text: str) -> bytes:
    """The DER of a base64 (standard alphabet, as NCALayer returns it) or PEM CMS."""
    body = "".join(line for line in text.strip().splitlines() if not line.startswith("-----"))
    try:
        der = base64.b64decode(body, validate=True)
    except (binascii.Error, ValueError):
        raise CmsError("not base64") from None
    if len(der) > MAX_CMS_BYTES:
        raise CmsError("CMS too large")
    return der


def _signed_data(der: bytes) -> tuple[cms.ContentInfo, cms.SignedData]:
    """The ContentInfo and the SignedData inside it; :class:`CmsError` for anything else or damage."""
    try:
        info = cms.ContentInfo.load(der, strict=True)
        if info["content_type"].native != "signed_data":
            raise CmsError("not CMS SignedData")
        signed = info["content"]
        # Parse now what the checks read, so damage is found here (certificates stay raw: asn1crypto cannot
        # read a GOST key, and cryptography reads them later).
        for part in ("digest_algorithms", "encap_content_info", "signer_infos"):
            signed[part].native  # noqa: B018
    except CmsError:
        raise
    except (ValueError, TypeError, KeyError) as exc:
        raise CmsError(f"malformed CMS: {exc}") from None
    return info, signed


def parse(text: str, detached_content: bytes | None = None) -> ParsedCms:
    """Decode a base64 CMS SignedData and check its structure and signed attributes (not the signature)."""
    try:
        return _parse(text, detached_content)
    except CmsError:
        raise
    except (ValueError, TypeError, KeyError, IndexError) as exc:
        raise CmsError(f"malformed CMS: {exc}") from None


def _parse(text: str, detached_content: bytes | None) -> ParsedCms:
    _, signed = _signed_data(decode(text))
    infos = signed["signer_infos"]
    if len(infos) != 1:
        raise CmsError("exactly one signer is expected")
    info = infos[0]
    content = signed["encap_content_info"]["content"]
    if content.native is not None:
        payload = content.native
        if detached_content is not None and payload != detached_content:
            raise CmsError("the signed content is not the document")
    elif detached_content is not None:
        payload = detached_content
    else:
        raise CmsError("a detached CMS needs its document")
    certificates = [
        x509.load_der_x509_certificate(choice.chosen.dump())
        for choice in signed["certificates"] or []
        if isinstance(choice.chosen, asn1_x509.Certificate)
    ]
    signer = _signer_certificate(info, certificates)
    chain = [signer, *(c for c in certificates if c is not signer)]
    digest_oid = info["digest_algorithm"]["algorithm"].dotted
    digest = _DIGESTS.get(digest_oid)
    if digest is None:
        raise CmsError(f"digest algorithm {digest_oid} is not supported", unsupported=True)
    attributes = info["signed_attrs"]
    signing_time = None
    if attributes.native is None:
        signed_bytes = payload
    else:
        values = {a["type"].dotted: a["values"] for a in attributes}
        message_digest = values.get("1.2.840.113549.1.9.4")
        if message_digest is None or message_digest[0].native != digest(payload):
            raise CmsError("the message digest does not match the document")
        content_type = values.get("1.2.840.113549.1.9.3")
        if content_type is None or content_type[0].dotted != signed["encap_content_info"]["content_type"].dotted:
            raise CmsError("the content-type attribute is missing or wrong")
        if "1.2.840.113549.1.9.5" in values:
            signing_time = values["1.2.840.113549.1.9.5"][0].native
        # The signature covers the attributes' DER as a SET OF (tag 0x31), not as the [0] they are sent in.
        signed_bytes = b"\x31" + attributes.dump()[1:]
    return ParsedCms(chain, payload, signing_time, info, signed_bytes)


def _signer_certificate(info: cms.SignerInfo, certificates: list[x509.Certificate]) -> x509.Certificate:
    sid = info["sid"]
    for cert in certificates:
        if sid.name == "issuer_and_serial_number":
            wanted = sid.chosen
            if cert.serial_number == wanted["serial_number"].native and cert.issuer.public_bytes() == (
                wanted["issuer"].dump()
            ):
                return cert
        else:
            try:
                ski = cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value.digest
            except x509.ExtensionNotFound:
                continue
            if ski == sid.chosen.native:
                return cert
    raise CmsError("the signer's certificate is not in the CMS")


def attach(text: str, content: bytes) -> str:
    """The same SignedData with ``content`` inside (no-op if it is there); base64, as it was given."""
    info, signed = _signed_data(decode(text))
    encapsulated = signed["encap_content_info"]
    if encapsulated["content"].native is not None:
        return text
    encapsulated["content"] = content
    # Each level is set again so asn1crypto re-encodes just this path; the certificates keep their bytes
    # (a forced re-encoding would parse them, and asn1crypto cannot read a GOST key).
    signed["encap_content_info"] = encapsulated
    info["content"] = signed
    return base64.b64encode(info.dump()).decode("ascii")


def looks_like_cms(token: str) -> bool:
    """A compact JWS has two dots; NCALayer's base64 CMS has none (and starts with "MII")."""
    return "." not in token


GostSigner = tuple[int, gost.Curve]


def sign(
    content: bytes,
    key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey | GostSigner,
    chain: list[x509.Certificate],
    *,
    signing_time: dt.datetime,
    detached: bool = True,
) -> str:
    """A SignedData as NCALayer makes it (for the citizen's tools and the tests; base64)."""
    if isinstance(key, tuple):
        curve = key[1]
        bits = 512 if curve.size == 64 else 256
        digest_oid = gost.GostOid.DIGEST_512.value if bits == 512 else gost.GostOid.DIGEST_256.value
        signature_oid = gost.GostOid.SIGNATURE_512.value if bits == 512 else gost.GostOid.SIGNATURE_256.value
    else:
        digest_oid = _SHA256
        signature_oid = "1.2.840.113549.1.1.11" if isinstance(key, rsa.RSAPrivateKey) else "1.2.840.10045.4.3.2"
    attributes = cms.CMSAttributes(
        [
            cms.CMSAttribute({"type": "content_type", "values": ["data"]}),
            cms.CMSAttribute({"type": "signing_time", "values": [cms.Time({"utc_time": signing_time})]}),
            cms.CMSAttribute({"type": "message_digest", "values": [_DIGESTS[digest_oid](content)]}),
        ]
    )
    to_sign = attributes.dump()
    if isinstance(key, tuple):
        signature = gost.sign(key[0], key[1], to_sign, digest_bits=bits)
    elif isinstance(key, rsa.RSAPrivateKey):
        signature = key.sign(to_sign, padding.PKCS1v15(), hashes.SHA256())
    else:
        signature = key.sign(to_sign, ec.ECDSA(hashes.SHA256()))
    leaf = asn1_x509.Certificate.load(keys.der(chain[0]))
    signer_info = cms.SignerInfo(
        {
            "version": "v1",
            "sid": cms.SignerIdentifier(
                {
                    "issuer_and_serial_number": cms.IssuerAndSerialNumber(
                        {"issuer": leaf.issuer, "serial_number": leaf.serial_number}
                    )
                }
            ),
            "digest_algorithm": algos.DigestAlgorithm({"algorithm": digest_oid}),
            "signed_attrs": attributes,
            "signature_algorithm": algos.SignedDigestAlgorithm({"algorithm": signature_oid}),
            "signature": signature,
        }
    )
    encapsulated = {"content_type": "data", "content": None if detached else content}
    signed = cms.SignedData(
        {
            "version": "v1",
            "digest_algorithms": [algos.DigestAlgorithm({"algorithm": digest_oid})],
            "encap_content_info": encapsulated,
            "certificates": [asn1_x509.Certificate.load(keys.der(c)) for c in chain],
            "signer_infos": [signer_info],
        }
    )
    info = cms.ContentInfo({"content_type": "signed_data", "content": signed})
    return base64.b64encode(info.dump()).decode("ascii")
