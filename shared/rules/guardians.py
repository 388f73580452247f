"""Who may act for whom: oneself, or a parent or guardian (per ГБД ФЛ) for a minor. One rule for every
service, so that the portal refuses before it reveals anything and the АРМ refuses on the merits."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

ADULT_AGE = 18


def age_on(birth: dt.date, day: dt.date) -> int:
    return day.year - birth.year - ((day.month, day.day) < (birth.month, birth.day))


def may_act_for(requester_iin: str, person_iin: str, birth: dt.date, parents: Iterable[str], today: dt.date) -> bool:
    """The requester is the person, or a registered parent of that person while they are a minor."""
    return requester_iin == person_iin or (age_on(birth, today) < ADULT_AGE and requester_iin in set(parents))
