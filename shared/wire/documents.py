"""Signed documents: a citizen's or clinic's signature, checked end to end (condition 2 of diagram 1).

A document is signed either as a compact JWS or as a CMS SignedData in base64, the form NCALayer gives
(``shared.wire.cms``); both are told apart by their shape and checked the same way afterwards.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from shared.wire import cms
from shared.wire.certs import CertIdentity, KeyPurpose, Role, TrustStore
from shared.wire.jws import JwsError, JwsProblem, parse, verify_signature
from shared.wire.refusals import Refusal, RefusalError


@dataclass(frozen=True, slots=True)
class VerifiedDocument:
    signer: CertIdentity
    payload: bytes

    def claims(self) -> dict[str, Any]:
        """The payload as a JSON object; a payload that is not one is refused as malformed."""
        try:
            value = json.loads(self.payload)
        except (json.JSONDecodeError, UnicodeDecodeError):
            raise RefusalError(Refusal.MALFORMED, "document payload is not JSON") from None
        if not isinstance(value, dict):
            raise RefusalError(Refusal.MALFORMED, "document payload is not a JSON object")
        return value


def verify_document(
    token: str,
    store: TrustStore,
    *,
    expected_iin: str | None = None,
    expected_bin: str | None = None,
    purpose: KeyPurpose | None = KeyPurpose.SIGN,
    detached_payload: bytes | None = None,
) -> VerifiedDocument:
    """Check chain, validity, revocation, key usage, signature and identity; raise a coded RefusalError.

    The chain (cached, cheap) is judged before the signature: a GOST signature costs milliseconds of pure
    Python per kilobyte signed, which a certificate of nobody's CA must not be able to make the mesh spend."""
    chain, payload, signing_time, check_signature = _parsed(token, detached_payload)
    signer = store.verify_chain(chain, purpose=purpose)
    check_signature()
    if signing_time is not None:
        _check_signing_time(signing_time, signer, store.clock.now())
    if expected_iin is not None and signer.iin != expected_iin:
        raise RefusalError(Refusal.IIN_MISMATCH)
    if expected_bin is not None and signer.bin != expected_bin:
        raise RefusalError(Refusal.BIN_MISMATCH)
    return VerifiedDocument(signer=signer, payload=payload)


SIGNING_TIME_SKEW = dt.timedelta(minutes=5)


def _check_signing_time(signing_time: dt.datetime, signer: CertIdentity, now: dt.datetime) -> None:
    """A CMS says when it was signed (NCALayer's signing-time attribute): the key's certificate must have been
    valid then, and the moment may not lie ahead of the mesh's clock beyond a small skew."""
    if signing_time.tzinfo is None:
        signing_time = signing_time.replace(tzinfo=dt.UTC)
    if signing_time > now + SIGNING_TIME_SKEW:
        raise RefusalError(Refusal.SIGNATURE_INVALID, "the signing time lies in the future")
    if signing_time < signer.not_before:
        raise RefusalError(Refusal.CERT_NOT_YET_VALID, "the certificate was not yet valid at the signing time")
    if signing_time > signer.not_after:
        raise RefusalError(Refusal.CERT_EXPIRED, "the certificate had expired at the signing time")


def _parsed(
    token: str, detached_payload: bytes | None
) -> tuple[list[Any], bytes, dt.datetime | None, Callable[[], None]]:
    """The signer's chain, the signed bytes, (for a CMS) the signing time, and the signature's check, to run
    once the chain is judged; a malformed token is refused here."""
    if not isinstance(token, str):
        raise RefusalError(Refusal.SIGNATURE_INVALID, "signature invalid: not a string")
    if cms.looks_like_cms(token):
        try:
            signed = cms.parse(token, detached_payload)
        except cms.CmsError as exc:
            raise _cms_refusal(exc) from None

        def check_cms() -> None:
            try:
                signed.verify_signature()
            except cms.CmsError as exc:
                raise _cms_refusal(exc) from None

        return signed.chain, signed.payload, signed.signing_time, check_cms
    try:
        parsed = parse(token, detached_payload)
    except JwsError as exc:
        raise _jws_refusal(exc) from None

    def check_jws() -> None:
        try:
            verify_signature(parsed)
        except JwsError as exc:
            raise _jws_refusal(exc) from None

    return parsed.chain, parsed.payload, None, check_jws


def _cms_refusal(exc: cms.CmsError) -> RefusalError:
    code = Refusal.CERT_UNSUPPORTED_ALGORITHM if exc.unsupported else Refusal.SIGNATURE_INVALID
    return RefusalError(code, f"CMS signature invalid: {exc}")


def _jws_refusal(exc: JwsError) -> RefusalError:
    unsupported = exc.problem is JwsProblem.UNSUPPORTED_KEY
    return RefusalError(
        Refusal.CERT_UNSUPPORTED_ALGORITHM if unsupported else Refusal.SIGNATURE_INVALID, f"signature invalid: {exc}"
    )


def signed_content(token: str) -> bytes:
    """What a JWS or an attached CMS says it signs, before any check (to compare with a prepared document)."""
    try:
        if cms.looks_like_cms(token):
            return cms.parse(token).payload
        return parse(token).payload
    except (JwsError, cms.CmsError) as exc:
        raise RefusalError(Refusal.SIGNATURE_INVALID, f"not a signed document: {exc}") from None


def attach_content(token: str, document: bytes) -> str:
    """A detached CMS with the document it signs put inside (JWS and attached CMS unchanged), so that the
    signature travels as one self-contained token; the signed bytes do not change."""
    if not cms.looks_like_cms(token):
        return token
    try:
        return cms.attach(token, document)
    except cms.CmsError as exc:
        raise RefusalError(Refusal.SIGNATURE_INVALID, f"not a signed document: {exc}") from None


# Certificate roles that may sign for a clinic as its staff (diagram 2, process 5): employee or head.
STAFF_ROLES = frozenset({Role.EMPLOYEE.value, Role.HEAD.value})


def has_signing_right(signer: CertIdentity) -> bool:
    """A person (ИИН) whose certificate carries the right to sign for the organisation."""
    return signer.iin is not None and Role.SIGNING_RIGHT.value in signer.roles


def verify_clinic_result(token: str, store: TrustStore, clinic_bin: str) -> VerifiedDocument:
    """A clinic's result (process 8): signed for ``clinic_bin`` by a person of the clinic with the right to
    sign ("ЭЦП уполномоченного лица услугодателя") — a certificate with the clinic's БИН, a person's ИИН
    and the signing-right role. A seal without a person, or an employee without that right, is refused."""
    document = verify_document(token, store, expected_bin=clinic_bin)
    if not has_signing_right(document.signer):
        raise RefusalError(Refusal.NO_SIGNING_RIGHT)
    return document


def verification_code(result: str) -> str:
    """A short proof that the holder has seen the clinic-signed result (its QR code carries it): the public
    verification link is not guessable from a registration number."""
    return hashlib.sha256(result.encode()).hexdigest()[:16]


def verification_url(portal_url: str, number: str, result: str) -> str:
    """The public page that says whether a result is genuine: on the portal, for anyone holding the paper."""
    return f"{portal_url.rstrip('/')}/verify/{number}?h={verification_code(result)}"
