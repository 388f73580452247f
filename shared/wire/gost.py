"""GOST R 34.10-2015 signatures and GOST R 34.11-2012 (Streebog) digests as НУЦ РК uses them.

``cryptography`` parses GOST certificates and CRLs but refuses their keys and signatures, so this module
checks them itself. It follows the Kazakh profile (identifiers under ``1.2.398.3.10``), whose byte
order differs from RFC 4491/7091 and was established on НУЦ's own test certificates and CRLs (their
signatures verify only so; ``tests/unit/test_gost.py``):

* the public key is an OCTET STRING (inside the BIT STRING) of x then y, each little-endian;
* the signature is r then s, each little-endian (RFC 4491 writes s then r, big-endian);
* the digest, as Streebog's reference implementation emits it, is read as a little-endian integer.

Verification only is what the services need. :func:`sign` exists for the citizen's own tools and the
tests: like every pure-Python implementation it is not constant-time, so server-side signing stays on
RSA/EC keys (docs/signing.md).
"""

from __future__ import annotations

import functools
import operator
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

try:  # GMP's integers make a 512-bit verification about three times faster; plain ints give the same result
    from gmpy2 import mpz as _number
except ImportError:  # pragma: no cover - gmpy2 is a pinned dependency; the fallback keeps tools working without it
    _number = int


class GostOid(StrEnum):
    """Kazakh object identifiers of GOST 34.10-2015 and Streebog (НУЦ РК's certificate profile)."""

    SIGNATURE_512 = "1.2.398.3.10.1.1.2.3.2"  # GOST 34.10-2015 with Streebog-512
    SIGNATURE_256 = "1.2.398.3.10.1.1.2.3.1"  # GOST 34.10-2015 with Streebog-256
    PUBLIC_KEY = "1.2.398.3.10.1.1.2.2"
    PARAMS_512_A = "1.2.398.3.10.1.1.2.2.1"  # tc26 512 paramSetA
    PARAMS_256_A = "1.2.398.3.10.1.1.2.1.1"  # tc26 256 paramSetA
    DIGEST_512 = "1.2.398.3.10.1.3.3"
    DIGEST_256 = "1.2.398.3.10.1.3.2"


# -- Streebog (GOST R 34.11-2012) --------------------------------------------------------------------------
# The 512-bit state is held as one Python integer (little-endian, as the reference implementation lays it
# out), and the linear transformation LPS as 64 tables of full-width integers, one per byte position, so a
# round is 64 look-ups and XORs done by C loops rather than per-byte Python arithmetic.


def _streebog_tables() -> tuple[tuple[tuple[int, ...], ...], tuple[int, ...]]:
    from gostcrypto.gosthash import gost_34_11_2012 as reference  # the standard's constants, read once

    words: list[tuple[int, ...]] = reference._T  # 8 tables × 256 64-bit words
    by_position = tuple(
        tuple(words[position >> 3][byte] << (64 * (position & 7)) for byte in range(256)) for position in range(64)
    )
    constants = tuple(int.from_bytes(bytes(c), "little") for c in reference._C)
    return by_position, constants


_LPS_TABLES, _ROUND_CONSTANTS = _streebog_tables()
_MASK_512 = (1 << 512) - 1


def _lps(state: int) -> int:
    return functools.reduce(operator.xor, map(operator.getitem, _LPS_TABLES, state.to_bytes(64, "little")))


def _compress(h: int, n: int, block: int) -> int:
    key = _lps(h ^ n)
    state = key ^ block
    for constant in _ROUND_CONSTANTS:
        state = _lps(state)
        key = _lps(key ^ constant)
        state ^= key
    return state ^ h ^ block


def streebog(data: bytes, *, bits: int = 512) -> bytes:
    """Streebog-512 or -256 of ``data``, in the reference implementation's byte order."""
    if bits not in (256, 512):
        raise ValueError("Streebog digests are 256 or 512 bits")
    h = 0 if bits == 512 else int.from_bytes(b"\x01" * 64, "little")
    n = sigma = 0
    full = len(data) - len(data) % 64
    for offset in range(0, full, 64):
        block = int.from_bytes(data[offset : offset + 64], "little")
        h = _compress(h, n, block)
        n = (n + 512) & _MASK_512
        sigma = (sigma + block) & _MASK_512
    tail = data[full:]
    block = int.from_bytes(tail + b"\x01" + bytes(63 - len(tail)), "little")
    h = _compress(h, n, block)
    n = (n + 8 * len(tail)) & _MASK_512
    sigma = (sigma + block) & _MASK_512
    h = _compress(h, 0, n)
    h = _compress(h, 0, sigma)
    return h.to_bytes(64, "little")[64 - bits // 8 :]


# -- GOST R 34.10-2015 -------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Curve:
    """A short Weierstrass curve y² = x³ + ax + b over GF(p) with a base point of prime order q."""

    name: str
    p: int
    a: int
    b: int
    q: int
    x: int
    y: int

    @property
    def size(self) -> int:
        """Bytes of one coordinate (and of r and s)."""
        return (self.p.bit_length() + 7) // 8


TC26_512_A = Curve(
    name="tc26-512-paramSetA",
    p=2**512 - 569,
    a=2**512 - 572,
    b=int(
        "e8c2505dedfc86ddc1bd0b2b6667f1da34b82574761cb0e879bd081cfd0b6265ee3cb090f30d27614cb4574010da90dd862ef9d4ebee4761503190785a71c760",
        16,
    ),
    q=int(
        "ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff27e69532f48d89116ff22b8d4e0560609b4b38abfad2b85dcacdb1411f10b275",
        16,
    ),
    x=3,
    y=int(
        "7503cfe87a836ae3a61b8816e25450e6ce5e1c93acf1abc1778064fdcbefa921df1626be4fd036e93d75e6a50e3a41e98028fe5fc235f5b889a589cb5215f2a4",
        16,
    ),
)

TC26_256_A = Curve(
    name="tc26-256-paramSetA",
    p=2**256 - 617,
    a=int("c2173f1513981673af4892c23035a27ce25e2013bf95aa33b22c656f277e7335", 16),
    b=int("295f9bae7428ed9ccc20e7c359a9d41a22fccd9108e17bf7ba9337a6f8ae9513", 16),
    q=int("400000000000000000000000000000000fd8cddfc87b6635c115af556c360c67", 16),
    x=int("91e38443a5e82c0d880923425712b2bb658b9196932e02c78b2582fe742daa28", 16),
    y=int("32879423ab1a0375895786c4bb46e9565fde0b5344766740af268adb32322e5c", 16),
)

# The key's AlgorithmIdentifier { 1.2.398.3.10.1.1.2.2, { 512 paramSetA, Streebog-512 } } as НУЦ's GOST 2022
# certificates carry it, byte for byte (key files and the development CA write it the same way).
KEY_ALGORITHM_512_DER = bytes.fromhex("302306092a830e030a010102023016060a2a830e030a010102020106082a830e030a010303")

CURVES = {GostOid.PARAMS_512_A.value: TC26_512_A, GostOid.PARAMS_256_A.value: TC26_256_A}
DIGEST_BITS = {GostOid.SIGNATURE_512.value: 512, GostOid.SIGNATURE_256.value: 256}

_Jacobian = tuple[int, int, int]  # X, Y, Z with x = X/Z², y = Y/Z³; Z = 0 is the point at infinity
_INFINITY: _Jacobian = (1, 1, 0)


def _double(point: _Jacobian, curve: Curve) -> _Jacobian:
    x, y, z = point
    if not z or not y:
        return _INFINITY
    p = curve.p
    yy = y * y % p
    s = 4 * x * yy % p
    zz = z * z % p
    m = (3 * x * x + curve.a * zz * zz) % p
    x3 = (m * m - 2 * s) % p
    return x3, (m * (s - x3) - 8 * yy * yy) % p, 2 * y * z % p


def _add(first: _Jacobian, second: _Jacobian, curve: Curve) -> _Jacobian:
    x1, y1, z1 = first
    x2, y2, z2 = second
    if not z1:
        return second
    if not z2:
        return first
    p = curve.p
    z1z1 = z1 * z1 % p
    z2z2 = z2 * z2 % p
    u1 = x1 * z2z2 % p
    u2 = x2 * z1z1 % p
    s1 = y1 * z2 * z2z2 % p
    s2 = y2 * z1 * z1z1 % p
    if u1 == u2:
        return _double(first, curve) if s1 == s2 else _INFINITY
    h = (u2 - u1) % p
    r = (s2 - s1) % p
    hh = h * h % p
    hhh = h * hh % p
    v = u1 * hh % p
    x3 = (r * r - hhh - 2 * v) % p
    return x3, (r * (v - x3) - s1 * hhh) % p, h * z1 * z2 % p


def _affine_x(point: _Jacobian, curve: Curve) -> int | None:
    x, _, z = point
    if not z:
        return None
    return int(x * pow(z * z, -1, curve.p) % curve.p)


def _affine(point: _Jacobian, curve: Curve) -> tuple[int, int]:
    x, y, z = point
    z_inverse = pow(z, -1, curve.p)
    zz = z_inverse * z_inverse % curve.p
    return int(x * zz % curve.p), int(y * zz * z_inverse % curve.p)


def _twin_multiply(k1: int, p1: tuple[int, int], k2: int, p2: tuple[int, int], curve: Curve) -> _Jacobian:
    """k1·P1 + k2·P2 with one run of doublings (Shamir's trick), two bits of each scalar at a time: the 15
    sums i·P1 + j·P2 (i, j < 4) are made first, then every step is two doublings and at most one addition."""
    one = _number(1)
    first: _Jacobian = (_number(p1[0]), _number(p1[1]), one)
    second: _Jacobian = (_number(p2[0]), _number(p2[1]), one)
    firsts = [_INFINITY, first, _double(first, curve)]
    firsts.append(_add(firsts[2], first, curve))
    seconds = [_INFINITY, second, _double(second, curve)]
    seconds.append(_add(seconds[2], second, curve))
    table = [_add(firsts[i], seconds[j], curve) for j in range(4) for i in range(4)]
    result = _INFINITY
    top = max(k1.bit_length(), k2.bit_length(), 1)
    for shift in range(top + (top & 1) - 2, -1, -2):
        result = _double(_double(result, curve), curve)
        index = ((k1 >> shift) & 3) | (((k2 >> shift) & 3) << 2)
        if index:
            result = _add(result, table[index], curve)
    return result


def _on_curve(x: int, y: int, curve: Curve) -> bool:
    p = curve.p
    return 0 <= x < p and 0 <= y < p and (y * y - x * x * x - curve.a * x - curve.b) % p == 0


@dataclass(frozen=True, slots=True)
class GostPublicKey:
    """A GOST 34.10-2015 public key as a certificate carries it in the Kazakh profile."""

    curve: Curve
    x: int
    y: int

    @classmethod
    def from_octets(cls, octets: bytes, curve: Curve) -> GostPublicKey:
        """x ‖ y, each little-endian (the OCTET STRING inside a certificate's subjectPublicKey)."""
        size = curve.size
        if len(octets) != 2 * size:
            raise ValueError(f"a {curve.name} public key has {2 * size} bytes, got {len(octets)}")
        x = int.from_bytes(octets[:size], "little")
        y = int.from_bytes(octets[size:], "little")
        if not _on_curve(x, y, curve):
            raise ValueError("the public key is not a point of its curve")
        return cls(curve, x, y)

    def to_octets(self) -> bytes:
        size = self.curve.size
        return self.x.to_bytes(size, "little") + self.y.to_bytes(size, "little")


def digest_number(digest: bytes, q: int) -> int:
    """The integer e of GOST 34.10 from a digest, read little-endian (Kazakh profile); never zero."""
    return int.from_bytes(digest, "little") % q or 1


def verify_digest(key: GostPublicKey, digest: bytes, signature: bytes) -> bool:
    """Whether ``signature`` (r ‖ s, each little-endian) signs ``digest`` under ``key``."""
    curve = key.curve
    size = curve.size
    if len(signature) != 2 * size:
        return False
    r = int.from_bytes(signature[:size], "little")
    s = int.from_bytes(signature[size:], "little")
    q = curve.q
    if not (0 < r < q and 0 < s < q):
        return False
    v = pow(digest_number(digest, q), -1, q)
    z1 = s * v % q
    z2 = (q - r) * v % q
    x = _affine_x(_twin_multiply(z1, (curve.x, curve.y), z2, (key.x, key.y), curve), curve)
    return x is not None and x % q == r


def verify(key: GostPublicKey, message: bytes, signature: bytes, *, digest_bits: int | None = None) -> bool:
    """Whether ``signature`` signs ``message`` (hashed with Streebog of the key's size unless told)."""
    bits = digest_bits or (512 if key.curve.size == 64 else 256)
    return verify_digest(key, streebog(message, bits=bits), signature)


def _multiply(k: int, point: tuple[int, int], curve: Curve) -> tuple[int, int]:
    result = _twin_multiply(k, point, 0, point, curve)
    return _affine(result, curve)


def public_key_of(private: int, curve: Curve) -> GostPublicKey:
    x, y = _multiply(private, (curve.x, curve.y), curve)
    return GostPublicKey(curve, x, y)


def sign_digest(private: int, curve: Curve, digest: bytes, *, nonce: int | None = None) -> bytes:
    """r ‖ s (little-endian) over ``digest``. Not constant-time: for the citizen's tools and tests only."""
    q = curve.q
    e = digest_number(digest, q)
    while True:
        k = nonce if nonce is not None else secrets.randbelow(q - 1) + 1
        r = _multiply(k, (curve.x, curve.y), curve)[0] % q
        s = (r * private + k * e) % q
        if r and s:
            return r.to_bytes(curve.size, "little") + s.to_bytes(curve.size, "little")
        if nonce is not None:
            raise ValueError("this nonce gives a zero r or s")


def sign(private: int, curve: Curve, message: bytes, *, digest_bits: int | None = None) -> bytes:
    bits = digest_bits or (512 if curve.size == 64 else 256)
    return sign_digest(private, curve, streebog(message, bits=bits))


def curve_for(parameters: Sequence[str]) -> Curve:
    """The curve named by the first of a key's parameter OIDs that the mesh knows; ValueError if none."""
    for oid in parameters:
        if oid in CURVES:
            return CURVES[oid]
    raise ValueError(f"GOST parameter set {', '.join(parameters) or '(none)'} is not supported")
