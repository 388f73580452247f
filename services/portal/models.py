"""Portal tables: citizens, their tokens and failed logins, prepared drafts, requests and their history."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from shared.platform.attachments import UploadColumns
from shared.platform.auth import LoginCounterColumns, LoginSuccessColumns, TokenColumns
from shared.platform.db import StrEnumColumn, UtcDateTime
from shared.wire.contracts import RequestStatus


class Base(DeclarativeBase):
    pass


class Citizen(Base):
    __tablename__ = "citizens"

    iin: Mapped[str] = mapped_column(String(12), primary_key=True)
    password_hash: Mapped[str] = mapped_column(String(200))
    surname: Mapped[str] = mapped_column(String(80))
    name: Mapped[str] = mapped_column(String(80))
    registered_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)


class Challenge(Base):
    """A registration challenge: the exact document a person signs with their own key (AUTH or SIGN) to
    prove who they are before an account is opened or its password set again. Used once, briefly valid."""

    __tablename__ = "challenges"

    nonce: Mapped[str] = mapped_column(String(64), primary_key=True)
    document: Mapped[str] = mapped_column(Text)  # canonical JSON, exactly the bytes to sign
    expires_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, index=True)
    used_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)


class Token(TokenColumns, Base):
    """An access token, stored only as its SHA-256: a leaked table gives nobody a session."""

    __tablename__ = "tokens"


class LoginCounter(LoginCounterColumns, Base):
    __tablename__ = "login_counters"


class LoginSuccess(LoginSuccessColumns, Base):
    __tablename__ = "login_successes"


class Draft(Base):
    """ "Отправить запрос": a validated form turned into the exact document the citizen is to sign."""

    __tablename__ = "drafts"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    iin: Mapped[str] = mapped_column(String(12), index=True)
    service: Mapped[str] = mapped_column(String(30))
    clinic_bin: Mapped[str] = mapped_column(String(12))
    document: Mapped[str] = mapped_column(Text)  # canonical JSON, exactly the bytes to sign
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    expires_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    used_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)


class Request(Base):
    __tablename__ = "requests"
    __table_args__ = (
        Index("ix_requests_status_deadline", "status", "deadline"),  # the deadline watcher
        Index("ix_requests_status_sent", "status", "sent_at"),  # the resender
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    iin: Mapped[str] = mapped_column(String(12), index=True)  # the citizen who signed and sees it
    patient_iin: Mapped[str] = mapped_column(String(12))
    service: Mapped[str] = mapped_column(String(30))
    clinic_bin: Mapped[str] = mapped_column(String(12))
    document: Mapped[str] = mapped_column(Text)  # the citizen's compact JWS
    document_nonce: Mapped[str] = mapped_column(String(64), unique=True)  # SignedRequest.once_key: ИИН + nonce
    message_id: Mapped[str] = mapped_column(String(36), unique=True)  # envelope id of the latest sending
    # submitted | registered | completed | refused | failed, then what the clinic records (see ClinicStatus)
    status: Mapped[RequestStatus] = mapped_column(StrEnumColumn(RequestStatus))
    status_seq: Mapped[int] = mapped_column(Integer, default=0)  # ``seq`` of the clinic's last applied status
    status_note: Mapped[str | None] = mapped_column(Text)  # what the clinic said with it (e.g. a reason)
    channel: Mapped[str] = mapped_column(String(10), default="portal")  # portal | staff (filed at the clinic)
    registration_number: Mapped[str | None] = mapped_column(String(40), index=True)
    refusal_code: Mapped[str | None] = mapped_column(String(40))
    refusal_message: Mapped[str | None] = mapped_column(Text)
    result: Mapped[str | None] = mapped_column(Text)  # the clinic-signed result (compact JWS)
    submitted_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    deadline: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    updated_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    sent_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)
    overdue_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)  # found past its deadline, no outcome


class RequestEvent(Base):
    """ "Обновить статус": every status change, in order."""

    __tablename__ = "request_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    request_id: Mapped[str] = mapped_column(ForeignKey("requests.id"), index=True)
    status: Mapped[RequestStatus] = mapped_column(StrEnumColumn(RequestStatus))
    at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    seq: Mapped[int] = mapped_column(Integer, default=0)  # the clinic's ``seq`` (0: the portal's own steps)
    detail: Mapped[str | None] = mapped_column(Text)


class KnownAttachment(Base):
    """The clinic a person is attached to, as the portal last learnt it (routing of home calls, bookings)."""

    __tablename__ = "known_attachments"

    iin: Mapped[str] = mapped_column(String(12), primary_key=True)
    clinic_bin: Mapped[str] = mapped_column(String(12))
    updated_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)


class SurveyAnswer(Base):
    """Приложение 3: the quality ("качество") and accessibility ("доступность") questionnaire, once per request."""

    __tablename__ = "survey_answers"

    request_id: Mapped[str] = mapped_column(ForeignKey("requests.id"), primary_key=True)
    service: Mapped[str] = mapped_column(String(30), index=True)
    process_and_result: Mapped[int] = mapped_column(Integer)  # question 1: 1 not, 2 partly, 3 satisfied
    information: Mapped[int] = mapped_column(Integer)  # question 2
    answered_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)


class Upload(UploadColumns, Base):
    """A document a citizen uploaded to attach to a request (its hash goes into the signed document)."""

    __tablename__ = "uploads"
