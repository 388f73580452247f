"""The public check of a clinic-signed result (the QR code on a result's PDF and on a slip): whoever holds
the paper learns whether it is genuine — who signed it, when, for which request — without logging in. The
link carries a code derived from the result itself, so registration numbers cannot be walked."""

from __future__ import annotations

import hmac
import json
import re
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select

from services.portal.models import Request
from shared.platform.db import Database
from shared.rules.errors import NotFound
from shared.wire.certs import CertIdentity, TrustStore
from shared.wire.documents import verification_code, verify_clinic_result
from shared.wire.jws import parse
from shared.wire.refusals import RefusalError

PROOF = re.compile(r"[0-9a-f]{16}")  # shared.wire.documents.verification_code


@dataclass(frozen=True, slots=True)
class CheckedResult:
    """A result as the public check found it: its request, whether its signature holds now, and by whom."""

    request: Request
    document: dict[str, Any]
    valid: bool
    code: str | None
    signer: CertIdentity | None


class Verification:
    """Finds a result by its registration number and the QR code's proof, and checks its signature now."""

    def __init__(self, db: Database, store: TrustStore) -> None:
        self.db, self.store = db, store

    async def check(self, number: str, code: str) -> CheckedResult:
        if not PROOF.fullmatch(code):  # what a QR code carries, and nothing else (compare_digest wants ASCII)
            raise NotFound("NOT_FOUND", "no such document: check the link or the QR code")
        async with self.db.sessions() as session:
            found = list(
                await session.scalars(
                    select(Request).where(Request.registration_number == number, Request.result.is_not(None))
                )
            )
        request = next((r for r in found if r.result and hmac.compare_digest(code, verification_code(r.result))), None)
        if request is None or request.result is None:
            raise NotFound("NOT_FOUND", "no such document: check the link or the QR code")
        try:
            signer: CertIdentity | None = verify_clinic_result(request.result, self.store, request.clinic_bin).signer
            valid, refusal = True, None
        except RefusalError as exc:
            signer, valid, refusal = None, False, exc.code.value
        document = json.loads(parse(request.result).payload)
        return CheckedResult(request, document, valid, refusal, signer)
