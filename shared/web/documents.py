"""A clinic-signed result as people read it: labelled rows for the page and a PDF to keep."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import segno
from fpdf import FPDF
from fpdf.enums import XPos, YPos

from shared.web import astana_time
from shared.web.i18n import N_, Translator
from shared.wire.certs import CertIdentity
from shared.wire.contracts import ServiceKind

FONTS = Path(__file__).resolve().parents[1] / "fonts"  # DejaVu Sans: Cyrillic and the Kazakh letters

# Labels of the result's fields; fields not listed are shown under their own name. Left out: the nonce
# (it only makes the document unique) and the ids that say nothing to a person.
LABELS: dict[str, str] = {
    "document": N_("Document"),
    "service": N_("E-service"),
    "registration_number": N_("Registration number"),
    "iin": N_("ИИН of the applicant"),
    "patient_iin": N_("ИИН of the patient"),
    "clinic.name": N_("Clinic"),
    "clinic.bin": N_("БИН of the clinic"),
    "clinic.address": N_("Address of the clinic"),
    "clinic.phone": N_("Phone of the clinic"),
    "visit.date": N_("Visit date"),
    "visit.from": N_("Visit from"),
    "visit.until": N_("Visit until"),
    "visit.to": N_("Visit until"),
    "doctor": N_("Doctor"),
    "doctor.name": N_("Doctor"),
    "doctor.specialty": N_("Specialty"),
    "doctor.code": N_("Doctor's code"),
    "site": N_("Medical site"),
    "site_doctor": N_("Site doctor"),
    "slot_start": N_("Appointment time"),
    "room": N_("Room"),
    "address": N_("Address"),
    "phone": N_("Phone"),
    "reason": N_("Reason"),
    "since": N_("Attached since"),
    "previous_clinic_bin": N_("Previous clinic (БИН)"),
    "cancelled_registration_number": N_("Cancelled booking"),
    "issued_at": N_("Issued at"),
    "start": N_("Appointment time"),
    "end": N_("Until"),
    "slot_day": N_("Day"),
    "date": N_("Day"),
    "status": N_("Status"),
}
# The order people read a result in: what it is, for whom, what was decided, then the clinic.
ORDER = [
    "document",
    "service",
    "registration_number",
    "iin",
    "patient_iin",
    "doctor",
    "doctor.name",
    "doctor.specialty",
    "start",
    "end",
    "slot_start",
    "room",
    "visit.date",
    "visit.from",
    "visit.until",
    "visit.to",
    "site",
    "site_doctor",
    "since",
    "reason",
    "previous_clinic_bin",
    "cancelled_registration_number",
    "clinic.name",
    "clinic.address",
    "clinic.phone",
    "clinic.bin",
    "issued_at",
]
REASONS = {"voluntary": N_("my own choice (once a year)"), "residence_change": N_("I moved to a new address")}
HIDDEN = {"nonce", "request_id", "registration_id", "clinic_bin", "doctor.code", "doctor_code"}
TIMES = {"visit.from", "visit.until", "visit.to", "slot_start", "issued_at", "since", "start", "end"}


def _flatten(value: Any, prefix: str = "") -> list[tuple[str, Any]]:
    if isinstance(value, dict):
        rows: list[tuple[str, Any]] = []
        for key, item in value.items():
            rows.extend(_flatten(item, f"{prefix}{key}" if not prefix else f"{prefix}.{key}"))
        return rows
    return [(prefix, value)]


def result_rows(document: dict[str, Any], _: Translator) -> list[tuple[str, str]]:
    """``(label, value)`` for each field of the result worth reading, in the document's order."""
    rows = []
    fields = sorted(_flatten(document), key=lambda item: ORDER.index(item[0]) if item[0] in ORDER else len(ORDER))
    for key, value in fields:
        if key in HIDDEN or value is None or value == "":
            continue
        if key == "service":
            value = _.service(value) if value in {k.value for k in ServiceKind} else value
        elif key in TIMES and isinstance(value, str) and "T" in value:
            value = astana_time(value)
        elif key == "reason" and value in REASONS:
            value = _(REASONS[value])
        rows.append((_(LABELS[key]) if key in LABELS else key, str(value)))
    return rows


def result_pdf(
    title: str,
    rows: list[tuple[str, str]],
    signer: CertIdentity | None,
    valid: bool,
    _: Translator,
    verification: str | None = None,
) -> bytes:
    """A one-page PDF of the result: its fields and who signed it, as checked when it was made; with
    ``verification`` (the public page's address), a QR code anyone holding the paper can check it by."""
    pdf = FPDF(format="A4")
    pdf.set_title(title)
    pdf.add_font("DejaVu", "", str(FONTS / "DejaVuSans.ttf"))
    pdf.add_font("DejaVu", "B", str(FONTS / "DejaVuSans-Bold.ttf"))
    pdf.add_page()
    pdf.set_font("DejaVu", "B", 15)
    pdf.multi_cell(0, 8, title, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.ln(3)
    for label, value in rows:
        pdf.set_font("DejaVu", "B", 10)
        pdf.multi_cell(60, 6, label, new_x=XPos.RIGHT, new_y=YPos.TOP)
        pdf.set_font("DejaVu", "", 10)
        pdf.multi_cell(0, 6, value, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.ln(4)
    pdf.set_font("DejaVu", "B", 11)
    if valid and signer is not None:
        verdict = _("The clinic's electronic signature is valid.")
        by = f"{signer.common_name}, {signer.organization or ''} (БИН {signer.bin or '—'})"
        pdf.multi_cell(0, 7, verdict, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        pdf.set_font("DejaVu", "", 10)
        pdf.multi_cell(0, 6, f"{_('Signed by')}: {by}", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    else:
        pdf.multi_cell(0, 7, _("The clinic's signature could not be confirmed."), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    if verification is not None:
        pdf.ln(4)
        top = pdf.get_y()
        draw_qr(pdf, verification, x=pdf.l_margin, y=top, size=36)
        pdf.set_xy(pdf.l_margin + 40, top)
        pdf.set_font("DejaVu", "", 9)
        pdf.multi_cell(0, 5, _("Anyone can check this document by its QR code or at:") + "\n" + verification)
    return bytes(pdf.output())


def draw_qr(pdf: FPDF, text: str, *, x: float, y: float, size: float) -> None:
    """Draw the QR code as filled squares (vector, sharp at any print size)."""
    matrix = segno.make(text, error="m").matrix
    module = size / len(matrix)
    pdf.set_fill_color(0, 0, 0)
    for row, bits in enumerate(matrix):
        for column, bit in enumerate(bits):
            if bit:
                pdf.rect(x + column * module, y + row * module, module, module, style="F")
