"""Russian and Kazakh for every fixed text of the pages, from Babel catalogues (``shared/web/locale``).

The catalogues are ``.po`` files, compiled in memory when first used, so nothing binary is committed and
no build step is needed. ``python -m shared.web.catalogues`` extracts the texts of the templates and page
code (plus the refusal texts and error texts below) into them; a unit test keeps them complete.
"""

from __future__ import annotations

import datetime as dt
import io
from functools import cache
from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import Translations

from shared.platform.http import ApiCode
from shared.wire.contracts import RequestStatus, ServiceKind
from shared.wire.refusals import Refusal, refusal_text

LOCALE_DIR = Path(__file__).resolve().parent / "locale"
LANGUAGES = {"ru": "Русский", "kk": "Қазақша"}
DEFAULT_LANGUAGE = "ru"


def N_(text: str) -> str:
    """Mark ``text`` for the catalogue without translating it here."""
    return text


# What a page says for an API error code (the JSON API's own messages are for developers, in English).
API_ERROR_TEXTS: dict[ApiCode, str] = {
    ApiCode.VALIDATION_ERROR: N_("Some fields are not filled in correctly."),
    ApiCode.UNAUTHORIZED: N_("Your session has ended. Please log in again."),
    ApiCode.FORBIDDEN: N_("The form is out of date. Please open the page again."),
    ApiCode.FORBIDDEN_ROLE: N_("Your role does not allow this."),
    ApiCode.NOT_FOUND: N_("Nothing was found."),
    ApiCode.TOO_LARGE: N_("The file is too large."),
    ApiCode.UNSUPPORTED_TYPE: N_("This kind of file is not accepted."),
    ApiCode.OVERLOADED: N_("The service is busy right now. Please try again in a minute."),
    ApiCode.TOO_MANY_ATTEMPTS: N_("Too many attempts. Please wait a little and try again."),
    ApiCode.ALREADY_REGISTERED: N_("An account with this ИИН already exists. Please log in."),
    ApiCode.PASSWORD_POLICY: N_(
        "The password is too weak: use 8 to 128 characters, not a common password, not your ИИН."
    ),
    ApiCode.NOT_REGISTERED: N_("There is no account for this ИИН yet. Please register."),
    ApiCode.PASSWORD_CHANGE_REQUIRED: N_("Choose your own password before you continue."),
    ApiCode.DRAFT_EXPIRED: N_("The prepared request has expired. Please fill in the form again."),
    ApiCode.CLINIC_REQUIRED: N_("Choose a clinic."),
    ApiCode.BIN_INVALID: N_("The БИН is not valid."),
    ApiCode.NO_RESULT: N_("There is no result yet."),
    ApiCode.NOT_FAILED: N_("Only a request that failed technically can be sent again."),
    ApiCode.NOT_FINISHED: N_("The questionnaire opens once the request has its outcome."),
    ApiCode.SURVEY_ANSWERED: N_("You have already answered the questionnaire for this request."),
    ApiCode.INVALID_TRANSITION: N_("This change is not possible in the record's current state."),
    ApiCode.ALREADY_CLOSED: N_("This record is already closed."),
    ApiCode.UNAVAILABLE: N_("The service is temporarily unavailable. Please try again shortly."),
    ApiCode.INTERNAL_ERROR: N_("Something went wrong on our side. Please try again."),
}


SERVICE_TITLES: dict[ServiceKind, str] = {
    ServiceKind.HOME_CALL: N_("Call a doctor to the home"),
    ServiceKind.APPOINTMENT: N_("Book an appointment with a doctor"),
    ServiceKind.APPOINTMENT_CANCEL: N_("Cancel an appointment"),
    ServiceKind.ATTACHMENT: N_("Attach to a primary health-care clinic"),
}
SERVICE_RESULTS: dict[ServiceKind, str] = {
    ServiceKind.HOME_CALL: N_("a notice of the home call, signed by the clinic"),
    ServiceKind.APPOINTMENT: N_("an appointment slip: doctor, specialty, time and room"),
    ServiceKind.APPOINTMENT_CANCEL: N_("a confirmation of the cancellation; the time becomes free"),
    ServiceKind.ATTACHMENT: N_("a notice of attachment, signed by the clinic"),
}
STATUS_LABELS: dict[RequestStatus, str] = {
    RequestStatus.SUBMITTED: N_("sent"),
    RequestStatus.FAILED: N_("not delivered"),
    RequestStatus.REGISTERED: N_("registered"),
    RequestStatus.COMPLETED: N_("completed"),
    RequestStatus.REFUSED: N_("refused"),
    RequestStatus.ASSIGNED: N_("doctor assigned"),
    RequestStatus.VISITED: N_("doctor visited"),
    RequestStatus.ARRIVED: N_("patient arrived"),
    RequestStatus.FULFILLED: N_("appointment held"),
    RequestStatus.NO_SHOW: N_("patient did not come"),
    RequestStatus.CANCELLED: N_("cancelled"),
}


VISIT_LABELS: dict[str, str] = {
    "booked": N_("booked"),
    "arrived": N_("arrived"),
    "fulfilled": N_("visit held"),
    "no_show": N_("did not come"),
    "cancelled": N_("cancelled"),
}
# Why an attachment was made (the register's ``reason``).
REASON_LABELS: dict[str, str] = {
    "initial": N_("initial attachment"),
    "voluntary": N_("own choice"),
    "residence_change": N_("moved to a new address"),
}
WEEKDAYS = (N_("Mon"), N_("Tue"), N_("Wed"), N_("Thu"), N_("Fri"), N_("Sat"), N_("Sun"))
ROLE_LABELS: dict[str, str] = {"registrar": N_("registrar"), "doctor": N_("doctor"), "head": N_("head of the clinic")}
FIELD_LABELS: dict[str, str] = {
    "patient_iin": N_("ИИН of the patient"),
    "address": N_("Address"),
    "phone": N_("Phone"),
    "complaints": N_("Complaints"),
    "temperature": N_("Temperature, °C"),
    "doctor_code": N_("Doctor's code"),
    "slot_start": N_("Appointment time"),
    "registration_number": N_("Registration number"),
    "reason": N_("Reason"),
    "new_address": N_("New address"),
}


class Translator:
    """The texts of one language."""

    def __init__(self, language: str, translations: Translations) -> None:
        self.language = language
        self.gettext_object = translations

    def __call__(self, text: str, **values: object) -> str:
        translated = self.gettext_object.gettext(text)
        return translated % values if values else translated

    def refusal(self, code: Refusal) -> str:
        """The citizen-facing text of a refusal code in this language."""
        return self(refusal_text(code))

    def service(self, code: str) -> str:
        return self(SERVICE_TITLES[ServiceKind(code)])

    def status(self, code: str) -> str:
        known = RequestStatus._value2member_map_.get(code)
        return self(STATUS_LABELS[known]) if isinstance(known, RequestStatus) else code

    def visit(self, state: str) -> str:
        return self(VISIT_LABELS[state]) if state in VISIT_LABELS else state

    def reason(self, reason: str) -> str:
        return self(REASON_LABELS[reason]) if reason in REASON_LABELS else reason

    def weekday(self, day: str) -> str:
        """The short name of the weekday of ``day`` (YYYY-MM-DD) in this language."""
        return self(WEEKDAYS[dt.date.fromisoformat(day).weekday()])

    def role(self, role: str) -> str:
        return self(ROLE_LABELS[role]) if role in ROLE_LABELS else role

    def field(self, name: str) -> str:
        return self(FIELD_LABELS[name]) if name in FIELD_LABELS else name

    def api_error(self, code: ApiCode, message: str) -> str:
        text = API_ERROR_TEXTS.get(code)
        return self(text) if text else message


def catalogue_path(language: str) -> Path:
    return LOCALE_DIR / language / "LC_MESSAGES" / "messages.po"


@cache
def translator(language: str) -> Translator:
    """The :class:`Translator` of ``language`` (one of :data:`LANGUAGES`), compiled once."""
    if language not in LANGUAGES:
        language = DEFAULT_LANGUAGE
    with catalogue_path(language).open("rb") as source:
        catalogue = read_po(source, locale=language)
    compiled = io.BytesIO()
    write_mo(compiled, catalogue)
    compiled.seek(0)
    return Translator(language, Translations(fp=compiled))
