"""The printable slip (талон) of an attachment (diagram 2, process 8): a PDF with the details and a QR code
that opens the verification of the clinic-signed result."""

from __future__ import annotations

import datetime as dt
import zoneinfo
from pathlib import Path
from typing import Any

from fpdf import FPDF
from fpdf.enums import XPos, YPos

from shared.rules.deadlines import CONTACT_CENTRE
from shared.web.documents import draw_qr

FONTS = Path(__file__).resolve().parents[2] / "shared" / "fonts"  # DejaVu Sans: Cyrillic and Kazakh letters
CONTACT_CENTRE_LINE = f"Единый контакт-центр по вопросам оказания государственных услуг: {CONTACT_CENTRE}"
NEXT_LINE: dict[str, Any] = {"new_x": XPos.LMARGIN, "new_y": YPos.NEXT}
REASONS = {"voluntary": "по выбору пациента", "residence_change": "смена места жительства", "initial": "первичное"}


def attachment_slip(document: dict[str, Any], url: str, timezone: str) -> bytes:
    """The slip for a completed attachment; ``document`` is the clinic-signed result's content."""
    tz = zoneinfo.ZoneInfo(timezone)
    clinic = document["clinic"]
    since = dt.datetime.fromisoformat(document["since"]).astimezone(tz)
    pdf = FPDF(format=(148, 210))  # A5, in millimetres
    pdf.set_title(f"Талон прикрепления № {document['registration_number']}")
    pdf.add_font("DejaVu", "", str(FONTS / "DejaVuSans.ttf"))
    pdf.add_font("DejaVu", "B", str(FONTS / "DejaVuSans-Bold.ttf"))
    pdf.add_page()
    pdf.set_font("DejaVu", "B", 12)
    pdf.multi_cell(0, 6, "Талон прикрепления к медицинской организации, оказывающей ПМСП", align="C", **NEXT_LINE)
    pdf.ln(3)
    pdf.set_font("DejaVu", "", 10)
    rows = [
        ("Номер", document["registration_number"]),
        ("Дата прикрепления", since.strftime("%d.%m.%Y %H:%M")),
        ("Пациент", document.get("patient_name") or "—"),
        ("ИИН пациента", document["patient_iin"]),
        ("Медицинская организация", clinic["name"]),
        ("БИН", clinic["bin"]),
        ("Адрес", clinic["address"]),
        ("Телефон", clinic["phone"]),
        ("Участок", str(document.get("site") or "—")),
        ("Участковый врач", document.get("site_doctor") or "—"),
        ("Основание", REASONS.get(document.get("reason", ""), document.get("reason", "—"))),
    ]
    for label, value in rows:
        pdf.set_font("DejaVu", "B", 9)
        pdf.cell(52, 6, label)
        pdf.set_font("DejaVu", "", 9)
        pdf.multi_cell(0, 6, value, **NEXT_LINE)
    pdf.ln(4)
    draw_qr(pdf, url, x=pdf.l_margin, y=pdf.get_y(), size=36)
    pdf.set_xy(pdf.l_margin + 40, pdf.get_y())
    pdf.set_font("DejaVu", "", 8)
    top = pdf.get_y()
    pdf.multi_cell(0, 4, "Подлинность талона проверяется по QR-коду или по ссылке:\n" + url, **NEXT_LINE)
    pdf.set_y(top + 40)
    pdf.multi_cell(0, 4, "Документ подписан ЭЦП медицинской организации. " + CONTACT_CENTRE_LINE, **NEXT_LINE)
    return bytes(pdf.output())
