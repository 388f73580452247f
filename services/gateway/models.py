"""Gateway tables: the append-only message journal, ids already accepted, and the provider directory."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Integer, String
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from shared.platform.db import UtcDateTime


class Base(DeclarativeBase):
    pass


class JournalRow(Base):
    """One row per message the gateway handled; never updated or deleted."""

    __tablename__ = "journal"

    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    message_id: Mapped[str] = mapped_column(String(64), index=True)
    correlation_id: Mapped[str | None] = mapped_column(String(64), index=True)
    type: Mapped[str] = mapped_column(String(100))
    sender: Mapped[str] = mapped_column(String(100))
    recipient: Mapped[str] = mapped_column(String(100))
    channel: Mapped[str] = mapped_column(String(5))  # sync | async
    received_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    body_sha256: Mapped[str] = mapped_column(String(64))
    outcome: Mapped[str] = mapped_column(String(40))  # delivered | replied | refused:<CODE>
    # What operators search by besides message ids: the citizen's request and its registration number
    # (from e-service requests and statuses; identifiers, not personal data).
    request_id: Mapped[str | None] = mapped_column(String(36), index=True)
    registration_number: Mapped[str | None] = mapped_column(String(40), index=True)


class AcceptedMessage(Base):
    """Messages accepted for delivery: a second arrival of one is a replay. What became of it is in the
    journal (a redelivery after a crash finds the id here and no outcome of its delivery there)."""

    __tablename__ = "accepted_messages"

    # A message counts once per sender (ids are the senders' own); "" marks ids accepted before the
    # sender was kept.
    sender: Mapped[str] = mapped_column(String(100), primary_key=True, server_default="")
    message_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    accepted_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, index=True)


class Provider(Base):
    """Provider directory: a clinic's БИН and its address on the gateway."""

    __tablename__ = "providers"

    bin: Mapped[str] = mapped_column(String(12), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    address: Mapped[str] = mapped_column(String(100), unique=True)
