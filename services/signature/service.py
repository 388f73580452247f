"""Verdicts on signed documents (condition 2 of diagram 1): the rules, free of transport."""

from __future__ import annotations

import base64
import binascii
import logging

from shared.wire.certs import CertIdentity, KeyPurpose, TrustStore
from shared.wire.contracts import Signer, Verdict, VerifyRequest
from shared.wire.documents import verify_document
from shared.wire.jws import b64url_encode
from shared.wire.refusals import Refusal, RefusalError, refusal_text

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
    """Check a compact JWS or a CMS and say whether it is valid, with the refusal code when it is not."""
    purpose = KeyPurpose(request.purpose)
    try:
        detached = None
        if request.content is not None:
            try:
                detached = base64.b64decode(request.content, validate=True)
            except (binascii.Error, ValueError):
                raise RefusalError(Refusal.MALFORMED, "content is not base64") from None
        document = verify_document(
            request.token,
            store,
            expected_iin=request.expected_iin,
            expected_bin=request.expected_bin,
            purpose=purpose,
            detached_payload=detached,
        )
    except RefusalError as exc:
        log.info("signature refused", extra={"code": exc.code, "detail": exc.detail})
        return Verdict(valid=False, code=exc.code, message=refusal_text(exc.code))
    return Verdict(valid=True, signer=signer_of(document.signer), payload=b64url_encode(document.payload))
