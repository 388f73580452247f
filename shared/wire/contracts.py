"""Public message contracts: message types and payload models shared by all services."""

from __future__ import annotations

import datetime as dt
import hashlib
import unicodedata
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from types import MappingProxyType
from typing import Annotated, Any, Literal, TypeVar

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError, model_validator

from shared.wire.cms import looks_like_cms
from shared.wire.refusals import Refusal, RefusalError, refusal_text

# Message types (envelope ``type``).
PING = "ping"
PONG = "pong"
PERSON_LOOKUP = "person.lookup"
DOCUMENT_VERIFY = "document.verify"
REFUSAL = "refusal"


def reply_type(request_type: str) -> str:
    return f"{request_type}.reply"


class Contract(BaseModel):
    model_config = ConfigDict(extra="forbid")


C = TypeVar("C", bound=Contract)


class RefusalPayload(Contract):
    code: Refusal
    message: str
    detail: str | None = None

    @classmethod
    def of(cls, exc: RefusalError) -> RefusalPayload:
        """The refusal as the wire carries it: its code, the regulation's text for it, the detail."""
        return cls(code=exc.code, message=refusal_text(exc.code), detail=exc.detail)


class Ping(Contract):
    reply_async: bool = Field(default=False, description="answer with a pong message too, not only a reply")


class Pong(Contract):
    service: str
    address: str
    at: dt.datetime


class PersonLookup(Contract):
    iin: str = Field(min_length=1, max_length=32)


class Address(Contract):
    district: str
    street: str
    house: str
    apartment: str | None = None
    city: str = "Астана"


class Person(Contract):
    iin: str
    surname: str
    name: str
    patronymic: str | None
    birth_date: dt.date
    sex: Literal["M", "F"]
    citizenship: str
    address: Address
    alive: bool
    death_date: dt.date | None = None


class PersonFound(Contract):
    """The reply to ``person.lookup``."""

    person: Person
    parents: list[str] = Field(default_factory=list, description="ИИН of the registered parents or guardians")


class Signature(Contract):
    """A signature of a document: a compact JWS (``x5c``), or a CMS SignedData in base64 as NCALayer's
    ``createCMSSignatureFromBase64`` returns it (RSA or GOST 2015; detached or with the document inside)."""

    jws: str | None = Field(default=None, min_length=1, max_length=256 * 1024)
    cms: str | None = Field(default=None, min_length=1, max_length=256 * 1024)

    @model_validator(mode="after")
    def _exactly_one(self) -> Signature:
        if (self.jws is None) == (self.cms is None):
            raise ValueError("give the signature as either jws or cms")
        return self

    @property
    def token(self) -> str:
        """The signature as the mesh carries it (a CMS is told from a JWS by its shape)."""
        return self.jws or self.cms or ""

    @staticmethod
    def of(token: str) -> dict[str, str]:
        """The fields that carry ``token`` (for a message to the signature service)."""
        return {"cms": token} if looks_like_cms(token) else {"jws": token}


class VerifyRequest(Signature):
    content: str | None = Field(
        default=None, max_length=400 * 1024, description="base64 of the document a detached CMS signs"
    )
    expected_iin: str | None = Field(default=None, max_length=12)
    expected_bin: str | None = Field(default=None, max_length=12)
    purpose: Literal["SIGN", "AUTH"] = Field(default="SIGN", description="the key usage required; never skipped")


class Signer(Contract):
    common_name: str
    surname: str | None
    given_name: str | None
    patronymic: str | None
    iin: str | None
    bin: str | None
    organization: str | None
    serial: str
    not_before: dt.datetime
    not_after: dt.datetime
    key_usage: str
    roles: list[str]
    issuer: str


class Verdict(Contract):
    valid: bool
    code: Refusal | None = None
    message: str | None = None
    signer: Signer | None = None
    payload: str | None = None  # the signed content, base64url, when valid


def parse_payload(contract: type[C], payload: dict[str, Any]) -> C:
    """Validate a message payload against its contract; a mismatch is a ``MALFORMED`` refusal."""
    try:
        return contract.model_validate(payload)
    except ValidationError as exc:
        raise RefusalError(Refusal.MALFORMED, f"{contract.__name__}: {exc.error_count()} invalid fields") from None


# -- the three e-services (portal ⇄ АРМ) ----------------------------------------------------------
ESERVICE_REQUEST = "eservice.request"  # portal → arm.<БИН>, async: a citizen's signed request
ESERVICE_STATUS = "eservice.status"  # arm.<БИН> → portal, async: each status of a request (see EServiceStatus)
SLOTS_QUERY = "slots.query"  # portal → arm.<БИН>, sync: free slots of the clinic's doctors
SLOT_HOLD = "slot.hold"  # portal → arm.<БИН>, sync: hold a slot while the citizen signs
ATTACHMENT_LOOKUP = "attachment.lookup"  # portal → arm, sync: which clinic a person is attached to
CLINICS_LIST = "clinics.list"  # portal → arm, sync: the clinics the АРМ hosts

IIN_PATTERN = r"^\d{12}$"
PHONE_PATTERN = r"^\+7\d{10}$"
CODE_PATTERN = r"^[A-Za-z0-9_.-]{1,40}$"  # doctor codes, registration numbers
# Free text from citizens: no control characters (NUL, in particular, is refused by PostgreSQL).
TEXT_PATTERN = r"^[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f]*$"
# Characters a clinic would not see as they are: controls (C0 and C1), format characters (bidi overrides,
# zero-width joiners and spaces), line and paragraph separators, private-use and surrogate code points.
_INVISIBLE = {"Cc", "Cf", "Zl", "Zp", "Co", "Cs"}


def _visible_text(value: str) -> str:
    """NFC-normalised text with nothing invisible in it; a ``ValueError`` names the first offender."""
    value = unicodedata.normalize("NFC", value)
    for char in value:
        if unicodedata.category(char) in _INVISIBLE:
            raise ValueError(f"invisible or control character U+{ord(char):04X} is not allowed")
    return value


FreeText = Annotated[str, AfterValidator(_visible_text)]


class ServiceKind(StrEnum):
    """The e-services of the regulation (and cancelling a booking, which frees its slot)."""

    HOME_CALL = "home_call"
    APPOINTMENT = "appointment"
    APPOINTMENT_CANCEL = "appointment_cancel"
    ATTACHMENT = "attachment"


MAX_DOCUMENT_BYTES = 2 * 1024 * 1024
MAX_DOCUMENTS = 3


class AttachedDocument(Contract):
    """A document attached in electronic form: named in the signed document by its hash."""

    name: FreeText = Field(min_length=1, max_length=120)
    media_type: Literal["application/pdf", "image/jpeg", "image/png"]
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    size: int = Field(ge=1, le=MAX_DOCUMENT_BYTES)


class DocumentFile(Contract):
    """The content of an attached document, travelling with the signed request to the clinic."""

    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    content: str = Field(max_length=(MAX_DOCUMENT_BYTES * 4) // 3 + 4, description="base64")


Documents = list[AttachedDocument] | None


def documents_field() -> Any:
    return Field(default=None, max_length=MAX_DOCUMENTS, description="attached documents (upload them first)")


class HomeCallForm(Contract):
    """Вызов врача на дом: the form's fields and their format requirements."""

    patient_iin: str | None = Field(default=None, pattern=IIN_PATTERN, description="ИИН of the patient if not you")
    address: FreeText = Field(min_length=5, max_length=200, description="where the doctor should come")
    phone: str = Field(pattern=PHONE_PATTERN, description="+7XXXXXXXXXX")
    complaints: FreeText = Field(min_length=3, max_length=500, description="complaints in the patient's words")
    temperature: float | None = Field(default=None, ge=34.0, le=43.0)
    documents: Documents = documents_field()


class AppointmentForm(Contract):
    """Запись на прием к врачу: a free slot of a doctor of your clinic."""

    patient_iin: str | None = Field(default=None, pattern=IIN_PATTERN)
    doctor_code: str = Field(pattern=CODE_PATTERN)
    slot_start: dt.datetime = Field(description="start of the slot, with its UTC offset")
    documents: Documents = documents_field()


class AppointmentCancelForm(Contract):
    """Cancel a booking by its registration number; the slot becomes free."""

    registration_number: str = Field(pattern=CODE_PATTERN)


class AttachmentForm(Contract):
    """Прикрепление к медицинской организации, оказывающей ПМСП."""

    patient_iin: str | None = Field(default=None, pattern=IIN_PATTERN, description="a minor's ИИН (you sign)")
    reason: Literal["voluntary", "residence_change"] = "voluntary"
    new_address: FreeText | None = Field(default=None, min_length=5, max_length=200)
    documents: Documents = documents_field()


FORMS: dict[ServiceKind, type[Contract]] = {
    ServiceKind.HOME_CALL: HomeCallForm,
    ServiceKind.APPOINTMENT: AppointmentForm,
    ServiceKind.APPOINTMENT_CANCEL: AppointmentCancelForm,
    ServiceKind.ATTACHMENT: AttachmentForm,
}


def once_key(iin: str, nonce: str) -> str:
    """A signed request's nonce *within its citizen's ИИН* — the nonce of a one-step request is the
    client's choice, and one person's nonce must never block another's request. SHA-256 hex of ИИН and
    nonce (64 characters, no personal data in the clear)."""
    return hashlib.sha256(f"{iin}\n{nonce}".encode()).hexdigest()


class SignedRequest(Contract):
    """The document a citizen signs (docs/signing.md): canonical JSON of service, ИИН, fields, provider, time, nonce."""

    service: ServiceKind
    iin: str = Field(pattern=IIN_PATTERN)
    provider: str = Field(pattern=IIN_PATTERN, description="БИН of the clinic")
    fields: dict[str, Any]
    time: dt.datetime
    nonce: str = Field(pattern=r"^[A-Za-z0-9_-]{8,64}$")
    operator_iin: str | None = Field(
        default=None, pattern=IIN_PATTERN, description="set when clinic staff file it for the citizen (diagram 2)"
    )

    def form(self) -> Contract:
        """The fields validated against the service's form; a mismatch is ``MALFORMED``."""
        return parse_payload(FORMS[self.service], self.fields)

    @property
    def patient_iin(self) -> str:
        return self.fields.get("patient_iin") or self.iin

    @property
    def once_key(self) -> str:
        """What makes this signed document count once: :func:`once_key` of its ИИН and nonce."""
        return once_key(self.iin, self.nonce)

    def documents(self) -> list[AttachedDocument]:
        """The attached documents the signature covers (by hash)."""
        return [AttachedDocument.model_validate(d) for d in self.fields.get("documents") or []]


class EServiceRequest(Contract):
    request_id: uuid.UUID
    document: str = Field(min_length=1, max_length=256 * 1024)
    files: list[DocumentFile] = Field(default_factory=list, max_length=MAX_DOCUMENTS)


# What a request can become at the clinic. ``registered``/``completed``/``refused`` are diagram 1's
# processes 6–8; the rest are what staff record afterwards in the journals (diagram 2, process 8):
# assigned (home call: a doctor assigned), visited (the doctor came), arrived (appointment: the patient
# came), fulfilled (was seen), no_show (did not come), cancelled (by the clinic, with the reason).
class ClinicStatus(StrEnum):
    REGISTERED = "registered"
    COMPLETED = "completed"
    REFUSED = "refused"
    ASSIGNED = "assigned"
    VISITED = "visited"
    ARRIVED = "arrived"
    FULFILLED = "fulfilled"
    NO_SHOW = "no_show"
    CANCELLED = "cancelled"


class RequestStatus(StrEnum):
    """A request as the portal shows it: its own steps, then the clinic's (:class:`ClinicStatus`)."""

    SUBMITTED = "submitted"  # stored and sent (process 5), nothing from the clinic yet
    FAILED = "failed"  # a technical failure before the clinic decided: the citizen may retry
    REGISTERED = "registered"
    COMPLETED = "completed"
    REFUSED = "refused"
    ASSIGNED = "assigned"
    VISITED = "visited"
    ARRIVED = "arrived"
    FULFILLED = "fulfilled"
    NO_SHOW = "no_show"
    CANCELLED = "cancelled"


# No outcome yet: a request in one of these can be overdue.
WAITING_STATUSES = frozenset({RequestStatus.SUBMITTED, RequestStatus.REGISTERED})
# The clinic's decision on the merits (process 8): the request has its outcome.
DECIDED_STATUSES = frozenset({RequestStatus.COMPLETED, RequestStatus.REFUSED})
# Nothing more comes without the citizen acting (a retry after ``failed``).
FINAL_STATUSES = DECIDED_STATUSES | {RequestStatus.FAILED}


class FiledRequest(Contract):
    """A request that clinic staff registered for a citizen (diagram 2): the portal shows it too."""

    iin: str = Field(pattern=IIN_PATTERN, description="the citizen the request is for")
    patient_iin: str = Field(pattern=IIN_PATTERN)
    service: ServiceKind
    document: str = Field(min_length=1, max_length=256 * 1024, description="the staff-signed document (JWS)")
    document_nonce: str = Field(pattern=r"^[A-Za-z0-9_-]{8,64}$")
    submitted_at: dt.datetime
    deadline: dt.datetime


class EServiceStatus(Contract):
    """A status of a request, sent by the clinic. ``seq`` orders them: the АРМ numbers a request's status
    messages 1, 2, 3…, and a receiver applies one only when its ``seq`` is higher than the last applied,
    so messages that cross in flight (or arrive twice) never overwrite a later status."""

    request_id: uuid.UUID
    seq: int = Field(ge=1, le=10_000)
    status: ClinicStatus
    at: dt.datetime
    registration_number: str | None = None
    refusal: RefusalPayload | None = None
    result: str | None = Field(default=None, description="the clinic-signed result (compact JWS)")
    note: str | None = Field(default=None, max_length=500, description="what staff recorded, e.g. the reason")
    filed: FiledRequest | None = Field(default=None, description="set when the request was filed at the clinic")


class SlotsQuery(Contract):
    doctor_code: str | None = Field(default=None, pattern=CODE_PATTERN)
    specialty: str | None = Field(default=None, max_length=80, pattern=TEXT_PATTERN)
    date_from: dt.date | None = None
    days: int = Field(default=7, ge=1, le=14)


class Slot(Contract):
    doctor_code: str
    doctor_name: str
    specialty: str
    room: str
    start: dt.datetime
    end: dt.datetime


class SlotsFound(Contract):
    """The reply to ``slots.query``: free slots, by day and doctor."""

    slots: list[Slot]


class SlotHeld(Contract):
    """The reply to ``slot.hold``: the slot is kept for the citizen until then."""

    held_until: dt.datetime


class DoctorInfo(Contract):
    code: str
    name: str
    specialty: str
    room: str


class ClinicInfo(Contract):
    bin: str
    name: str
    short_name: str
    district: str
    address: str
    phone: str
    fsms_contract: bool = Field(description="has a contract with ФСМС (a condition of attachment)")
    accepting: bool = Field(description="takes new attachments now (contract and room)")
    hours: dict[str, list[str]] = Field(description='ISO weekday → ["HH:MM", "HH:MM"], local time')
    timezone: str = Field(default="Asia/Almaty", description="the zone of the hours (IANA name)")
    doctors: list[DoctorInfo]


class ClinicsQuery(Contract):
    """``clinics.list`` asks with an empty payload."""


class ClinicsList(Contract):
    """The reply to ``clinics.list``."""

    clinics: list[ClinicInfo]


class SlotHoldRequest(Contract):
    doctor_code: str = Field(pattern=CODE_PATTERN)
    slot_start: dt.datetime
    iin: str = Field(pattern=IIN_PATTERN, description="the citizen who holds it (and will sign)")
    patient_iin: str | None = Field(default=None, pattern=IIN_PATTERN, description="the patient, if not the citizen")


class AttachmentLookup(Contract):
    iin: str = Field(pattern=IIN_PATTERN)


class AttachmentInfo(Contract):
    iin: str
    clinic_bin: str
    clinic_name: str
    site: int | None
    since: dt.datetime


# -- every message type, declared once ------------------------------------------------------------
Mode = Literal["sync", "async", "both"]


@dataclass(frozen=True, slots=True)
class MessageSpec:
    """A message type of the mesh: its payload model, the model of its reply (``<type>.reply``) when it is
    asked synchronously, how it travels, and what it is for. The dispatcher parses payloads and checks
    replies by it, the gateway's access rights accept only its types, and the AsyncAPI document is
    generated from it."""

    name: str
    payload: type[Contract]
    reply: type[Contract] | None
    mode: Mode
    summary: str


def _declare(*specs: MessageSpec) -> dict[str, MessageSpec]:
    return {spec.name: spec for spec in specs}


MESSAGES: Mapping[str, MessageSpec] = MappingProxyType(
    _declare(
        MessageSpec(
            PING,
            Ping,
            Pong,
            "both",
            "Reachability through the gateway; with reply_async, a pong comes back as a message.",
        ),
        MessageSpec(PONG, Pong, None, "async", "The answer to an asynchronous ping."),
        MessageSpec(PERSON_LOOKUP, PersonLookup, PersonFound, "sync", "ГБД ФЛ: a person and their registered parents."),
        MessageSpec(
            DOCUMENT_VERIFY, VerifyRequest, Verdict, "sync", "The signature service's verdict on a signed document."
        ),
        MessageSpec(
            ESERVICE_REQUEST, EServiceRequest, None, "async", "A citizen's signed request to a clinic (arm.<БИН>)."
        ),
        MessageSpec(
            ESERVICE_STATUS, EServiceStatus, None, "async", "Each status of a request, from the clinic, ordered by seq."
        ),
        MessageSpec(SLOTS_QUERY, SlotsQuery, SlotsFound, "sync", "Free slots of a clinic's doctors."),
        MessageSpec(SLOT_HOLD, SlotHoldRequest, SlotHeld, "sync", "Hold a slot while the citizen signs."),
        MessageSpec(
            ATTACHMENT_LOOKUP, AttachmentLookup, AttachmentInfo, "sync", "Which clinic a person is attached to."
        ),
        MessageSpec(CLINICS_LIST, ClinicsQuery, ClinicsList, "sync", "The clinics the АРМ hosts (an empty payload)."),
        MessageSpec(
            REFUSAL, RefusalPayload, None, "async", "A coded, motivated refusal (from the recipient or the gateway)."
        ),
    )
)
# Every message type of the mesh (replies are ``<type>.reply``).
MESSAGE_TYPES = frozenset(MESSAGES)
