"""The e-service forms as pages send them: one reading of the posted fields for both channels.

The rules themselves (formats, lengths, ranges) stay in the form contracts of :mod:`shared.wire.contracts`,
which the services apply; this only turns the page's inputs into the fields those contracts expect.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from shared.rules.doctors import sees
from shared.wire.clock import ASTANA
from shared.wire.contracts import MAX_DOCUMENTS, ServiceKind
from shared.wire.ids import InvalidIdentifier, parse_iin

FORM_FIELDS = (
    "patient_iin",
    "address",
    "phone",
    "complaints",
    "temperature",
    "doctor_slot",
    "first_slot",
    "registration_number",
    "reason",
    "new_address",
    "clinic_bin",
)
MAX_INPUT = 600  # longer than any field allows: the contract refuses it with a clear message


def posted_values(form: Any) -> dict[str, str]:
    """The form inputs as sent (every known field present, empty when not filled)."""
    return {name: str(form.get(name, ""))[:MAX_INPUT] for name in FORM_FIELDS}


def posted_documents(form: Any) -> list[str]:
    """The ids of the uploads the form names (the service checks they are the person's own)."""
    return [str(value)[:64] for value in form.getlist("documents")][:MAX_DOCUMENTS]


def empty_values(**given: str) -> dict[str, str]:
    return {**dict.fromkeys(FORM_FIELDS, ""), **given}


def form_fields(kind: ServiceKind, values: dict[str, str]) -> tuple[dict[str, Any], str | None]:
    """The fields of ``kind`` as its contract expects them (empty inputs left out), and the chosen clinic."""
    given = {k: v.strip() for k, v in values.items() if v and v.strip()}
    fields: dict[str, Any] = {}
    if "patient_iin" in given:
        fields["patient_iin"] = given["patient_iin"]
    if kind is ServiceKind.HOME_CALL:
        fields.update({name: given[name] for name in ("address", "phone", "complaints") if name in given})
        if "temperature" in given:
            fields["temperature"] = given["temperature"].replace(",", ".")
    elif kind is ServiceKind.APPOINTMENT:
        # "first_slot" is the one-tap button of the first free time; "doctor_slot" a time chosen in the list.
        doctor, _, start = (given.get("first_slot") or given.get("doctor_slot", "")).partition("|")
        if doctor and start:
            fields["doctor_code"], fields["slot_start"] = doctor, start
    elif kind is ServiceKind.APPOINTMENT_CANCEL:
        if "registration_number" in given:
            fields["registration_number"] = given["registration_number"]
    elif kind is ServiceKind.ATTACHMENT:
        fields["reason"] = given.get("reason", "voluntary")
        if "new_address" in given:
            fields["new_address"] = given["new_address"]
    return fields, given.get("clinic_bin") if kind is ServiceKind.ATTACHMENT else None


@dataclass
class TimeChoice:
    """Choosing an appointment's time in three short steps — a day, then a doctor who sees this patient,
    then a time — with the first free time offered in one tap. Each step is a link (``?day=…&doctor=…``),
    so it works without scripts and at any width."""

    first: dict[str, Any] | None = None  # the earliest free time with any doctor who sees the patient
    days: list[dict[str, Any]] = field(default_factory=list)  # {"date", "count", "current"}
    day: str | None = None
    doctors: list[dict[str, Any]] = field(default_factory=list)  # {"code", "name", "specialty", "room", "count"}
    doctor: str | None = None
    times: list[dict[str, Any]] = field(default_factory=list)  # the chosen doctor's free times that day


def time_choice(
    slots: list[dict[str, Any]], birth: dt.date | None, today: dt.date, day: str | None, doctor: str | None
) -> TimeChoice:
    """The steps of :class:`TimeChoice` over ``slots`` (free slots as ``slots.query`` answers), keeping only
    doctors who see a patient born on ``birth`` (shared.rules.doctors); ``day`` and ``doctor`` are the
    choices made so far (ignored when they are not among the offered ones)."""
    offered = [s for s in slots if birth is None or sees(s["specialty"], birth, today)]
    offered.sort(key=lambda s: (s["start"], s["doctor_code"]))
    local_day = {id(s): dt.datetime.fromisoformat(s["start"]).astimezone(ASTANA).date().isoformat() for s in offered}
    choice = TimeChoice(first=offered[0] if offered else None)
    counts: dict[str, int] = {}
    for slot in offered:
        counts[local_day[id(slot)]] = counts.get(local_day[id(slot)], 0) + 1
    choice.day = day if day in counts else None
    choice.days = [{"date": d, "count": n, "current": d == choice.day} for d, n in counts.items()]
    if choice.day is None:
        return choice
    that_day = [s for s in offered if local_day[id(s)] == choice.day]
    doctors: dict[str, dict[str, Any]] = {}
    for slot in that_day:
        entry = doctors.setdefault(
            slot["doctor_code"],
            {
                "code": slot["doctor_code"],
                "name": slot["doctor_name"],
                "specialty": slot["specialty"],
                "room": slot["room"],
                "count": 0,
            },
        )
        entry["count"] += 1
    choice.doctors = list(doctors.values())
    if doctor in doctors:
        choice.doctor = doctor
    elif len(doctors) == 1:
        choice.doctor = next(iter(doctors))  # one doctor that day: nothing to choose
    choice.times = [s for s in that_day if s["doctor_code"] == choice.doctor]
    return choice


def birth_of(iin: str | None) -> dt.date | None:
    """The birth date an ИИН carries (digits 1–7); ``None`` for none or an invalid one."""
    try:
        return parse_iin(iin).birth_date if iin else None
    except InvalidIdentifier:
        return None


def chosen(values: dict[str, str]) -> tuple[str | None, str | None]:
    """The day and doctor of the time a posted form chose, to show the same step again when it is refused."""
    doctor, _, start = (values.get("first_slot") or values.get("doctor_slot") or "").partition("|")
    try:
        day = dt.datetime.fromisoformat(start).astimezone(ASTANA).date().isoformat() if start else None
    except ValueError:
        return None, None
    return day, doctor or None
