"""Who at a clinic may do what: the staff roles as one table (role → allowed actions).

The regulation's diagram 2 gives the provider channel to the clinic's registrar (регистратор): look the
citizen up in ГБД ФЛ (processes 3–4), fill the form and sign it (processes 2, 5–8); the head of the
clinic may do all a registrar does. A doctor works the journals: they see them and record the visits
they make; assigning doctors, cancelling on the clinic's behalf and entering absences stay with the
registrar and the head. Every route of the API and of the pages asks :func:`require` before it acts.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from typing import Protocol

from shared.rules.errors import NotAllowed


class StaffRole(StrEnum):
    REGISTRAR = "registrar"
    DOCTOR = "doctor"
    HEAD = "head"


class Action(StrEnum):
    LOOK_UP_PERSON = "look_up_person"  # processes 3–4: the citizen in ГБД ФЛ (journaled with the reason)
    FILE_REQUEST = "file_request"  # processes 2, 5–8: documents, the form, the signature
    READ_JOURNALS = "read_journals"  # journals, the register, the overdue list, a registration's documents
    PRINT_SLIP = "print_slip"  # the attachment slip (талон)
    ASSIGN_DOCTOR = "assign_doctor"  # a home call's doctor
    RECORD_VISIT = "record_visit"  # a home call visited; an appointment's arrival, visit or no-show
    CANCEL = "cancel"  # a home call or an appointment cancelled by the clinic, with the reason
    ENTER_ABSENCE = "enter_absence"  # a doctor's absence: their day's bookings cancelled


_EVERYTHING = frozenset(Action)

ALLOWED: Mapping[StaffRole, frozenset[Action]] = {
    StaffRole.REGISTRAR: _EVERYTHING,
    StaffRole.HEAD: _EVERYTHING,
    StaffRole.DOCTOR: frozenset({Action.READ_JOURNALS, Action.RECORD_VISIT}),
}


class HasRole(Protocol):
    role: str


def allows(role: str, action: Action) -> bool:
    """Whether a staff member of ``role`` may do ``action`` (an unknown role may do nothing)."""
    try:
        return action in ALLOWED[StaffRole(role)]
    except ValueError:
        return False


def require(member: HasRole, action: Action) -> None:
    """403 FORBIDDEN_ROLE unless the member's role allows ``action``."""
    if not allows(member.role, action):
        raise NotAllowed("FORBIDDEN_ROLE", f"a {member.role} may not {action.value.replace('_', ' ')}")
