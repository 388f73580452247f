"""АРМ tables. Rules that must hold under concurrency are database constraints, not reads before writes:
one active booking per slot, one active booking per patient per doctor per day, one active attachment
per ИИН, one registration per signed document."""

from __future__ import annotations

import datetime as dt
from enum import StrEnum

from sqlalchemy import JSON, Boolean, Date, ForeignKey, Index, Integer, LargeBinary, String, Text, text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from shared.platform.attachments import UploadColumns
from shared.platform.auth import LoginCounterColumns, LoginSuccessColumns, TokenColumns
from shared.platform.db import StrEnumColumn, UtcDateTime
from shared.wire.contracts import ClinicStatus


class Base(DeclarativeBase):
    pass


class Clinic(Base):
    __tablename__ = "clinics"

    bin: Mapped[str] = mapped_column(String(12), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    short_name: Mapped[str] = mapped_column(String(80))
    district: Mapped[str] = mapped_column(String(40))
    address: Mapped[str] = mapped_column(String(200))
    phone: Mapped[str] = mapped_column(String(40))
    fsms_contract: Mapped[bool] = mapped_column(Boolean)
    capacity: Mapped[int] = mapped_column(Integer)
    hours: Mapped[dict] = mapped_column(JSON)  # {"1": ["08:00", "20:00"], …} local time, ISO weekday
    timezone: Mapped[str] = mapped_column(String(40))


class Site(Base):
    """Участок: a catchment area of streets served by one doctor."""

    __tablename__ = "sites"

    clinic_bin: Mapped[str] = mapped_column(ForeignKey("clinics.bin"), primary_key=True)
    number: Mapped[int] = mapped_column(Integer, primary_key=True)
    doctor: Mapped[str] = mapped_column(String(120))
    streets: Mapped[list] = mapped_column(JSON)


class Doctor(Base):
    __tablename__ = "doctors"

    code: Mapped[str] = mapped_column(String(40), primary_key=True)
    clinic_bin: Mapped[str] = mapped_column(ForeignKey("clinics.bin"), index=True)
    name: Mapped[str] = mapped_column(String(120))
    specialty: Mapped[str] = mapped_column(String(80))
    room: Mapped[str] = mapped_column(String(20))
    site: Mapped[int | None] = mapped_column(Integer)
    template: Mapped[dict] = mapped_column(JSON)  # weekdays, start, end, slot_minutes, breaks


class Absence(Base):
    """A day a doctor does not receive (leave, training); their slots disappear."""

    __tablename__ = "absences"

    doctor_code: Mapped[str] = mapped_column(ForeignKey("doctors.code"), primary_key=True)
    day: Mapped[dt.date] = mapped_column(Date, primary_key=True)
    reason: Mapped[str | None] = mapped_column(String(200))  # leave, sickness, training… (told to the booked)
    entered_by: Mapped[str | None] = mapped_column(String(12))  # ИИН of the staff member


class Counter(Base):
    """Per-clinic, per-year registration numbers."""

    __tablename__ = "registration_counters"

    clinic_bin: Mapped[str] = mapped_column(String(12), primary_key=True)
    year: Mapped[int] = mapped_column(Integer, primary_key=True)
    value: Mapped[int] = mapped_column(Integer, default=0)


class Registration(Base):
    """Process 6 of diagram 1: a signed request registered under the clinic's number."""

    __tablename__ = "registrations"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    number: Mapped[str] = mapped_column(String(40), unique=True)
    clinic_bin: Mapped[str] = mapped_column(String(12), index=True)
    service: Mapped[str] = mapped_column(String(30))
    request_id: Mapped[str] = mapped_column(String(36), index=True)
    # A signed document counts once: SignedRequest.once_key (its nonce within its citizen's ИИН).
    document_nonce: Mapped[str] = mapped_column(String(64), unique=True)
    iin: Mapped[str] = mapped_column(String(12), index=True)
    patient_iin: Mapped[str] = mapped_column(String(12), index=True)
    document: Mapped[str] = mapped_column(Text)
    status: Mapped[ClinicStatus] = mapped_column(StrEnumColumn(ClinicStatus))  # registered | completed | refused
    registered_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    decided_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)
    refusal_code: Mapped[str | None] = mapped_column(String(40))
    result: Mapped[str | None] = mapped_column(Text)
    status_seq: Mapped[int] = mapped_column(Integer, default=0)  # the last ``seq`` sent to the citizen's portal
    deadline: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)  # Приложение 1 for its service and channel
    overdue_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)  # when it was found past its deadline
    channel: Mapped[str] = mapped_column(String(10), default="portal")  # portal (diagram 1) | staff (diagram 2)
    operator_iin: Mapped[str | None] = mapped_column(String(12))  # the staff member who filed it (diagram 2)


class HomeCallStatus(StrEnum):
    """A home call in the journal: a doctor to come (``assigned``), then ``visited`` or ``cancelled``."""

    ASSIGNED = "assigned"
    VISITED = "visited"
    CANCELLED = "cancelled"


class BookingStatus(StrEnum):
    """A booked slot: ``active`` until cancelled (by the citizen, by the clinic, or by an absence)."""

    ACTIVE = "active"
    CANCELLED = "cancelled"


class Visit(StrEnum):
    """What happened at an active booking: the patient ``arrived``, then was seen (``fulfilled``) — or
    never came (``no_show``)."""

    ARRIVED = "arrived"
    FULFILLED = "fulfilled"
    NO_SHOW = "no_show"


class HomeCall(Base):
    """Журнал регистрации вызовов."""

    __tablename__ = "home_calls"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    registration_id: Mapped[int] = mapped_column(ForeignKey("registrations.id"), unique=True)
    clinic_bin: Mapped[str] = mapped_column(String(12), index=True)
    number: Mapped[str] = mapped_column(String(40))
    called_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    patient_iin: Mapped[str] = mapped_column(String(12))
    patient_name: Mapped[str] = mapped_column(String(200))
    address: Mapped[str] = mapped_column(String(200))
    phone: Mapped[str] = mapped_column(String(20))
    complaints: Mapped[str] = mapped_column(Text)
    temperature: Mapped[float | None]
    category: Mapped[str] = mapped_column(String(40))
    site: Mapped[int | None] = mapped_column(Integer)
    doctor: Mapped[str] = mapped_column(String(120))
    visit_from: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    visit_to: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    status: Mapped[HomeCallStatus] = mapped_column(StrEnumColumn(HomeCallStatus), index=True)
    note: Mapped[str | None] = mapped_column(String(500))  # e.g. why it was cancelled
    changed_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)
    changed_by: Mapped[str | None] = mapped_column(String(12))  # ИИН of the staff member
    overdue_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)  # the visit window passed, no visit


class Booking(Base):
    __tablename__ = "bookings"
    __table_args__ = (
        # A slot can be booked once; a cancelled booking frees it (partial unique indexes: SQLite and PostgreSQL).
        Index(
            "uq_active_slot",
            "doctor_code",
            "slot_start",
            unique=True,
            sqlite_where=text("status = 'active'"),
            postgresql_where=text("status = 'active'"),
        ),
        Index(
            "uq_active_patient_doctor_day",
            "patient_iin",
            "doctor_code",
            "slot_day",
            unique=True,
            sqlite_where=text("status = 'active'"),
            postgresql_where=text("status = 'active'"),
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    registration_id: Mapped[int] = mapped_column(ForeignKey("registrations.id"))
    number: Mapped[str] = mapped_column(String(40), index=True)
    clinic_bin: Mapped[str] = mapped_column(String(12))
    doctor_code: Mapped[str] = mapped_column(ForeignKey("doctors.code"))
    slot_start: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    slot_day: Mapped[dt.date] = mapped_column(Date)
    iin: Mapped[str] = mapped_column(String(12))
    patient_iin: Mapped[str] = mapped_column(String(12))
    status: Mapped[BookingStatus] = mapped_column(StrEnumColumn(BookingStatus))
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    cancelled_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)
    visit: Mapped[Visit | None] = mapped_column(StrEnumColumn(Visit))  # what happened, none yet
    note: Mapped[str | None] = mapped_column(String(500))  # e.g. why the clinic cancelled it
    changed_by: Mapped[str | None] = mapped_column(String(12))  # ИИН of the staff member


class SlotHold(Base):
    """A slot held for a few minutes while the citizen signs ("отправить запрос" → "подписать")."""

    __tablename__ = "slot_holds"

    doctor_code: Mapped[str] = mapped_column(String(40), primary_key=True)
    slot_start: Mapped[dt.datetime] = mapped_column(UtcDateTime, primary_key=True)
    iin: Mapped[str] = mapped_column(String(12))
    expires_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)


class Attachment(Base):
    """The attachment register: one open attachment per ИИН (``until`` is null)."""

    __tablename__ = "attachments"
    __table_args__ = (
        Index(
            "uq_open_attachment",
            "iin",
            unique=True,
            sqlite_where=text("until IS NULL"),
            postgresql_where=text("until IS NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    iin: Mapped[str] = mapped_column(String(12), index=True)
    clinic_bin: Mapped[str] = mapped_column(String(12), index=True)
    site: Mapped[int | None] = mapped_column(Integer)
    since: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    until: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)
    reason: Mapped[str] = mapped_column(String(30))  # initial | voluntary | residence_change
    registration_id: Mapped[int | None] = mapped_column(ForeignKey("registrations.id"))
    left_reason: Mapped[str | None] = mapped_column(String(200))  # why it closed, e.g. "moved to <БИН>"


class Staff(Base):
    """A clinic's staff member: belongs to exactly one clinic, with one role (diagram 2, process 1)."""

    __tablename__ = "staff"

    iin: Mapped[str] = mapped_column(String(12), primary_key=True)
    clinic_bin: Mapped[str] = mapped_column(ForeignKey("clinics.bin"), index=True)
    surname: Mapped[str] = mapped_column(String(80))
    name: Mapped[str] = mapped_column(String(80))
    role: Mapped[str] = mapped_column(String(20))  # registrar | doctor | head
    doctor_code: Mapped[str | None] = mapped_column(String(40))  # the doctor's schedule, for role doctor
    password_hash: Mapped[str] = mapped_column(String(200))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    # An account made by an operator (services.arm.admin) starts with a password someone else typed: its
    # holder must choose their own before the workstation lets them do anything else.
    must_change_password: Mapped[bool] = mapped_column(Boolean, default=False, server_default=text("false"))


class PersonLookup(Base):
    """Diagram 2, processes 3–4: a staff member's look-up of a citizen in ГБД ФЛ and why — journaled
    before the question is asked, so that every look-up of a person is on record for them to see."""

    __tablename__ = "person_lookups"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[dt.datetime] = mapped_column(UtcDateTime, index=True)
    person_iin: Mapped[str] = mapped_column(String(12), index=True)
    staff_iin: Mapped[str] = mapped_column(String(12))
    clinic_bin: Mapped[str] = mapped_column(String(12))
    reason: Mapped[str] = mapped_column(String(200))


class StaffToken(TokenColumns, Base):
    """A staff member's access token, stored only as its SHA-256."""

    __tablename__ = "staff_tokens"


class StaffLoginCounter(LoginCounterColumns, Base):
    __tablename__ = "staff_login_counters"


class StaffLoginSuccess(LoginSuccessColumns, Base):
    __tablename__ = "staff_login_successes"


class StaffDraft(Base):
    """Diagram 2, process 5: the filled form as the exact document the staff member is to sign."""

    __tablename__ = "staff_drafts"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    operator_iin: Mapped[str] = mapped_column(String(12), index=True)
    clinic_bin: Mapped[str] = mapped_column(String(12))
    document: Mapped[str] = mapped_column(Text)  # canonical JSON, exactly the bytes to sign
    person: Mapped[dict] = mapped_column(JSON)  # the patient as ГБД ФЛ gave it (process 3)
    parents: Mapped[list] = mapped_column(JSON)
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    expires_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    used_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)


class RequestDocument(Base):
    """A document attached to a registered request; its hash is in the signed document."""

    __tablename__ = "request_documents"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    registration_id: Mapped[int] = mapped_column(ForeignKey("registrations.id"), index=True)
    name: Mapped[str] = mapped_column(String(120))
    media_type: Mapped[str] = mapped_column(String(40))
    sha256: Mapped[str] = mapped_column(String(64))
    size: Mapped[int] = mapped_column(Integer)
    content: Mapped[bytes] = mapped_column(LargeBinary)


class StaffUpload(UploadColumns, Base):
    """A document a staff member uploaded to attach to a request they file (table 2, process 5)."""

    __tablename__ = "staff_uploads"
