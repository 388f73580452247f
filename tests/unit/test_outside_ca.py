"""Trusting a real certificate authority, as the operations guide says: its root appended to ``trust.pem``,
its CRLs dropped into ``crl/``. The CA here is made with ``cryptography`` alone, not the development CA's
code, so the recipe is tested against certificates the project did not shape."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from services.signature.ca import DevCA
from shared.wire.certs import KeyPurpose, TrustStore
from shared.wire.refusals import Refusal, RefusalError

NOW = dt.datetime.now(dt.UTC)
IIN = "850315300019"


def name(common_name: str) -> x509.Name:
    return x509.Name(
        [x509.NameAttribute(NameOID.COMMON_NAME, common_name), x509.NameAttribute(NameOID.COUNTRY_NAME, "KZ")]
    )


def ca_certificate(subject: x509.Name, issuer: x509.Name, key, signer) -> x509.Certificate:  # type: ignore[no-untyped-def]
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(NOW - dt.timedelta(days=1))
        .not_valid_after(NOW + dt.timedelta(days=3650))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(signer, hashes.SHA256())
    )


class OutsideCA:
    """A root and an issuing CA of another organisation, with a signing certificate for a citizen."""

    def __init__(self) -> None:
        self.root_key, self.issuing_key = (
            ec.generate_private_key(ec.SECP256R1()),
            ec.generate_private_key(ec.SECP256R1()),
        )
        self.root = ca_certificate(name("Outside Root"), name("Outside Root"), self.root_key, self.root_key)
        self.issuing = ca_certificate(name("Outside НУЦ"), name("Outside Root"), self.issuing_key, self.root_key)
        self.person_key = ec.generate_private_key(ec.SECP256R1())
        subject = x509.Name(
            [
                x509.NameAttribute(NameOID.COMMON_NAME, "ИВАНОВ ИВАН"),
                x509.NameAttribute(NameOID.SURNAME, "ИВАНОВ"),
                x509.NameAttribute(NameOID.SERIAL_NUMBER, f"IIN{IIN}"),
                x509.NameAttribute(NameOID.COUNTRY_NAME, "KZ"),
            ]
        )
        usage = x509.KeyUsage(True, True, False, False, False, False, False, False, False)
        self.person = (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(self.issuing.subject)
            .public_key(self.person_key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(NOW - dt.timedelta(days=1))
            .not_valid_after(NOW + dt.timedelta(days=365))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(usage, critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.EMAIL_PROTECTION]), critical=False)
            .sign(self.issuing_key, hashes.SHA256())
        )

    def crl(self, number: int, revoked: list[int], *, stale: bool = False, delta_of: int | None = None) -> bytes:
        this_update = NOW - (dt.timedelta(days=3) if stale else dt.timedelta(minutes=1))
        builder = (
            x509.CertificateRevocationListBuilder()
            .issuer_name(self.issuing.subject)
            .last_update(this_update)
            .next_update(this_update + dt.timedelta(days=1))
            .add_extension(x509.CRLNumber(number), critical=False)
        )
        if delta_of is not None:  # a delta CRL ("Freshest CRL") of base list number ``delta_of``
            builder = builder.add_extension(x509.DeltaCRLIndicator(delta_of), critical=True)
        for serial in revoked:
            builder = builder.add_revoked_certificate(
                x509.RevokedCertificateBuilder().serial_number(serial).revocation_date(this_update).build()
            )
        return builder.sign(self.issuing_key, hashes.SHA256()).public_bytes(serialization.Encoding.PEM)


@pytest.fixture
def pki(tmp_path: Path) -> tuple[Path, OutsideCA]:
    DevCA(tmp_path)  # the development CA exists already, as after `make run`
    outside = OutsideCA()
    with (tmp_path / "trust.pem").open("ab") as bundle:  # the recipe: append the outside root…
        bundle.write(outside.root.public_bytes(serialization.Encoding.PEM))
    (tmp_path / "crl" / "outside.pem").write_bytes(outside.crl(1, []))  # …and drop its CRL in, as .pem
    return tmp_path, outside


def store_of(folder: Path) -> TrustStore:
    return TrustStore.from_files(folder / "trust.pem", folder / "crl", refresh_seconds=0)


def verify(store: TrustStore, outside: OutsideCA) -> str:
    try:
        store.verify_chain([outside.person, outside.issuing], purpose=KeyPurpose.SIGN)
    except RefusalError as exc:
        return exc.code.value
    return "VALID"


def test_a_valid_signature_of_an_outside_ca_is_valid(pki: tuple[Path, OutsideCA]) -> None:
    folder, outside = pki
    assert verify(store_of(folder), outside) == "VALID"


def test_revocation_holds_even_when_an_older_crl_is_put_back(pki: tuple[Path, OutsideCA]) -> None:
    folder, outside = pki
    store = store_of(folder)
    (folder / "crl" / "outside.pem").write_bytes(outside.crl(2, [outside.person.serial_number]))
    store.refresh(force=True)
    assert verify(store, outside) == "CERT_REVOKED"
    (folder / "crl" / "outside.pem").write_bytes(outside.crl(1, []))  # the older list, copied back
    store.refresh(force=True)
    assert verify(store, outside) == "CERT_REVOKED"


def test_without_a_current_crl_the_refusal_names_the_certificate_and_its_issuer(
    pki: tuple[Path, OutsideCA],
) -> None:
    folder, outside = pki
    (folder / "crl" / "outside.pem").write_bytes(outside.crl(3, [], stale=True))
    with pytest.raises(RefusalError) as info:
        store_of(folder).verify_chain([outside.person, outside.issuing])
    assert info.value.code is Refusal.CERT_STATUS_UNKNOWN
    assert "Outside НУЦ" in info.value.detail and f"{outside.person.serial_number:x}" in info.value.detail


def test_the_development_ca_never_replaces_an_anchor_bundle_it_did_not_make(tmp_path: Path) -> None:
    outside = OutsideCA()
    tmp_path.mkdir(exist_ok=True)
    (tmp_path / "trust.pem").write_bytes(outside.root.public_bytes(serialization.Encoding.PEM))
    dev = DevCA(tmp_path)  # created now, with a bundle already there
    anchors = x509.load_pem_x509_certificates((tmp_path / "trust.pem").read_bytes())
    assert outside.root in anchors and dev.root in anchors
    DevCA(tmp_path)  # and again: nothing is duplicated
    assert len(x509.load_pem_x509_certificates((tmp_path / "trust.pem").read_bytes())) == 2


def test_a_delta_crl_revokes_beside_its_base_and_never_displaces_it(pki: tuple[Path, OutsideCA]) -> None:
    """НУЦ publishes base and delta CRLs. A revocation in the delta is enforced; the base, numbered below its
    delta, is never set aside as "older" (a delta lists only what changed, so losing the base would un-revoke
    everything it holds); and a fresh delta with a stale base is not a known status (fail closed)."""
    folder, outside = pki
    other_serial = x509.random_serial_number()
    (folder / "crl" / "outside.pem").write_bytes(outside.crl(10, [other_serial]))
    (folder / "crl" / "a-outside-delta.pem").write_bytes(outside.crl(11, [outside.person.serial_number], delta_of=10))
    store = store_of(folder)
    assert verify(store, outside) == Refusal.CERT_REVOKED
    (folder / "crl" / "a-outside-delta.pem").write_bytes(outside.crl(12, [], delta_of=10))  # the delta is renewed
    store.refresh(force=True)
    assert verify(store, outside) == "VALID"
    store.refresh(force=True)  # reloaded again: the base (10) is still there beside the newer delta (12)
    assert [c for c in store.crls if c.extensions.get_extension_for_class(x509.CRLNumber).value.crl_number == 10]
    (folder / "crl" / "outside.pem").write_bytes(outside.crl(13, [], stale=True))
    store.refresh(force=True)
    assert verify(store, outside) == Refusal.CERT_STATUS_UNKNOWN
