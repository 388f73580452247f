"""GOST 34.10-2015 and Streebog (shared.wire.gost) against a second implementation (gostcrypto) and against
НУЦ РК's own certificates and CRLs, whose signatures fix the Kazakh byte order."""

from __future__ import annotations

import gostcrypto.gostsignature as reference_signature
import pytest
from gostcrypto.gosthash import new as reference_hash
from gostcrypto.gostsignature.gost_34_10_2012 import CURVES_R_1323565_1_024_2019 as REFERENCE_CURVES
from hypothesis import given, settings
from hypothesis import strategies as st

from shared.wire import gost, keys
from tests.nca import NCA, load_cert, load_crl

REFERENCE_NAMES = {
    gost.TC26_512_A.name: ("id-tc26-gost-3410-12-512-paramSetA", reference_signature.MODE_512),
    gost.TC26_256_A.name: ("id-tc26-gost-3410-2012-256-paramSetA", reference_signature.MODE_256),
}


@settings(max_examples=60, deadline=None)
@given(st.binary(max_size=300), st.sampled_from([256, 512]))
def test_streebog_matches_the_reference_implementation(data: bytes, bits: int) -> None:
    assert gost.streebog(data, bits=bits) == bytes(reference_hash(f"streebog{bits}", data=data).digest())


def test_streebog_of_the_standards_first_example() -> None:
    # GOST R 34.11-2012, example 1: M1 = "012…012" (63 bytes), H512(M1) as implementations emit it.
    message = b"012345678901234567890123456789012345678901234567890123456789012"
    assert gost.streebog(message).hex() == (
        "1b54d01a4af5b9d5cc3d86d68d285462b19abc2475222f35c085122be4ba1ffa"
        "00ad30f8767b3a82384c6574f024c311e2a481332b08ef7f41797891c1646f48"
    )


@pytest.mark.parametrize("curve", [gost.TC26_512_A, gost.TC26_256_A], ids=lambda c: c.name)
@settings(max_examples=5, deadline=None)
@given(private=st.integers(min_value=1, max_value=2**250), message=st.binary(max_size=200))
def test_signatures_agree_with_the_reference_implementation(curve: gost.Curve, private: int, message: bytes) -> None:
    name, mode = REFERENCE_NAMES[curve.name]
    reference = reference_signature.new(mode, REFERENCE_CURVES[name])
    size = curve.size
    public = gost.public_key_of(private, curve)
    reference_public = bytes(reference.public_key_generate(private.to_bytes(size, "big")))
    assert reference_public == public.x.to_bytes(size, "big") + public.y.to_bytes(size, "big")

    digest = gost.streebog(message, bits=size * 8)
    ours = gost.sign_digest(private, curve, digest)
    # gostcrypto writes numbers big-endian and reads the digest in the standard's order (reversed).
    as_reference = ours[:size][::-1] + ours[size:][::-1]
    assert reference.verify(reference_public, digest[::-1], as_reference)
    theirs = bytes(reference.sign(private.to_bytes(size, "big"), digest[::-1]))
    assert gost.verify_digest(public, digest, theirs[:size][::-1] + theirs[size:][::-1])
    tampered = bytes([ours[0] ^ 1]) + ours[1:]
    assert not gost.verify_digest(public, digest, tampered)
    assert not gost.verify(public, message + b"!", ours)


def test_the_nca_gost_2015_certificate_is_signed_by_its_ca() -> None:
    ca = load_cert(NCA / "ca" / "nca_gost2015_test.cer")
    person = NCA.gost_person()
    key = keys.public_key(ca)
    assert isinstance(key, gost.GostPublicKey) and key.curve is gost.TC26_512_A
    assert keys.certificate_signed_by(person.chain[0], ca)
    crl = load_crl(NCA / "crl" / "nca_gost2022_test.crl")
    assert keys.crl_signed_by(crl, ca)


def test_a_changed_byte_breaks_a_gost_certificate_signature() -> None:
    ca = load_cert(NCA / "ca" / "nca_gost2015_test.cer")
    leaf = NCA.gost_person().chain[0]
    signature = bytearray(leaf.signature)
    signature[5] ^= 0x40
    key = keys.public_key(ca)
    assert isinstance(key, gost.GostPublicKey)
    assert gost.verify(key, leaf.tbs_certificate_bytes, leaf.signature)
    assert not gost.verify(key, leaf.tbs_certificate_bytes, bytes(signature))
    assert not gost.verify(key, leaf.tbs_certificate_bytes + b"\x00", leaf.signature)


def test_the_rfc_4491_byte_order_does_not_verify_nca_signatures() -> None:
    """Why the module reads little-endian: the standard's order fails on НУЦ's own signature."""
    ca = load_cert(NCA / "ca" / "nca_gost2015_test.cer")
    leaf = NCA.gost_person().chain[0]
    key = keys.public_key(ca)
    assert isinstance(key, gost.GostPublicKey)
    size = key.curve.size
    big_endian_s_r = leaf.signature[size:][::-1] + leaf.signature[:size][::-1]
    assert not gost.verify(key, leaf.tbs_certificate_bytes, big_endian_s_r)


def test_a_point_off_the_curve_is_not_a_key() -> None:
    octets = bytearray(NCA.gost_person().key_octets())
    octets[0] ^= 1
    with pytest.raises(ValueError, match="not a point"):
        gost.GostPublicKey.from_octets(bytes(octets), gost.TC26_512_A)
