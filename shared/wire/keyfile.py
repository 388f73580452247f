"""НУЦ РК key files (PKCS#12) with GOST 2015 keys, which ``cryptography``'s PKCS#12 loader refuses.

НУЦ's key files are ordinary PKCS#12 (RFC 7292): the key in a shrouded key bag encrypted with
pbeWithSHA1And3-KeyTripleDES-CBC, the certificates in an encrypted-data bag with
pbeWithSHA1And40BitRC2-CBC, an HMAC-SHA1 over the whole. Only the private key inside is what the library
cannot parse, so this module decrypts the bags itself (the PKCS#12 key derivation of RFC 7292 appendix B)
and reads the GOST key: a PrivateKeyInfo whose privateKey holds the scalar, little-endian like the rest of
the Kazakh profile. RSA and EC key files go to ``cryptography`` as before (:func:`clients.common.load_key`).
"""

from __future__ import annotations

import hashlib
import hmac
import os
from dataclasses import dataclass
from typing import Any, ClassVar

from asn1crypto import cms, core, pkcs12
from asn1crypto import keys as keys_module
from cryptography import x509
from cryptography.hazmat.decrepit.ciphers.algorithms import TripleDES
from cryptography.hazmat.primitives.ciphers import Cipher, modes
from cryptography.hazmat.primitives.padding import PKCS7
from cryptography.hazmat.primitives.serialization import Encoding

from shared.wire import gost
from shared.wire.keys import UnsupportedAlgorithm, public_key

_PBE_3DES = "1.2.840.113549.1.12.1.3"
_PBE_RC2_40 = "1.2.840.113549.1.12.1.6"
_PBE_RC2_128 = "1.2.840.113549.1.12.1.5"


class KeyFileError(ValueError):
    """A key file that cannot be opened: wrong password, damaged, or a kind this reader does not know."""


class NotGostKeyFile(KeyFileError):
    """A file this reader is not for (another MAC or cipher, or a key that is not GOST 2015): for
    ``cryptography``'s PKCS#12 loader to judge, not a verdict on the password."""


@dataclass(frozen=True, slots=True)
class GostKeyFile:
    """A GOST private key with its certificate chain (the signer's own certificate first)."""

    private: int
    curve: gost.Curve
    chain: list[x509.Certificate]


def _kdf(password: bytes, salt: bytes, iterations: int, purpose: int, size: int) -> bytes:
    """RFC 7292 B.2 with SHA-1 (u = 20, v = 64): purpose 1 = key, 2 = IV, 3 = MAC key."""
    v = 64  # SHA-1 block size; its output (u) is 20 bytes
    d = bytes([purpose]) * v

    def stretch(data: bytes) -> bytes:
        if not data:
            return b""
        length = v * ((len(data) + v - 1) // v)
        return (data * (length // len(data) + 1))[:length]

    i = stretch(salt) + stretch(password)
    out = b""
    while len(out) < size:
        a = d + i
        for _ in range(iterations):
            a = hashlib.sha1(a).digest()  # noqa: S324 - the PKCS#12 format's own derivation
        out += a
        b = int.from_bytes(stretch(a), "big")
        i = b"".join(
            ((int.from_bytes(i[j : j + v], "big") + b + 1) % (1 << (8 * v))).to_bytes(v, "big")
            for j in range(0, len(i), v)
        )
    return out[:size]


def _rc2_cbc_decrypt(key: bytes, iv: bytes, data: bytes) -> bytes:
    """RC2-CBC with the key's own length as its effective key bits. ``cryptography`` offers RC2 with 128-bit
    keys alone; НУЦ's key files encrypt their certificates with 40-bit RC2, as most PKCS#12 writers long did."""
    from Crypto.Cipher import ARC2

    cipher = ARC2.new(key, ARC2.MODE_CBC, iv=iv, effective_keylen=8 * len(key))  # noqa: S304 - the file's format
    return cipher.decrypt(data)


def _bmp_password(password: str) -> bytes:
    return password.encode("utf-16-be") + b"\x00\x00"


def _decrypt(algorithm: core.Sequence, data: bytes, password: bytes) -> bytes:
    oid = algorithm["algorithm"].dotted
    parameters = algorithm["parameters"]  # asn1crypto reads PKCS#12 PBE parameters as Pbes1Params
    salt = parameters["salt"].native
    iterations = parameters["iterations"].native
    if oid == _PBE_3DES:
        key = _kdf(password, salt, iterations, 1, 24)
        decryptor = Cipher(TripleDES(key), modes.CBC(_kdf(password, salt, iterations, 2, 8))).decryptor()
        padded = decryptor.update(data) + decryptor.finalize()
    elif oid in (_PBE_RC2_40, _PBE_RC2_128):
        key_size = 5 if oid == _PBE_RC2_40 else 16
        key = _kdf(password, salt, iterations, 1, key_size)
        padded = _rc2_cbc_decrypt(key, _kdf(password, salt, iterations, 2, 8), data)
    else:
        raise NotGostKeyFile(f"key file encryption {oid} is not supported")
    if len(data) % 8:
        raise KeyFileError("damaged key file")
    unpadder = PKCS7(64).unpadder()
    try:
        return unpadder.update(padded) + unpadder.finalize()
    except ValueError:
        raise KeyFileError("wrong password or damaged key file") from None


def _check_mac(pfx: pkcs12.Pfx, password: bytes) -> None:
    mac_data = pfx["mac_data"]
    if not mac_data:
        return
    digest_oid = mac_data["mac"]["digest_algorithm"]["algorithm"].native
    if digest_oid != "sha1":
        raise NotGostKeyFile(f"key file MAC with {digest_oid} is not supported")
    key = _kdf(password, mac_data["mac_salt"].native, mac_data["iterations"].native, 3, 20)
    content = pfx["auth_safe"]["content"].native
    expected = hmac.new(key, content, hashlib.sha1).digest()
    if not hmac.compare_digest(expected, mac_data["mac"]["digest"].native):
        raise KeyFileError("wrong password or damaged key file")


class _GostPrivateKeyInfo(core.Sequence):
    _fields: ClassVar[list[tuple[Any, ...]]] = [
        ("version", core.Integer),
        ("algorithm", core.Sequence),
        ("private_key", core.OctetString),
        ("attributes", core.Any, {"implicit": 0, "optional": True}),
    ]


def _scalar(private_key: bytes) -> int:
    """The GOST private key octets: an INTEGER, an OCTET STRING, or the bare little-endian number."""
    try:
        inner = core.Asn1Value.load(private_key, strict=True)
    except ValueError:
        return int.from_bytes(private_key, "little")
    if isinstance(inner, core.Integer) or inner.tag == 2:
        return int(core.Integer.load(private_key).native)
    if inner.tag == 4:
        return int.from_bytes(core.OctetString.load(private_key).native, "little")
    return int.from_bytes(private_key, "little")


def load_gost(data: bytes, password: str) -> GostKeyFile:
    """Open a НУЦ GOST key file; :class:`KeyFileError` with a reason if it cannot be used."""
    secret = _bmp_password(password)
    try:
        pfx = pkcs12.Pfx.load(data)
        _check_mac(pfx, secret)
        safe = pkcs12.AuthenticatedSafe.load(pfx["auth_safe"]["content"].native)
    except KeyFileError:
        raise
    except (ValueError, TypeError, KeyError) as exc:
        raise NotGostKeyFile(f"not a PKCS#12 key file: {exc}") from None
    key_infos: list[bytes] = []
    certificates: list[x509.Certificate] = []
    for content_info in safe:
        kind = content_info["content_type"].native
        if kind == "data":
            bags_der = content_info["content"].native
        elif kind == "encrypted_data":
            encrypted = content_info["content"]["encrypted_content_info"]
            bags_der = _decrypt(
                encrypted["content_encryption_algorithm"], encrypted["encrypted_content"].native, secret
            )
        else:
            continue
        for bag in pkcs12.SafeContents.load(bags_der):
            bag_type = bag["bag_id"].native
            if bag_type == "pkcs8_shrouded_key_bag":
                shrouded = bag["bag_value"]
                key_infos.append(_decrypt(shrouded["encryption_algorithm"], shrouded["encrypted_data"].native, secret))
            elif bag_type == "cert_bag":
                certificates.append(x509.load_der_x509_certificate(bag["bag_value"]["cert_value"].parsed.dump()))
    if not key_infos or not certificates:
        raise KeyFileError("the key file holds no key or no certificate")
    info = _GostPrivateKeyInfo.load(key_infos[0])
    algorithm = info["algorithm"]
    if algorithm[0].dotted != gost.GostOid.PUBLIC_KEY:
        raise NotGostKeyFile(f"not a GOST 2015 key ({algorithm[0].dotted})")
    private = _scalar(info["private_key"].native)
    for cert in certificates:
        try:
            key = public_key(cert)
        except UnsupportedAlgorithm:
            continue  # a CA certificate of another family beside the person's own
        if isinstance(key, gost.GostPublicKey) and gost.public_key_of(private, key.curve) == key:
            rest = [c for c in certificates if c is not cert]
            return GostKeyFile(private, key.curve, [cert, *rest])
    raise KeyFileError("no certificate in the key file matches its key")


def dump_gost(private: int, curve: gost.Curve, chain: list[x509.Certificate], password: str) -> bytes:
    """A GOST key file as НУЦ writes one (the key in a 3DES-shrouded bag, the certificates beside it, an
    HMAC-SHA1 over the whole), for the development CA's GOST keys; :func:`load_gost` and NCALayer read it."""
    secret = _bmp_password(password)
    if curve is not gost.TC26_512_A:
        raise KeyFileError("only GOST 2015 512-bit keys are written")
    algorithm = core.Sequence.load(gost.KEY_ALGORITHM_512_DER)
    key_info = _GostPrivateKeyInfo(
        {
            "version": 0,
            "algorithm": algorithm,
            "private_key": core.OctetString(private.to_bytes(curve.size, "little")).dump(),
        }
    ).dump()
    salt, iterations = os.urandom(20), 2048
    key = _kdf(secret, salt, iterations, 1, 24)
    iv = _kdf(secret, salt, iterations, 2, 8)
    padder = PKCS7(64).padder()
    encryptor = Cipher(TripleDES(key), modes.CBC(iv)).encryptor()
    encrypted = encryptor.update(padder.update(key_info) + padder.finalize()) + encryptor.finalize()
    key_id = {"type": "local_key_id", "values": [hashlib.sha1(chain[0].public_bytes(Encoding.DER)).digest()]}  # noqa: S324
    key_bag = pkcs12.SafeBag(
        {
            "bag_id": "pkcs8_shrouded_key_bag",
            "bag_value": keys_module.EncryptedPrivateKeyInfo(
                {
                    "encryption_algorithm": {
                        "algorithm": _PBE_3DES,
                        "parameters": {"salt": salt, "iterations": iterations},
                    },
                    "encrypted_data": encrypted,
                }
            ),
            "bag_attributes": [key_id],
        }
    )
    cert_bags = [
        pkcs12.SafeBag(
            {
                "bag_id": "cert_bag",
                "bag_value": pkcs12.CertBag(
                    {"cert_id": "x509", "cert_value": core.ParsableOctetString(cert.public_bytes(Encoding.DER))}
                ),
                **({"bag_attributes": [key_id]} if index == 0 else {}),
            }
        )
        for index, cert in enumerate(chain)
    ]
    safe = pkcs12.AuthenticatedSafe(
        [
            cms.ContentInfo({"content_type": "data", "content": pkcs12.SafeContents([key_bag]).dump()}),
            cms.ContentInfo({"content_type": "data", "content": pkcs12.SafeContents(cert_bags).dump()}),
        ]
    ).dump()
    mac_salt = os.urandom(20)
    mac_key = _kdf(secret, mac_salt, iterations, 3, 20)
    mac = hmac.new(mac_key, safe, hashlib.sha1).digest()
    pfx = pkcs12.Pfx(
        {
            "version": "v3",
            "auth_safe": cms.ContentInfo({"content_type": "data", "content": safe}),
            "mac_data": {
                "mac": {"digest_algorithm": {"algorithm": "sha1"}, "digest": mac},
                "mac_salt": mac_salt,
                "iterations": iterations,
            },
        }
    )
    return bytes(pfx.dump())
