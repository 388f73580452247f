"""Signed documents: a citizen's or clinic's compact JWS, checked end to end (condition 2 of diagram 1)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from shared.certs import CertIdentity, KeyPurpose, TrustStore
from shared.jws import JwsError, parse, verify_signature
from shared.refusals import Refusal, RefusalError


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
    """Check signature, chain, validity, revocation, key usage and identity; raise a coded RefusalError."""
    try:
        parsed = parse(token, detached_payload)
        verify_signature(parsed)
    except JwsError as exc:
        raise RefusalError(Refusal.SIGNATURE_INVALID, f"signature invalid: {exc}") from None
    signer = store.verify_chain(parsed.chain, purpose=purpose)
    if expected_iin is not None and signer.iin != expected_iin:
        raise RefusalError(Refusal.IIN_MISMATCH)
    if expected_bin is not None and signer.bin != expected_bin:
        raise RefusalError(Refusal.BIN_MISMATCH)
    return VerifiedDocument(signer=signer, payload=parsed.payload)
