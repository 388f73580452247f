"""Synthetic population of Astana: valid ИИНs consistent with birth date and sex, realistic names,
real districts and streets, families (children linked to their parents).

Deterministic for a seed. ``python -m shared.demo.population --count 1000000 --out persons.csv``
writes a CSV; the service seeds its database from :func:`generate` directly.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import random
import sys
from collections.abc import Iterator
from dataclasses import dataclass

from shared.demo import DEFAULT_POPULATION_SEED, DEFAULT_POPULATION_SIZE
from shared.wire.ids import make_iin

DISTRICTS: dict[str, tuple[str, ...]] = {
    "Алматы": ("проспект Абая", "улица Бейбитшилик", "улица Жубанова", "улица Пушкина", "проспект Богенбай батыра"),
    "Байконыр": ("улица Шокана Валиханова", "улица Иманова", "проспект Сарыарка", "улица Ауэзова", "улица Кенесары"),
    "Есиль": ("проспект Мангилик Ел", "проспект Туран", "улица Сыганак", "улица Достык", "проспект Кабанбай батыра"),
    "Нура": ("улица Хусейн бен Талал", "улица Улы Дала", "проспект Тауелсиздик", "улица Е-10", "улица Акмешит"),
    "Сарыарка": ("проспект Республики", "улица Сейфуллина", "улица Жангельдина", "улица Кошкарбаева", "улица Богенбай"),
}

# (surname for men, surname for women, given names m, given names f, patronymic base)
_KAZAKH_SURNAMES = (
    "Ахметов",
    "Жумабаев",
    "Касымов",
    "Нурланов",
    "Сейткали",
    "Абенов",
    "Тулегенов",
    "Омаров",
    "Искаков",
    "Бекмуханов",
    "Ермеков",
    "Сагинтаев",
    "Муканов",
    "Садыков",
    "Каиров",
    "Жаксылыков",
)
_KAZAKH_MALE = (
    "Ержан",
    "Нурлан",
    "Азамат",
    "Даурен",
    "Бауыржан",
    "Серик",
    "Арман",
    "Асхат",
    "Айдос",
    "Темирлан",
    "Алихан",
    "Нурсултан",
    "Ерлан",
    "Канат",
    "Марат",
    "Рустем",
)
_KAZAKH_FEMALE = (
    "Айгерим",
    "Динара",
    "Жанар",
    "Сауле",
    "Гульнара",
    "Асель",
    "Айжан",
    "Меруерт",
    "Камила",
    "Аружан",
    "Томирис",
    "Назерке",
    "Дана",
    "Алия",
    "Зарина",
    "Салтанат",
)
_RUSSIAN_SURNAMES = (
    "Иванов",
    "Петров",
    "Смирнов",
    "Кузнецов",
    "Попов",
    "Соколов",
    "Лебедев",
    "Козлов",
    "Новиков",
    "Морозов",
    "Волков",
    "Соловьёв",
    "Васильев",
    "Зайцев",
    "Павлов",
    "Семёнов",
)
_RUSSIAN_MALE = (
    "Александр",
    "Дмитрий",
    "Сергей",
    "Андрей",
    "Алексей",
    "Иван",
    "Михаил",
    "Николай",
    "Владимир",
    "Евгений",
    "Павел",
    "Виктор",
    "Олег",
    "Юрий",
    "Игорь",
    "Артём",
)
_RUSSIAN_FEMALE = (
    "Елена",
    "Ольга",
    "Наталья",
    "Татьяна",
    "Ирина",
    "Светлана",
    "Анна",
    "Мария",
    "Екатерина",
    "Юлия",
    "Людмила",
    "Галина",
    "Оксана",
    "Дарья",
    "Ксения",
    "Вера",
)


@dataclass(frozen=True, slots=True)
class SyntheticPerson:
    iin: str
    surname: str
    name: str
    patronymic: str | None
    birth_date: dt.date
    sex: str
    citizenship: str
    district: str
    street: str
    house: str
    apartment: str | None
    alive: bool
    death_date: dt.date | None
    parents: tuple[str, ...] = ()


def _female_surname(surname: str) -> str:
    if surname.endswith(("ов", "ев", "ёв", "ин")):
        return surname + "а"
    return surname


def _patronymic(father_name: str, sex: str, kazakh: bool) -> str:
    if kazakh:
        return f"{father_name}{'ұлы' if sex == 'M' else 'қызы'}"
    stem = father_name[:-1] + "е" if father_name.endswith("й") else father_name + "о"
    return f"{stem}вич" if sex == "M" else f"{stem}вна"


class _IinAllocator:
    """Hands out unique ИИНs; serials that have no valid check digit are skipped."""

    def __init__(self) -> None:
        self._next_serial: dict[tuple[dt.date, str], int] = {}

    def allocate(self, birth: dt.date, sex: str) -> str:
        key = (birth, sex)
        serial = self._next_serial.get(key, 1)
        while True:
            iin = make_iin(birth, sex, serial)
            serial += 1
            if iin is not None:
                self._next_serial[key] = serial
                return iin


@dataclass(frozen=True, slots=True)
class _Home:
    """What the members of one household share."""

    kazakh: bool
    surname: str
    district: str
    street: str
    house: str
    apartment: str | None


class _Population:
    def __init__(self, seed: int, today: dt.date) -> None:
        self.rng = random.Random(seed)
        self.allocator = _IinAllocator()
        self.today = today

    def birth_between(self, min_age: int, max_age: int) -> dt.date:
        return self.today - dt.timedelta(days=self.rng.randint(min_age * 365, max_age * 365))

    def person(
        self, home: _Home, sex: str, birth: dt.date, name: str, father_name: str, parents: tuple[str, ...] = ()
    ) -> SyntheticPerson:
        rng = self.rng
        deceased = rng.random() < 0.01 and self.today.year - birth.year > 30
        return SyntheticPerson(
            iin=self.allocator.allocate(birth, sex),
            surname=home.surname if sex == "M" else _female_surname(home.surname),
            name=name,
            patronymic=_patronymic(father_name, sex, home.kazakh),
            birth_date=birth,
            sex=sex,
            citizenship="KZ" if rng.random() < 0.97 else rng.choice(("RU", "UZ", "KG")),
            district=home.district,
            street=home.street,
            house=home.house,
            apartment=home.apartment,
            alive=not deceased,
            death_date=self.today - dt.timedelta(days=rng.randint(1, 700)) if deceased else None,
            parents=parents,
        )

    def household(self) -> list[SyntheticPerson]:
        """A father, usually a mother, and 0–3 children linked to both parents."""
        rng = self.rng
        kazakh = rng.random() < 0.7
        surnames, males, females = (
            (_KAZAKH_SURNAMES, _KAZAKH_MALE, _KAZAKH_FEMALE)
            if kazakh
            else (_RUSSIAN_SURNAMES, _RUSSIAN_MALE, _RUSSIAN_FEMALE)
        )
        district = rng.choice(tuple(DISTRICTS))
        home = _Home(
            kazakh=kazakh,
            surname=rng.choice(surnames),
            district=district,
            street=rng.choice(DISTRICTS[district]),
            house=str(rng.randint(1, 120)),
            apartment=str(rng.randint(1, 300)) if rng.random() < 0.85 else None,
        )
        father = self.person(home, "M", self.birth_between(25, 70), rng.choice(males), rng.choice(males))
        members = [father]
        if rng.random() < 0.8:
            mother = self.person(home, "F", self.birth_between(23, 65), rng.choice(females), rng.choice(males))
            members.append(mother)
            youngest_parent_age = min(self.today.year - p.birth_date.year for p in members)
            for _ in range(rng.choice((0, 1, 1, 2, 2, 3))):
                max_age = max(0, min(youngest_parent_age - 20, 30))
                sex = rng.choice("MF")
                birth = (
                    self.birth_between(0, max_age)
                    if max_age > 0
                    else self.today - dt.timedelta(days=rng.randint(1, 300))
                )
                name = rng.choice(males if sex == "M" else females)
                members.append(self.person(home, sex, birth, name, father.name, (father.iin, mother.iin)))
        return members


# The synthetic population every service and tool shares unless configured otherwise
# (EMHANA_POPULATION_SIZE, EMHANA_POPULATION_SEED).


def generate(
    count: int, seed: int = DEFAULT_POPULATION_SEED, today: dt.date = dt.date(2026, 1, 1)
) -> Iterator[SyntheticPerson]:
    """Yield ``count`` persons, household by household (streamed: a million costs no extra memory)."""
    population = _Population(seed, today)
    produced = 0
    while produced < count:
        for member in population.household():
            if produced >= count:
                return
            produced += 1
            yield member


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m shared.demo.population", description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=DEFAULT_POPULATION_SIZE)
    parser.add_argument("--seed", type=int, default=DEFAULT_POPULATION_SEED)
    parser.add_argument("--out", default="-", help="CSV file (default: standard output)")
    args = parser.parse_args(argv)
    out = sys.stdout if args.out == "-" else open(args.out, "w", newline="", encoding="utf-8")
    writer = csv.writer(out)
    writer.writerow(
        ["iin", "surname", "name", "patronymic", "birth_date", "sex", "district", "street", "alive", "parents"]
    )
    for p in generate(args.count, args.seed):
        writer.writerow(
            [
                p.iin,
                p.surname,
                p.name,
                p.patronymic,
                p.birth_date,
                p.sex,
                p.district,
                p.street,
                p.alive,
                " ".join(p.parents),
            ]
        )
    if out is not sys.stdout:
        out.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
