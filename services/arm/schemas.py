"""HTTP bodies of the АРМ's staff API."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from shared.wire.contracts import CODE_PATTERN, IIN_PATTERN, MAX_DOCUMENTS, FreeText, ServiceKind, Signature


class In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class StaffLoginIn(In):
    iin: str = Field(min_length=1, max_length=32)
    password: str = Field(min_length=1, max_length=256)


class StaffOut(BaseModel):
    iin: str
    surname: str
    name: str
    clinic_bin: str
    role: str
    doctor_code: str | None


class StaffTokenOut(BaseModel):
    access_token: str
    token_type: str = "bearer"  # noqa: S105 - the OAuth token type, not a secret
    expires_at: dt.datetime
    staff: StaffOut
    password_change_required: bool = False
    """The account's password was set by an operator: until ``POST /auth/password`` sets the holder's own,
    every other route answers 403 PASSWORD_CHANGE_REQUIRED."""


class PasswordChangeIn(In):
    current_password: str = Field(max_length=1024)
    new_password: str = Field(max_length=1024)


class StaffPrepareIn(In):
    service: ServiceKind
    iin: str = Field(pattern=IIN_PATTERN, description="the citizen the request is for (process 2)")
    fields: dict[str, Any] = Field(default_factory=dict, description="the form, as the portal channel's")
    documents: list[uuid.UUID] = Field(
        default_factory=list, max_length=MAX_DOCUMENTS, description="ids of your uploads (scanned documents)"
    )


class DocumentOut(BaseModel):
    name: str
    media_type: str
    sha256: str
    size: int


class RegistrationOut(BaseModel):
    """A request as the clinic sees it, with the documents attached to it."""

    number: str
    service: str
    channel: str
    status: str
    iin: str
    patient_iin: str
    registered_at: dt.datetime
    deadline: dt.datetime | None
    overdue_at: dt.datetime | None
    refusal_code: str | None
    documents: list[DocumentOut]


class StaffPreparedOut(BaseModel):
    draft_id: str
    document: str = Field(description="the exact bytes to sign with the staff member's own key (compact JWS or CMS)")
    expires_at: dt.datetime
    person: dict[str, Any]


class StaffSignIn(Signature):
    """The staff member's signature of the prepared document: ``jws``, or ``cms`` as NCALayer gives it."""


class RefusalBody(BaseModel):
    code: str
    message: str
    detail: str | None = None


class FiledOut(BaseModel):
    """Process 8: the journal entry, and what to tell the citizen (the date and time, the room…)."""

    request_id: str
    registration_number: str | None
    status: Literal["completed", "refused"]
    refusal: RefusalBody | None
    result_jws: str | None
    result: dict[str, Any] | None


class HomeCallOut(BaseModel):
    number: str
    called_at: dt.datetime
    patient_iin: str
    patient_name: str
    address: str
    phone: str
    complaints: str
    temperature: float | None
    category: str
    site: int | None
    doctor: str
    visit_from: dt.datetime
    visit_to: dt.datetime
    status: str
    note: str | None


class AppointmentOut(BaseModel):
    number: str
    doctor_code: str
    doctor_name: str
    room: str
    slot_start: dt.datetime
    patient_iin: str
    state: str = Field(description="booked, arrived, fulfilled, no_show or cancelled")
    note: str | None


class AttachmentOut(BaseModel):
    iin: str
    site: int | None
    since: dt.datetime
    until: dt.datetime | None
    reason: str
    left_reason: str | None


class PageOut(BaseModel):
    total: int
    page: int
    size: int
    items: list[Any]


class HomeCallChangeIn(In):
    action: Literal["assign", "visited", "cancel"]
    doctor: FreeText | None = Field(default=None, min_length=3, max_length=120)
    note: FreeText | None = Field(default=None, min_length=3, max_length=500)


class AppointmentChangeIn(In):
    action: Literal["arrived", "fulfilled", "no_show", "cancel"]
    note: FreeText | None = Field(default=None, min_length=3, max_length=500)


class AbsenceIn(In):
    doctor_code: str = Field(pattern=CODE_PATTERN)
    day: dt.date
    reason: FreeText = Field(min_length=3, max_length=200, description="leave, sickness…")


class AbsenceOut(BaseModel):
    doctor_code: str
    day: dt.date
    cancelled: list[str] = Field(description="registration numbers of the bookings cancelled")
