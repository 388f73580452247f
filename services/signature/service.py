"""Verdicts on signed documents (condition 2 of diagram 1): the rules, free of transport."""

from __future__ import annotations

import logging

from shared.certs import CertIdentity, KeyPurpose, TrustStore
from shared.contracts import Signer, Verdict, VerifyRequest
from shared.documents import verify_document
from shared.jws import b64url_encode
from shared.refusals import RefusalError, refusal_text

log = logging.getLogger(__name__)


def signer_of(identity: CertIdentity) -> Signer:
    return Signer(
        common_name=identity.common_name,
        surname=identity.surname,
        given_name=identity.given_name,
        patronymic=identity.patronymic,
        iin=identity.iin,
        bin=identity.bin,
        organization=identity.organization,
        serial=identity.serial,
        not_before=identity.not_before,
        not_after=identity.not_after,
        key_usage=identity.purpose.value,
        roles=list(identity.roles),
        issuer=identity.issuer,
    )


def verdict(request: VerifyRequest, store: TrustStore) -> Verdict:
    """Check a compact JWS and say whether it is valid, with the refusal code when it is not."""
    purpose = KeyPurpose(request.purpose)
    try:
        document = verify_document(
            request.jws, store, expected_iin=request.expected_iin, expected_bin=request.expected_bin, purpose=purpose
        )
    except RefusalError as exc:
        log.info("signature refused", extra={"code": exc.code, "detail": exc.detail})
        return Verdict(valid=False, code=exc.code, message=refusal_text(exc.code))
    return Verdict(valid=True, signer=signer_of(document.signer), payload=b64url_encode(document.payload))
