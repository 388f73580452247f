"""ИИН / БИН validation (docs/architecture.md, "Certificates" and the national checksum rules).

Both are 12-digit strings whose 12th digit is a check digit over the first eleven. An ИИН also encodes
the birth date (digits 1–6) and century + sex (digit 7); a БИН the registration month (1–4), the
entity type (5) and its kind (6). Errors say exactly which rule failed so that a form can show it.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from enum import StrEnum

_FIRST_WEIGHTS = tuple(range(1, 12))
_SECOND_WEIGHTS = (3, 4, 5, 6, 7, 8, 9, 10, 11, 1, 2)

# Digit 7 of an ИИН: century of birth and sex (odd male, even female).
_CENTURY_DIGITS: dict[int, tuple[int, str]] = {
    1: (1800, "M"),
    2: (1800, "F"),
    3: (1900, "M"),
    4: (1900, "F"),
    5: (2000, "M"),
    6: (2000, "F"),
}
_BIN_ENTITY_TYPES = {"4": "resident", "5": "non-resident", "6": "joint entrepreneurship"}
_BIN_KINDS = {"0": "head office", "1": "branch", "2": "representation", "3": "farm"}


class IdentifierProblem(StrEnum):
    """What exactly is wrong with a number; stable strings for API clients."""

    LENGTH = "length"
    CHARACTERS = "characters"
    DATE = "date"
    CENTURY = "century"
    CHECK_DIGIT = "check_digit"
    ENTITY_TYPE = "entity_type"


class InvalidIdentifier(ValueError):
    """A string that is not a valid ИИН/БИН; ``problem`` names the failed rule."""

    def __init__(self, kind: str, problem: IdentifierProblem, detail: str) -> None:
        super().__init__(f"{kind} is invalid: {detail}")
        self.kind = kind
        self.problem = problem
        self.detail = detail


def check_digit(first_eleven: str) -> int | None:
    """Control digit for eleven digits, or ``None`` when the number can never be issued."""
    digits = [int(c) for c in first_eleven]
    c = sum(d * w for d, w in zip(digits, _FIRST_WEIGHTS, strict=True)) % 11
    if c == 10:
        c = sum(d * w for d, w in zip(digits, _SECOND_WEIGHTS, strict=True)) % 11
    return None if c == 10 else c


def _check_shape(kind: str, value: object) -> str:
    if not isinstance(value, str):
        raise InvalidIdentifier(kind, IdentifierProblem.CHARACTERS, "must be a string of 12 digits")
    if len(value) != 12:
        raise InvalidIdentifier(kind, IdentifierProblem.LENGTH, f"must have 12 digits, has {len(value)}")
    if not value.isascii() or not value.isdigit():
        raise InvalidIdentifier(kind, IdentifierProblem.CHARACTERS, "must contain only digits 0-9")
    return value


def _check_control(kind: str, value: str) -> None:
    expected = check_digit(value[:11])
    if expected is None:
        raise InvalidIdentifier(kind, IdentifierProblem.CHECK_DIGIT, "number with no valid check digit")
    if expected != int(value[11]):
        raise InvalidIdentifier(kind, IdentifierProblem.CHECK_DIGIT, "check digit does not match")


@dataclass(frozen=True, slots=True)
class IinInfo:
    """What an ИИН says about its holder."""

    iin: str
    birth_date: dt.date
    sex: str  # "M" or "F"


@dataclass(frozen=True, slots=True)
class BinInfo:
    """What a БИН says about the legal entity."""

    bin: str
    registered: str  # "YYMM"
    entity_type: str
    kind: str


def parse_iin(value: object) -> IinInfo:
    """Validate an ИИН and return birth date and sex; raise :class:`InvalidIdentifier` otherwise."""
    iin = _check_shape("IIN", value)
    century_digit = int(iin[6])
    if century_digit not in _CENTURY_DIGITS:
        raise InvalidIdentifier("IIN", IdentifierProblem.CENTURY, "7th digit must be 1-6 (century and sex)")
    century, sex = _CENTURY_DIGITS[century_digit]
    try:
        birth = dt.date(century + int(iin[0:2]), int(iin[2:4]), int(iin[4:6]))
    except ValueError:
        raise InvalidIdentifier("IIN", IdentifierProblem.DATE, "digits 1-6 are not a real date") from None
    _check_control("IIN", iin)
    return IinInfo(iin=iin, birth_date=birth, sex=sex)


def parse_bin(value: object) -> BinInfo:
    """Validate a БИН; raise :class:`InvalidIdentifier` otherwise."""
    bin_ = _check_shape("BIN", value)
    month = int(bin_[2:4])
    if not 1 <= month <= 12:
        raise InvalidIdentifier("BIN", IdentifierProblem.DATE, "digits 3-4 must be a month 01-12")
    if bin_[4] not in _BIN_ENTITY_TYPES:
        raise InvalidIdentifier("BIN", IdentifierProblem.ENTITY_TYPE, "5th digit must be 4, 5 or 6")
    if bin_[5] not in _BIN_KINDS:
        raise InvalidIdentifier("BIN", IdentifierProblem.ENTITY_TYPE, "6th digit must be 0-3")
    _check_control("BIN", bin_)
    return BinInfo(bin=bin_, registered=bin_[:4], entity_type=_BIN_ENTITY_TYPES[bin_[4]], kind=_BIN_KINDS[bin_[5]])


def is_valid_iin(value: object) -> bool:
    """True when ``value`` is a valid ИИН."""
    try:
        parse_iin(value)
    except InvalidIdentifier:
        return False
    return True


def make_iin(birth: dt.date, sex: str, serial: int) -> str | None:
    """Compose an ИИН for a birth date, sex and 4-digit serial; ``None`` if that serial has no check digit."""
    century = (birth.year // 100) * 100
    digit7 = next(d for d, (c, s) in _CENTURY_DIGITS.items() if c == century and s == sex)
    first = f"{birth:%y%m%d}{digit7}{serial:04d}"
    control = check_digit(first)
    return None if control is None else f"{first}{control}"


def make_bin(registered: dt.date, serial: int, entity_type: str = "4", kind: str = "0") -> str | None:
    """Compose a БИН; ``None`` if that serial has no check digit."""
    first = f"{registered:%y%m}{entity_type}{kind}{serial:05d}"
    control = check_digit(first)
    return None if control is None else f"{first}{control}"


def mask_iin(value: str) -> str:
    """Mask a 12-digit identifier for logs: keep the first 2 and last 2 digits."""
    return f"{value[:2]}********{value[-2:]}" if len(value) == 12 else "************"
