"""Verdicts on НУЦ РК's own test keys, RSA and GOST 2015, as JWS and as NCALayer's CMS: the trust store,
the document check every service uses, and the key files they come in."""

from __future__ import annotations

import base64
import datetime as dt

import pytest

from shared.wire import cms, jws, keyfile
from shared.wire.certs import KeyPurpose
from shared.wire.documents import attach_content, signed_content, verify_document
from shared.wire.refusals import Refusal, RefusalError
from tests.nca import (
    AFTER_GOST_CERT,
    AFTER_GOST_CRL,
    GOST_PERSON_IIN,
    NCA,
    RSA_PERSON_IIN,
    WHILE_GOST_CRL_CURRENT,
    WHILE_RSA_CRL_CURRENT,
    load_cert,
)

DOCUMENT = '{"service":"home_call","note":"Ауырып тұрмын"}'.encode()


def refused(code: Refusal, call) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(RefusalError) as info:
        call()
    assert info.value.code is code, info.value.detail


def test_a_valid_gost_key_is_read_as_its_holder() -> None:
    identity = NCA.store(WHILE_GOST_CRL_CURRENT).verify_chain(NCA.gost_person().chain)
    assert identity.iin == GOST_PERSON_IIN
    assert identity.surname == "ТЕСТТОВ"
    assert identity.purpose is KeyPurpose.SIGN
    assert identity.roles == ("1.2.398.3.3.4.1.1",)  # an individual


def test_the_head_of_an_organisation_is_read_with_bin_and_role() -> None:
    head = NCA.gost_revoked_head().chain
    identity = keyfile_identity(head)
    assert identity.bin == "123456789021"
    assert "1.2.398.3.3.4.1.2.1" in identity.roles


def keyfile_identity(chain):  # type: ignore[no-untyped-def]
    from shared.wire.certs import identity_of

    return identity_of(chain[0])


@pytest.mark.parametrize(
    ("chain", "at", "code"),
    [
        (lambda: NCA.gost_revoked_head().chain, WHILE_GOST_CRL_CURRENT, Refusal.CERT_REVOKED),
        (lambda: NCA.gost_person().chain, AFTER_GOST_CRL, Refusal.CERT_STATUS_UNKNOWN),
        (lambda: NCA.gost_person().chain, AFTER_GOST_CERT, Refusal.CERT_EXPIRED),
        (lambda: NCA.rsa_key("individual_revoked_sign_rsa.p12").chain, WHILE_RSA_CRL_CURRENT, Refusal.CERT_REVOKED),
        (lambda: NCA.rsa_key("individual_expired_sign_rsa.p12").chain, WHILE_RSA_CRL_CURRENT, Refusal.CERT_EXPIRED),
        (lambda: [load_cert(NCA / "certs" / "ceo_valid_sign_2004_gost.cer")], WHILE_RSA_CRL_CURRENT, None),
    ],
    ids=["gost-revoked", "gost-no-current-crl", "gost-expired", "rsa-revoked", "rsa-expired", "gost-2004"],
)
def test_verdicts_on_nca_certificates(chain, at: dt.datetime, code: Refusal | None) -> None:  # type: ignore[no-untyped-def]
    refused(code or Refusal.CERT_UNSUPPORTED_ALGORITHM, lambda: NCA.store(at).verify_chain(chain()))


def test_a_valid_nca_rsa_certificate_and_its_auth_twin() -> None:
    store = NCA.store(WHILE_RSA_CRL_CURRENT)
    sign = load_cert(NCA / "certs" / "individual_valid_sign_2004_rsa.cer")
    assert store.verify_chain([sign]).iin == RSA_PERSON_IIN
    auth = load_cert(NCA / "certs" / "individual_valid_sign_2004_rsa_auth.cer")
    refused(Refusal.CERT_WRONG_USAGE, lambda: store.verify_chain([auth]))
    assert store.verify_chain([auth], purpose=KeyPurpose.AUTH).iin == RSA_PERSON_IIN


def test_a_certificate_of_an_unknown_ca_is_untrusted() -> None:
    rsa_only = NCA.store(WHILE_GOST_CRL_CURRENT)
    rsa_only._set([a for a in NCA.anchors() if "RSA" in a.subject.rfc4514_string()], NCA.crls())
    refused(Refusal.CERT_UNTRUSTED, lambda: rsa_only.verify_chain(NCA.gost_person().chain))


def gost_jws(payload: bytes = DOCUMENT) -> str:
    person = NCA.gost_person()
    return jws.sign_compact(payload, person.key, person.chain)


def gost_cms(payload: bytes = DOCUMENT, *, detached: bool = True) -> str:
    person = NCA.gost_person()
    return cms.sign(payload, person.key, person.chain, signing_time=WHILE_GOST_CRL_CURRENT, detached=detached)


@pytest.mark.parametrize("form", ["jws", "cms-attached", "cms-detached-then-attached"])
def test_a_document_signed_with_the_nca_gost_key_is_accepted(form: str) -> None:
    if form == "jws":
        token = gost_jws()
    elif form == "cms-attached":
        token = gost_cms(detached=False)
    else:
        token = attach_content(gost_cms(), DOCUMENT)
    assert signed_content(token) == DOCUMENT
    document = verify_document(token, NCA.store(WHILE_GOST_CRL_CURRENT), expected_iin=GOST_PERSON_IIN)
    assert document.payload == DOCUMENT
    assert document.signer.iin == GOST_PERSON_IIN


def test_a_detached_cms_is_checked_against_the_document_it_is_given() -> None:
    store = NCA.store(WHILE_GOST_CRL_CURRENT)
    token = gost_cms()
    assert verify_document(token, store, detached_payload=DOCUMENT).payload == DOCUMENT
    refused(Refusal.SIGNATURE_INVALID, lambda: verify_document(token, store, detached_payload=DOCUMENT + b" "))
    refused(Refusal.SIGNATURE_INVALID, lambda: verify_document(token, store))  # no document at all


def test_a_tampered_gost_document_is_refused() -> None:
    store = NCA.store(WHILE_GOST_CRL_CURRENT)
    header, _, signature = gost_jws().split(".")
    forged = jws.b64url_encode(DOCUMENT.replace(b"home_call", b"attachment"))
    refused(Refusal.SIGNATURE_INVALID, lambda: verify_document(f"{header}.{forged}.{signature}", store))
    attached = cms.sign(DOCUMENT, NCA.gost_person().key, NCA.gost_person().chain, signing_time=WHILE_GOST_CRL_CURRENT)
    refused(Refusal.SIGNATURE_INVALID, lambda: verify_document(attach_content(attached, b"{}"), store))


def test_another_persons_key_does_not_sign_for_the_citizen() -> None:
    store = NCA.store(WHILE_GOST_CRL_CURRENT)
    refused(Refusal.IIN_MISMATCH, lambda: verify_document(gost_jws(), store, expected_iin=RSA_PERSON_IIN))
    # A signature by one key with another person's certificate in front of it does not verify.
    head = NCA.gost_revoked_head()
    swapped = jws.sign_compact(DOCUMENT, head.key, NCA.gost_person().chain)
    refused(Refusal.SIGNATURE_INVALID, lambda: verify_document(swapped, store))


def test_rsa_nca_keys_as_cms_are_verified_then_judged_by_their_certificate() -> None:
    revoked = NCA.rsa_key("individual_revoked_sign_rsa.p12")
    token = cms.sign(DOCUMENT, revoked.key, revoked.chain, signing_time=WHILE_RSA_CRL_CURRENT, detached=False)
    refused(Refusal.CERT_REVOKED, lambda: verify_document(token, NCA.store(WHILE_RSA_CRL_CURRENT)))
    auth = NCA.rsa_key("individual_revoked_auth_rsa.p12")
    token = jws.sign_compact(DOCUMENT, auth.key, auth.chain)
    refused(Refusal.CERT_REVOKED, lambda: verify_document(token, NCA.store(WHILE_RSA_CRL_CURRENT)))


@pytest.mark.parametrize(
    "token",
    ["MIIB", "not base64 at all!", "MAA=", "AAAA", "////", cms.sign.__name__],
    ids=["truncated", "not-base64", "empty-sequence", "primitive", "short", "word"],
)
def test_malformed_cms_is_refused_with_a_reason(token: str) -> None:
    for check in (
        lambda: verify_document(token, NCA.store(WHILE_GOST_CRL_CURRENT)),
        lambda: attach_content(token, DOCUMENT),  # what the portal and the АРМ do first with a detached CMS
        lambda: signed_content(token),
    ):
        with pytest.raises(RefusalError) as info:
            check()
        assert info.value.code is Refusal.SIGNATURE_INVALID
        assert info.value.detail


def test_a_jws_with_an_algorithm_outside_the_list_is_refused() -> None:
    header = jws.b64url_encode(b'{"alg":"GOST3410","x5c":["AA=="]}')
    refused(Refusal.SIGNATURE_INVALID, lambda: verify_document(f"{header}.e30.AAAA", NCA.store(WHILE_GOST_CRL_CURRENT)))


def test_a_gost_jws_names_its_algorithm() -> None:
    header = jws.parse(gost_jws())
    assert header.algorithm == jws.GOST_512


def test_a_key_file_with_a_wrong_password_is_refused() -> None:
    data = (NCA / "keys" / "individual_valid_2015_gost.p12").read_bytes()
    with pytest.raises(keyfile.KeyFileError, match="password"):
        keyfile.load_gost(data, "Qwerty12")
    with pytest.raises(keyfile.KeyFileError):
        keyfile.load_gost(data[:200], "Aa123456")


# -- the same verdicts through the signature service's rules and through a signed envelope ---------------


@pytest.mark.parametrize(
    ("signer", "at", "expected"),
    [
        (lambda: NCA.gost_person(), WHILE_GOST_CRL_CURRENT, None),
        (lambda: NCA.gost_revoked_head(), WHILE_GOST_CRL_CURRENT, "CERT_REVOKED"),
        (lambda: NCA.gost_person(), AFTER_GOST_CRL, "CERT_STATUS_UNKNOWN"),
        (lambda: NCA.gost_person(), AFTER_GOST_CERT, "CERT_EXPIRED"),
        (lambda: NCA.rsa_key("individual_revoked_sign_rsa.p12"), WHILE_RSA_CRL_CURRENT, "CERT_REVOKED"),
    ],
    ids=["gost-valid", "gost-revoked", "gost-no-current-crl", "gost-expired", "rsa-revoked"],
)
@pytest.mark.parametrize("form", ["jws", "cms"])
def test_the_signature_service_gives_the_same_verdicts(
    signer, at: dt.datetime, expected: str | None, form: str
) -> None:  # type: ignore[no-untyped-def]
    from services.signature.service import verdict
    from shared.wire.contracts import VerifyRequest

    key = signer()
    if form == "jws":
        request = VerifyRequest(jws=jws.sign_compact(DOCUMENT, key.key, key.chain))
    else:
        detached = cms.sign(DOCUMENT, key.key, key.chain, signing_time=at)
        request = VerifyRequest(cms=detached, content=base64.b64encode(DOCUMENT).decode())
    answer = verdict(request, NCA.store(at))
    if expected is None:
        assert answer.valid and answer.signer is not None and answer.signer.iin == GOST_PERSON_IIN
        assert answer.signer.key_usage == "SIGN" and base64.urlsafe_b64decode(answer.payload + "==") == DOCUMENT
    else:
        assert not answer.valid and answer.code == expected


def test_an_envelope_chain_with_gost_keys(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Envelopes between services are checked by the same code: a service signing with a GOST key of the
    development CA's GOST issuing CA is accepted; a НУЦ person's key cannot speak for a service; a revoked
    НУЦ key is refused as revoked before anything else."""
    from services.signature.ca import DevCA
    from shared.wire.clock import Clock
    from shared.wire.envelope import ServiceIdentity, open_envelope, seal

    ca = DevCA(tmp_path)
    issued = ca.issue_service("gbd_fl", "123456789021", key_type="gost")
    identity = ServiceIdentity(address="gbd_fl", key=issued.key, chain=issued.chain)  # type: ignore[arg-type]
    from shared.wire.certs import TrustStore

    store = TrustStore.from_files(tmp_path / "trust.pem", tmp_path / "crl")
    clock = Clock()
    _, raw = seal(identity, type="ping", recipient="portal", payload={}, clock=clock)
    opened = open_envelope(raw, store, clock)
    assert opened.signer.service == "gbd_fl" and opened.envelope.type == "ping"
    tampered = raw.replace(b'"recipient":"portal"', b'"recipient":"arm"')
    refused(Refusal.SIGNATURE_INVALID, lambda: open_envelope(tampered, store, clock))

    nca_clock = Clock.starting_at(WHILE_GOST_CRL_CURRENT)
    for key, code in ((NCA.gost_person(), Refusal.SIGNATURE_INVALID), (NCA.gost_revoked_head(), Refusal.CERT_REVOKED)):
        impostor = ServiceIdentity(address="gbd_fl", key=key.key, chain=key.chain)  # type: ignore[arg-type]
        _, raw = seal(impostor, type="ping", recipient="portal", payload={}, clock=nca_clock)
        refused(code, lambda raw=raw: open_envelope(raw, NCA.store(WHILE_GOST_CRL_CURRENT), nca_clock))


def test_the_signing_time_of_a_cms_is_honoured() -> None:
    """NCALayer's signing-time attribute: the certificate must have been valid then, and it cannot lie
    ahead of the clock."""
    store = NCA.store(WHILE_GOST_CRL_CURRENT)
    person = NCA.gost_person()

    def signed_at(moment: dt.datetime) -> str:
        return cms.sign(DOCUMENT, person.key, person.chain, signing_time=moment, detached=False)

    assert verify_document(signed_at(WHILE_GOST_CRL_CURRENT - dt.timedelta(days=1)), store).payload == DOCUMENT
    refused(
        Refusal.SIGNATURE_INVALID,
        lambda: verify_document(signed_at(WHILE_GOST_CRL_CURRENT + dt.timedelta(hours=1)), store),
    )
    before_issue = person.chain[0].not_valid_before_utc - dt.timedelta(days=1)
    refused(Refusal.CERT_NOT_YET_VALID, lambda: verify_document(signed_at(before_issue), store))


def test_a_certificate_of_nobodys_ca_costs_no_gost_signature_check(monkeypatch: pytest.MonkeyPatch) -> None:
    """The chain is judged before the signature: a large document "signed" under a certificate no trusted
    CA issued is refused without the milliseconds per kilobyte a GOST check would cost."""
    from shared.wire import gost

    calls: list[int] = []
    real_verify = gost.verify

    def counted(*args, **kwargs):  # type: ignore[no-untyped-def]
        calls.append(1)
        return real_verify(*args, **kwargs)

    monkeypatch.setattr(gost, "verify", counted)
    rsa_only = NCA.store(WHILE_GOST_CRL_CURRENT)
    rsa_only._set([a for a in NCA.anchors() if "RSA" in a.subject.rfc4514_string()], NCA.crls())
    person = NCA.gost_person()
    header, _, _ = jws.sign_compact(b"{}", person.key, person.chain).split(".")
    calls.clear()
    forged = f"{header}.{jws.b64url_encode(b'x' * 200_000)}.{jws.b64url_encode(bytes(128))}"
    refused(Refusal.CERT_UNTRUSTED, lambda: verify_document(forged, rsa_only))
    assert calls == []
    trusted = NCA.store(WHILE_GOST_CRL_CURRENT)
    verify_document(gost_jws(), trusted)  # the chain and the CRL checked once and remembered
    calls.clear()
    refused(Refusal.SIGNATURE_INVALID, lambda: verify_document(forged, trusted))
    assert calls == [1]  # under a trusted certificate the signature is checked (and fails)
