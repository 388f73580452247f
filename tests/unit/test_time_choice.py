"""Choosing an appointment's time: only doctors who see the patient (a paediatrician children, a therapist
adults, a general practitioner everyone), a day, then a doctor, then a time, and the first free time."""

from __future__ import annotations

import datetime as dt

from shared.rules.doctors import sees
from shared.web.forms import birth_of, chosen, form_fields, time_choice
from shared.wire.contracts import ServiceKind

TODAY = dt.date(2026, 12, 8)
ADULT, CHILD = dt.date(1990, 5, 1), dt.date(2015, 5, 1)


def slot(code: str, specialty: str, start: str) -> dict[str, str]:
    return {"doctor_code": code, "doctor_name": code.title(), "specialty": specialty, "room": "1", "start": start}


SLOTS = [
    slot("ped", "педиатр", "2026-12-09T09:00:00+05:00"),
    slot("ther", "участковый терапевт", "2026-12-09T10:00:00+05:00"),
    slot("ther", "участковый терапевт", "2026-12-09T10:20:00+05:00"),
    slot("gp", "врач общей практики", "2026-12-09T11:00:00+05:00"),
    slot("ther", "участковый терапевт", "2026-12-10T09:00:00+05:00"),
]


def test_who_sees_whom() -> None:
    assert sees("педиатр", CHILD, TODAY) and not sees("педиатр", ADULT, TODAY)
    assert sees("Участковый терапевт", ADULT, TODAY) and not sees("терапевт", CHILD, TODAY)
    assert sees("врач общей практики", CHILD, TODAY) and sees("врач общей практики", ADULT, TODAY)
    eighteen = dt.date(2008, 12, 8)  # eighteen today: an adult
    assert sees("терапевт", eighteen, TODAY) and not sees("педиатр", eighteen, TODAY)


def test_an_adult_is_offered_no_paediatrician_and_the_first_free_time_is_an_adults() -> None:
    choice = time_choice(SLOTS, ADULT, TODAY, None, None)
    assert choice.first is not None and (choice.first["doctor_code"], choice.first["start"][11:16]) == ("ther", "10:00")
    assert [(d["date"], d["count"]) for d in choice.days] == [("2026-12-09", 3), ("2026-12-10", 1)]
    assert choice.day is None and choice.doctors == [] and choice.times == []


def test_a_child_sees_the_paediatrician_and_the_general_practitioner_only() -> None:
    choice = time_choice(SLOTS, CHILD, TODAY, "2026-12-09", None)
    assert [d["code"] for d in choice.doctors] == ["ped", "gp"] and choice.doctor is None
    assert [d["date"] for d in choice.days] == ["2026-12-09"]  # the therapist's day is not offered
    picked = time_choice(SLOTS, CHILD, TODAY, "2026-12-09", "gp")
    assert [s["start"][11:16] for s in picked.times] == ["11:00"]


def test_a_day_with_one_doctor_needs_no_doctor_step_and_unknown_choices_are_ignored() -> None:
    choice = time_choice(SLOTS, ADULT, TODAY, "2026-12-10", None)
    assert choice.doctor == "ther" and [s["start"][11:16] for s in choice.times] == ["09:00"]
    stale = time_choice(SLOTS, ADULT, TODAY, "2026-12-31", "ped")  # an old link: nothing chosen
    assert stale.day is None and stale.doctor is None
    assert time_choice(SLOTS, None, TODAY, None, None).first["doctor_code"] == "ped"  # type: ignore[index]


def test_the_one_tap_button_and_a_listed_time_post_the_same_fields() -> None:
    values = {"first_slot": "gp|2026-12-09T11:00:00+05:00", "doctor_slot": "ther|2026-12-09T10:00:00+05:00"}
    fields, _ = form_fields(ServiceKind.APPOINTMENT, values)
    assert fields == {"doctor_code": "gp", "slot_start": "2026-12-09T11:00:00+05:00"}  # the button pressed wins
    assert chosen({"doctor_slot": "ther|2026-12-10T09:00:00+05:00"}) == ("2026-12-10", "ther")
    assert chosen({"doctor_slot": "x|not-a-time"}) == (None, None) and chosen({}) == (None, None)
    assert birth_of("980602300015") == dt.date(1998, 6, 2) and birth_of("123") is None and birth_of(None) is None
