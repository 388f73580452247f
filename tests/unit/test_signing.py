"""JWS, envelopes and certificate checks without any running service."""

from __future__ import annotations

import base64
import datetime as dt
import json
from pathlib import Path

import pytest

from services.signature.ca import DevCA
from shared.wire.certs import KeyPurpose, Role, TrustStore, identity_of
from shared.wire.clock import Clock
from shared.wire.documents import verify_clinic_result, verify_document
from shared.wire.envelope import ServiceIdentity, open_envelope, seal
from shared.wire.jws import b64url_encode, sign_compact
from shared.wire.refusals import Refusal, RefusalError

NOW = dt.datetime.now(dt.UTC)


@pytest.fixture(scope="module")
def dev_ca(tmp_path_factory: pytest.TempPathFactory) -> DevCA:
    return DevCA(tmp_path_factory.mktemp("pki"))


@pytest.fixture(scope="module")
def trust(dev_ca: DevCA) -> TrustStore:
    return TrustStore.from_files(dev_ca.folder / "trust.pem", dev_ca.folder / "crl", refresh_seconds=0)


def refusal(call) -> Refusal:  # type: ignore[no-untyped-def]
    with pytest.raises(RefusalError) as info:
        call()
    return info.value.code


def test_identity_follows_the_nuc_profile(dev_ca: DevCA) -> None:
    person = identity_of(dev_ca.issue_person("850315300019", "ИВАНОВ", "ИВАН", "ИВАНОВИЧ").certificate)
    assert (person.iin, person.surname, person.given_name, person.patronymic) == (
        "850315300019",
        "ИВАНОВ",
        "ИВАН",
        "ИВАНОВИЧ",
    )
    assert person.purpose is KeyPurpose.SIGN and Role.INDIVIDUAL in person.roles
    head = identity_of(
        dev_ca.issue_employee("850315300019", "ИВАНОВ", "ИВАН", "980440012347", "Поликлиника", Role.HEAD).certificate
    )
    assert (head.bin, head.organization) == ("980440012347", "Поликлиника")
    assert {Role.LEGAL_ENTITY, Role.HEAD} <= set(head.roles)
    auth = identity_of(dev_ca.issue_person("850315300019", "A", "B", purpose=KeyPurpose.AUTH).certificate)
    assert auth.purpose is KeyPurpose.AUTH


@pytest.mark.parametrize("key_type", ["ec", "rsa"])
def test_document_round_trip(dev_ca: DevCA, trust: TrustStore, key_type: str) -> None:
    issued = dev_ca.issue_person("061211600012", "АХМЕТОВА", "ДИНАРА", key_type=key_type)
    token = sign_compact(b'{"service":"home_call"}', issued.key, issued.chain)
    document = verify_document(token, trust, expected_iin="061211600012")
    assert document.claims() == {"service": "home_call"}


def test_forged_headers_are_refused(dev_ca: DevCA, trust: TrustStore) -> None:
    issued = dev_ca.issue_person("061211600012", "A", "B")
    header, payload, signature = sign_compact(b"{}", issued.key, issued.chain).split(".")
    x5c = json.loads(base64.urlsafe_b64decode(header + "=="))["x5c"]
    for alg in ("none", "HS256", "RS512"):
        forged = b64url_encode(json.dumps({"alg": alg, "x5c": x5c}).encode())
        assert (
            refusal(lambda f=forged: verify_document(f"{f}.{payload}.{signature}", trust)) is Refusal.SIGNATURE_INVALID
        )
    assert refusal(lambda: verify_document(f"{header}.{payload}.", trust)) is Refusal.SIGNATURE_INVALID
    for odd in ("\x00", "=", "+", " "):  # characters a lenient base64 decoder would skip
        assert (
            refusal(lambda o=odd: verify_document(f"{header}.{payload}{o}.{signature}", trust))
            is Refusal.SIGNATURE_INVALID
        )
    assert refusal(lambda: verify_document("not-a-jws", trust)) is Refusal.SIGNATURE_INVALID


def test_chain_faults(dev_ca: DevCA, trust: TrustStore, tmp_path: Path) -> None:
    def verdict(**options) -> Refusal:  # type: ignore[no-untyped-def]
        issued = dev_ca.issue_person("061211600012", "A", "B", **options)
        return refusal(lambda: trust.verify_chain(issued.chain))

    assert (
        verdict(not_before=NOW - dt.timedelta(days=800), not_after=NOW - dt.timedelta(days=1)) is Refusal.CERT_EXPIRED
    )
    assert verdict(not_before=NOW + dt.timedelta(days=1)) is Refusal.CERT_NOT_YET_VALID
    assert verdict(purpose=KeyPurpose.AUTH) is Refusal.CERT_WRONG_USAGE
    stranger = DevCA(tmp_path / "other").issue_person("061211600012", "A", "B")
    assert refusal(lambda: trust.verify_chain(stranger.chain)) is Refusal.CERT_UNTRUSTED
    # A leaf presented without its intermediate cannot be chained either.
    alone = dev_ca.issue_person("061211600012", "A", "B")
    assert refusal(lambda: trust.verify_chain(alone.chain[:1])) is Refusal.CERT_UNTRUSTED


def test_revocation_fails_closed(tmp_path: Path) -> None:
    ca = DevCA(tmp_path / "pki")
    store = TrustStore.from_files(ca.folder / "trust.pem", ca.folder / "crl", refresh_seconds=0)
    issued = ca.issue_person("061211600012", "A", "B")
    store.verify_chain(issued.chain)
    ca.revoke(issued.certificate.serial_number)
    assert refusal(lambda: store.verify_chain(issued.chain)) is Refusal.CERT_REVOKED
    other = ca.issue_person("850315300019", "C", "D")
    ca.publish_crls(next_update=dt.timedelta(hours=1), last_update=NOW - dt.timedelta(hours=3))
    assert refusal(lambda: store.verify_chain(other.chain)) is Refusal.CERT_STATUS_UNKNOWN
    for crl in (ca.folder / "crl").glob("*.crl"):
        crl.unlink()
    assert refusal(lambda: store.verify_chain(other.chain)) is Refusal.CERT_STATUS_UNKNOWN
    # A CRL signed by another CA is ignored, so the status stays unknown.
    DevCA(tmp_path / "evil").publish_crls()
    for name in ("ca", "root"):
        (ca.folder / "crl" / f"{name}.crl").write_bytes((tmp_path / "evil" / "crl" / f"{name}.crl").read_bytes())
    assert refusal(lambda: store.verify_chain(other.chain)) is Refusal.CERT_STATUS_UNKNOWN


def test_revoked_certificate_refused_at_the_next_refresh_with_every_cache_warm(tmp_path: Path) -> None:
    """The header, chain and identity caches never outlive a revocation: once the refresh interval has
    passed, the next message of a revoked signer is refused, however often its chain was seen before."""
    ca = DevCA(tmp_path / "pki")
    ticks = [0.0]  # the store's monotonic clock, moved by hand: the test waits for nothing
    store = TrustStore.from_files(ca.folder / "trust.pem", ca.folder / "crl", monotonic=lambda: ticks[0])
    issued = ca.issue_service("portal", "121240000013")
    portal = ServiceIdentity("portal", issued.key, issued.chain)
    clock = Clock()

    def open_one() -> str:
        _, raw = seal(portal, type="ping", recipient="gbd_fl", payload={}, clock=clock)
        return str(open_envelope(raw, store, clock).signer.service)

    assert [open_one() for _ in range(3)] == ["portal"] * 3  # header, path and identity now cached
    ca.revoke(issued.certificate.serial_number)
    ticks[0] += 1.0
    assert open_one() == "portal"  # within the interval the files are not looked at: the bound it sets
    ticks[0] += 1.5
    assert refusal(open_one) is Refusal.CERT_REVOKED
    ticks[0] += 10.0  # and stays refused (no cache brings the old verdict back)
    assert refusal(open_one) is Refusal.CERT_REVOKED


def test_envelope_verification(dev_ca: DevCA, trust: TrustStore) -> None:
    issued = dev_ca.issue_service("portal", "121240000013")
    portal = ServiceIdentity("portal", issued.key, issued.chain)
    clock = Clock()
    _, raw = seal(portal, type="ping", recipient="gbd_fl", payload={"x": "1"}, clock=clock)
    opened = open_envelope(raw, trust, clock)
    assert opened.envelope.sender == "portal" and opened.signer.service == "portal"

    body = json.loads(raw)
    tampered = {**body, "payload": {"x": "2"}}
    assert refusal(lambda: open_envelope(json.dumps(tampered).encode(), trust, clock)) is Refusal.SIGNATURE_INVALID
    spoofed = {**body, "sender": "gateway"}
    assert refusal(lambda: open_envelope(json.dumps(spoofed).encode(), trust, clock)) is Refusal.SIGNATURE_INVALID
    _, as_other = seal(portal, type="ping", recipient="x", payload={}, clock=clock, sender="gbd_fl")
    assert refusal(lambda: open_envelope(as_other, trust, clock)) is Refusal.SIGNATURE_INVALID
    _, old = seal(portal, type="ping", recipient="x", payload={}, clock=clock.shifted(-3600))
    assert refusal(lambda: open_envelope(old, trust, clock)) is Refusal.EXPIRED
    assert refusal(lambda: open_envelope(b"{not json", trust, clock)) is Refusal.MALFORMED
    assert refusal(lambda: open_envelope(b'{"signature": "a..b"}', trust, clock)) is Refusal.MALFORMED


def test_base64url_is_strict() -> None:
    from shared.wire.jws import JwsError, b64url_decode

    assert b64url_decode("YWI") == b"ab"
    for text in ("YW\x00I", "YWI=", "YW I", "YW+I", "YW/I", "Y"):
        with pytest.raises(JwsError):
            b64url_decode(text)


def test_a_clinic_result_needs_a_person_with_the_right_to_sign(dev_ca: DevCA, trust: TrustStore) -> None:
    """Process 8: "ЭЦП уполномоченного лица услугодателя" — the clinic's БИН, a person, the signing right."""
    clinic, other = "980440012347", "030740045218"
    payload = '{"document": "Справка"}'.encode()

    def signed_by(issued) -> str:  # type: ignore[no-untyped-def]
        return sign_compact(payload, issued.key, issued.chain)

    head = dev_ca.issue_employee("750110490005", "А", "Б", clinic, "Поликлиника", (Role.HEAD, Role.SIGNING_RIGHT))
    assert verify_clinic_result(signed_by(head), trust, clinic).payload == payload
    employee = dev_ca.issue_employee("750110490005", "А", "Б", clinic, "Поликлиника")
    assert refusal(lambda: verify_clinic_result(signed_by(employee), trust, clinic)) is Refusal.NO_SIGNING_RIGHT
    seal = dev_ca.issue_organization(clinic, "Поликлиника", "Поликлиника")  # no person behind it
    assert refusal(lambda: verify_clinic_result(signed_by(seal), trust, clinic)) is Refusal.NO_SIGNING_RIGHT
    assert refusal(lambda: verify_clinic_result(signed_by(head), trust, other)) is Refusal.BIN_MISMATCH


def test_files_travelling_with_a_request_must_be_exactly_the_signed_ones() -> None:
    from shared.platform.attachments import check_files, file_of
    from shared.wire.contracts import AttachedDocument

    pdf = b"%PDF-1.4 scan"
    named = AttachedDocument(name="scan", media_type="application/pdf", sha256=file_of(pdf).sha256, size=len(pdf))
    assert check_files([named], [file_of(pdf)]) == {named.sha256: pdf}
    other = file_of(b"%PDF-1.4 another scan")
    assert refusal(lambda: check_files([named], [other])) is Refusal.MALFORMED  # a different file
    assert refusal(lambda: check_files([named], [file_of(pdf), other])) is Refusal.MALFORMED  # one too many
    forged = file_of(pdf).model_copy(update={"sha256": other.sha256})
    assert refusal(lambda: check_files([], [forged])) is Refusal.MALFORMED  # content does not match its hash
    as_png = named.model_copy(update={"media_type": "image/png"})
    assert refusal(lambda: check_files([as_png], [file_of(pdf)])) is Refusal.MALFORMED  # type judged by content


def test_certificates_made_while_the_clocks_ran_ahead_stay_valid_in_a_plain_run(tmp_path: Path) -> None:
    """`make run CLOCK_START=…` then a plain `make run`: what the dev CA made meanwhile must still work."""
    ahead = Clock(3 * 24 * 3600.0)
    dev = DevCA(tmp_path / "ahead", clock=ahead)
    person = dev.issue_person("850315300019", "А", "Б")
    for clock in (Clock(), ahead):  # real time, and the shifted time
        dev.clock = clock
        dev.publish_crls()
        store = TrustStore.from_files(dev.folder / "trust.pem", dev.folder / "crl", clock=clock, refresh_seconds=0)
        assert store.verify_chain(person.chain).iin == "850315300019"
