"""The e-service forms as pages send them: one reading of the posted fields for both channels.

The rules themselves (formats, lengths, ranges) stay in the form contracts of :mod:`shared.wire.contracts`,
which the services apply; this only turns the page's inputs into the fields those contracts expect.
"""

from __future__ import annotations

from typing import Any

from shared.wire.contracts import MAX_DOCUMENTS, ServiceKind

FORM_FIELDS = (
    "patient_iin",
    "address",
    "phone",
    "complaints",
    "temperature",
    "doctor_slot",
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
        doctor, _, start = given.get("doctor_slot", "").partition("|")
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


def by_doctor(slots: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Free slots grouped by doctor, for the slot picker."""
    doctors: dict[str, dict[str, Any]] = {}
    for slot in slots:
        doctor = doctors.setdefault(
            slot["doctor_code"],
            {"code": slot["doctor_code"], "name": slot["doctor_name"], "specialty": slot["specialty"], "slots": []},
        )
        doctor["slots"].append(slot)
    return list(doctors.values())
