"""Which doctor sees which patient: a paediatrician children under 18, a therapist adults, a general
practitioner (врач общей практики) and any other speciality everyone. The portal and the АРМ's own form
offer only the doctors who may see the patient; the АРМ refuses any other booking
(``DOCTOR_NOT_FOR_PATIENT``), whoever sends it."""

from __future__ import annotations

import datetime as dt

from shared.rules.guardians import ADULT_AGE, age_on

CHILDREN_ONLY = frozenset({"педиатр", "участковый педиатр"})
ADULTS_ONLY = frozenset({"терапевт", "участковый терапевт"})


def sees(specialty: str, birth: dt.date, day: dt.date) -> bool:
    """Whether a doctor of ``specialty`` sees a patient born on ``birth``, on ``day``."""
    kind = specialty.strip().lower()
    if kind in CHILDREN_ONLY:
        return age_on(birth, day) < ADULT_AGE
    if kind in ADULTS_ONLY:
        return age_on(birth, day) >= ADULT_AGE
    return True
