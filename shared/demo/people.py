"""Demo citizens: chosen deterministically from the synthetic population, so that ГБД ФЛ, the АРМ's
seeded attachment register, the development CA (their certificates) and the tests all agree on them
without talking to each other."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from shared.demo.population import SyntheticPerson, generate
from shared.rules.clinics import ClinicsFile
from shared.wire.ids import make_iin

REFERENCE_DAY = dt.date(2026, 1, 1)


@dataclass(frozen=True, slots=True)
class DemoCitizens:
    attached_1: list[SyntheticPerson]  # Сарыарка residents: attached to Поликлиника № 1
    attached_4: list[SyntheticPerson]  # Есиль residents: attached to Поликлиника № 4
    unattached: list[SyntheticPerson]  # other districts: attached nowhere
    parent: SyntheticPerson  # an unattached parent …
    child: SyntheticPerson  # … and their minor child (the first of ``families``)
    deceased: SyntheticPerson | None
    families: list[tuple[SyntheticPerson, SyntheticPerson]]  # (parent, minor child), none sharing a person

    def everyone(self) -> list[SyntheticPerson]:
        return [*self.attached_1, *self.attached_4, *self.unattached, self.parent, self.child]


def _age(person: SyntheticPerson) -> int:
    born = person.birth_date
    return REFERENCE_DAY.year - born.year - ((REFERENCE_DAY.month, REFERENCE_DAY.day) < (born.month, born.day))


def demo_citizens(size: int, seed: int, per_group: int = 80) -> DemoCitizens:
    """Living adults 20–60 by district, a parent with a minor child outside the seeded districts."""
    people = list(generate(size, seed))
    by_iin = {p.iin: p for p in people}
    adults = [p for p in people if p.alive and 20 <= _age(p) <= 60]
    unattached = [p for p in adults if p.district not in ("Сарыарка", "Есиль")]
    children = [
        p
        for p in people
        if p.alive
        and _age(p) < 14
        and p.parents
        and p.district not in ("Сарыарка", "Есиль")
        and all(by_iin.get(q) is not None and by_iin[q].alive for q in p.parents)
    ]
    families: list[tuple[SyntheticPerson, SyntheticPerson]] = []
    parents_taken: set[str] = set()
    for kid in children:  # one child per parent, so that families never share a person
        if kid.parents[0] not in parents_taken and len(families) < per_group:
            parents_taken.add(kid.parents[0])
            families.append((by_iin[kid.parents[0]], kid))
    parent, child = families[0]
    return DemoCitizens(
        attached_1=[p for p in adults if p.district == "Сарыарка"][:per_group],
        attached_4=[p for p in adults if p.district == "Есиль"][:per_group],
        unattached=[p for p in unattached if p.iin not in child.parents][:per_group],
        parent=parent,
        child=child,
        families=families,
        deceased=next((p for p in people if not p.alive), None),
    )


# -- clinic staff ---------------------------------------------------------------------------------------
STAFF_ROLES = ("registrar", "doctor", "head")
_STAFF_NAMES = (
    ("АХМЕТОВА", "ГУЛЬНАРА", "F"),
    ("СЕРИКОВ", "ЕРЛАН", "M"),
    ("ЖУМАБАЕВА", "АЙГЕРИМ", "F"),
    ("ОМАРОВ", "ДАУРЕН", "M"),
    ("КАСЫМОВА", "САУЛЕ", "F"),
    ("НУРЛАНОВ", "АСХАТ", "M"),
)


@dataclass(frozen=True, slots=True)
class DemoStaff:
    iin: str
    surname: str
    name: str
    clinic_bin: str
    role: str  # registrar | doctor | head
    doctor_code: str | None  # for a doctor: their own schedule


def demo_staff(clinics: ClinicsFile) -> list[DemoStaff]:
    """A registrar, a doctor and the head of each demo clinic, with ИИН that pass the checksum.

    Deterministic, so the АРМ's seed (accounts) and the development CA (their employee certificates)
    agree without talking to each other."""
    staff: list[DemoStaff] = []
    for index, clinic in enumerate(clinics.clinics):
        for offset, role in enumerate(STAFF_ROLES):
            surname, name, sex = _STAFF_NAMES[(index + offset) % len(_STAFF_NAMES)]
            born = dt.date(1975 + offset * 4, 1 + index % 12, 10 + offset)
            serial = 9000 + index * 10 + offset
            iin = make_iin(born, sex, serial)
            while iin is None:  # that serial has no check digit: take the next one
                serial += 100
                iin = make_iin(born, sex, serial)
            doctor = clinic.doctors[0].code if role == "doctor" and clinic.doctors else None
            staff.append(DemoStaff(iin, surname, name, clinic.bin, role, doctor))
    return staff
