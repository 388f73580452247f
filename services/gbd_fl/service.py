"""ГБД ФЛ rules: look a person up by ИИН; seed the registry with a synthetic population."""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy import bindparam, func, insert, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from services.gbd_fl.models import PersonRow, RelationRow
from shared.demo.population import generate
from shared.platform.db import Database
from shared.wire.contracts import Address, Person
from shared.wire.ids import InvalidIdentifier, parse_iin
from shared.wire.refusals import Refusal, RefusalError

log = logging.getLogger(__name__)
_BATCH = 2000


def to_contract(row: Any) -> Person:
    """A ``persons`` row (ORM object or Core row) as the public contract."""
    return Person(
        iin=row.iin,
        surname=row.surname,
        name=row.name,
        patronymic=row.patronymic,
        birth_date=row.birth_date,
        sex=row.sex,  # type: ignore[arg-type]  # the column holds only M or F (the seed writes them)
        citizenship=row.citizenship,
        address=Address(district=row.district, street=row.street, house=row.house, apartment=row.apartment),
        alive=row.alive,
        death_date=row.death_date,
    )


# One statement, built once: the person and, row by row, their registered parents (none: one row with NULL).
_PERSON_WITH_PARENTS = (
    select(PersonRow.__table__, RelationRow.parent_iin)
    .outerjoin(RelationRow, RelationRow.child_iin == PersonRow.iin)
    .where(PersonRow.iin == bindparam("iin"))
    .order_by(RelationRow.parent_iin)
)


async def lookup(session: AsyncSession | AsyncConnection, iin: str) -> tuple[Person, list[str]]:
    """The person with this ИИН and the ИИНs of their registered parents/guardians.

    Raises ``IIN_INVALID`` for a malformed number and ``PERSON_NOT_FOUND`` for an unknown one.
    """
    try:
        parse_iin(iin)
    except InvalidIdentifier as exc:
        raise RefusalError(Refusal.IIN_INVALID, exc.detail) from None
    rows = (await session.execute(_PERSON_WITH_PARENTS, {"iin": iin})).all()
    if not rows:
        raise RefusalError(Refusal.PERSON_NOT_FOUND)
    return to_contract(rows[0]), [row.parent_iin for row in rows if row.parent_iin is not None]


async def seed(db: Database, count: int, seed_value: int) -> int:
    """Fill an empty registry with ``count`` synthetic persons; return how many were added."""
    async with db.exclusive_transaction("seed") as session:  # replicas starting at once seed once
        if (await session.scalar(select(func.count()).select_from(PersonRow))) or count <= 0:
            return 0
        people, relations = [], []
        for person in generate(count, seed_value):
            people.append({k: getattr(person, k) for k in PersonRow.__table__.columns.keys()})
            relations.extend({"child_iin": person.iin, "parent_iin": p, "kind": "parent"} for p in person.parents)
        for start in range(0, len(people), _BATCH):
            await session.execute(insert(PersonRow), people[start : start + _BATCH])
        for start in range(0, len(relations), _BATCH):
            await session.execute(insert(RelationRow), relations[start : start + _BATCH])
    log.info("registry seeded", extra={"persons": len(people), "relations": len(relations)})
    return len(people)
