"""HTTP request and response bodies of the portal."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from shared.wire.contracts import IIN_PATTERN, MAX_DOCUMENTS, RequestStatus, ServiceKind, Signature
from shared.wire.refusals import Refusal


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ChallengeOut(BaseModel):
    challenge: str = Field(description="the challenge's id, sent back with its signature")
    document: str = Field(description="canonical JSON: sign exactly these UTF-8 bytes with your own key (AUTH or SIGN)")
    expires_at: dt.datetime


class RegisterIn(Signature):
    """Proof of who registers: the challenge signed with the person's own key (JWS, or CMS as NCALayer makes
    it), and the password the account is to have. The ИИН is the certificate's."""

    challenge: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=1024)


class KeyLoginIn(Signature):
    """Log-in by ЭЦП: the challenge signed with the person's own key (JWS, or CMS as NCALayer makes it)."""

    challenge: str = Field(min_length=1, max_length=64)


class RegisteredOut(BaseModel):
    iin: str
    surname: str
    name: str
    created: bool = Field(description="false when an existing account got a new password (its sessions ended)")
    access_token: str
    token_type: str = "bearer"  # noqa: S105 - the OAuth token type, not a secret
    expires_at: dt.datetime


class LoginIn(Body):
    iin: str = Field(min_length=1, max_length=32)
    password: str = Field(min_length=1, max_length=1024)


class TokenOut(BaseModel):
    access_token: str
    token_type: str = "bearer"  # noqa: S105 - the OAuth token type, not a secret
    expires_at: dt.datetime


class ProfileOut(BaseModel):
    iin: str
    surname: str
    name: str
    attachment: dict[str, Any] | None


class ServiceOut(BaseModel):
    code: ServiceKind
    title: str
    result: str
    deadline: str
    contact_centre: str = Field(description="information and advice on the e-service by phone (п. 10)")
    form_schema: dict[str, Any]


class PrepareIn(Body):
    service: ServiceKind
    clinic_bin: str | None = Field(default=None, pattern=IIN_PATTERN)
    fields: dict[str, Any] = Field(default_factory=dict)
    documents: list[uuid.UUID] = Field(
        default_factory=list, max_length=MAX_DOCUMENTS, description="ids of your uploads to attach (POST /uploads)"
    )


class PreparedOut(BaseModel):
    draft_id: str
    document: str = Field(
        description="canonical JSON: sign exactly these UTF-8 bytes (compact JWS with x5c, or CMS as NCALayer makes it)"
    )
    expires_at: dt.datetime


class SignIn(Signature):
    """The citizen's signature of the document: ``jws``, or ``cms`` as NCALayer gives it (detached or not)."""


class EventOut(BaseModel):
    status: RequestStatus
    at: dt.datetime
    detail: str | None
    seq: int | None = Field(
        default=None, description="the clinic's number of this status (1, 2, …); none for the portal's own"
    )


class RefusalOut(BaseModel):
    code: Refusal
    message: str


class RequestOut(BaseModel):
    id: str
    iin: str
    patient_iin: str
    service: ServiceKind
    clinic_bin: str
    status: RequestStatus
    note: str | None = Field(default=None, description="what the clinic said with the status, e.g. a reason")
    channel: str = Field(default="portal", description="portal, or staff when filed at the clinic for you")
    correlation_id: str | None = Field(
        default=None, description="follows the request through every service (logs, the gateway's journal)"
    )
    registration_number: str | None
    deadline: dt.datetime
    submitted_at: dt.datetime
    updated_at: dt.datetime
    refusal: RefusalOut | None
    overdue: bool = Field(default=False, description="past its deadline and still without an outcome")
    overdue_since: dt.datetime | None = Field(default=None, description="when it was found past its deadline")
    has_result: bool
    history: list[EventOut] | None = None


class ResultOut(BaseModel):
    request_id: str
    jws: str = Field(description="the clinic-signed result; anyone can check it with POST /api/v1/verify")
    document: dict[str, Any]


class SignerOut(BaseModel):
    common_name: str
    organization: str | None
    bin: str | None


class CheckedOut(BaseModel):
    """A clinic-signed result as its public check finds it (the QR code's address, for machines)."""

    registration_number: str
    service: ServiceKind
    clinic_bin: str
    valid: bool = Field(description="the clinic's signature holds now: trusted chain, not revoked, signing right")
    code: Refusal | None = Field(default=None, description="why not, when it does not")
    signer: SignerOut | None
    document: dict[str, Any]


class SurveyIn(Body):
    """Приложение 3. Answers: 1 — не удовлетворен, 2 — частично удовлетворен, 3 — удовлетворен."""

    process_and_result: int = Field(ge=1, le=3, description="качеством процесса и результатом оказания услуги")
    information: int = Field(ge=1, le=3, description="качеством информации о порядке оказания услуги")


class IndicatorOut(BaseModel):
    service: ServiceKind
    answers: int
    overdue: int = Field(description="requests of this service that went past their deadline without an outcome")
    process_and_result: dict[str, int] = Field(description="answers by value: 1, 2, 3")
    information: dict[str, int]
    satisfied_share: float | None = Field(description="share of answers 'удовлетворен' to question 1")
