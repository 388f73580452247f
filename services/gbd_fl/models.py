"""ГБД ФЛ tables: persons and the family relations used to check a parent or guardian."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Boolean, Date, ForeignKey, String
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    pass


class PersonRow(Base):
    __tablename__ = "persons"

    iin: Mapped[str] = mapped_column(String(12), primary_key=True)
    surname: Mapped[str] = mapped_column(String(80))
    name: Mapped[str] = mapped_column(String(80))
    patronymic: Mapped[str | None] = mapped_column(String(80))
    birth_date: Mapped[dt.date] = mapped_column(Date)
    sex: Mapped[str] = mapped_column(String(1))
    citizenship: Mapped[str] = mapped_column(String(2), default="KZ")
    district: Mapped[str] = mapped_column(String(40))
    street: Mapped[str] = mapped_column(String(80))
    house: Mapped[str] = mapped_column(String(10))
    apartment: Mapped[str | None] = mapped_column(String(10))
    alive: Mapped[bool] = mapped_column(Boolean, default=True)
    death_date: Mapped[dt.date | None] = mapped_column(Date)


class RelationRow(Base):
    """``parent_iin`` is a parent or legal guardian of ``child_iin``."""

    __tablename__ = "relations"

    child_iin: Mapped[str] = mapped_column(String(12), ForeignKey("persons.iin"), primary_key=True)
    parent_iin: Mapped[str] = mapped_column(String(12), ForeignKey("persons.iin"), primary_key=True)
    kind: Mapped[str] = mapped_column(String(20), default="parent")
