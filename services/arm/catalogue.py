"""What the АРМ tells other systems about its clinics: the clinic list with doctors and whether each
takes attachments, and a person's current attachment (the attachment register's answer)."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.arm.models import Attachment, Clinic, Doctor
from shared.wire.contracts import AttachmentInfo, ClinicInfo, ClinicsList, DoctorInfo
from shared.wire.refusals import Refusal, RefusalError


async def hosted_clinic(session: AsyncSession, clinic_bin: str) -> Clinic:
    """A clinic this АРМ hosts; ROUTE_UNKNOWN for any other БИН."""
    row = await session.get(Clinic, clinic_bin)
    if row is None:
        raise RefusalError(Refusal.ROUTE_UNKNOWN, "this АРМ does not host that clinic")
    return row


async def attachment_info(session: AsyncSession, iin: str) -> AttachmentInfo:
    """The person's open attachment with its clinic; NOT_ATTACHED when there is none."""
    row = await session.scalar(select(Attachment).where(Attachment.iin == iin, Attachment.until.is_(None)))
    if row is None:
        raise RefusalError(Refusal.NOT_ATTACHED, "no open attachment")
    clinic = await hosted_clinic(session, row.clinic_bin)
    return AttachmentInfo(
        iin=row.iin, clinic_bin=row.clinic_bin, clinic_name=clinic.name, site=row.site, since=row.since
    )


async def clinics_list(session: AsyncSession) -> ClinicsList:
    """Every clinic with its hours and doctors; ``accepting`` when it has a ФСМС contract and room."""
    rows = list(await session.scalars(select(Clinic).order_by(Clinic.bin)))
    doctors = list(await session.scalars(select(Doctor).order_by(Doctor.code)))
    attached = dict(
        (
            await session.execute(
                select(Attachment.clinic_bin, func.count())
                .where(Attachment.until.is_(None))
                .group_by(Attachment.clinic_bin)
            )
        ).all()
    )
    return ClinicsList(
        clinics=[
            ClinicInfo(
                bin=c.bin,
                name=c.name,
                short_name=c.short_name,
                district=c.district,
                address=c.address,
                phone=c.phone,
                fsms_contract=c.fsms_contract,
                accepting=c.fsms_contract and attached.get(c.bin, 0) < c.capacity,
                hours=c.hours,
                timezone=c.timezone,
                doctors=[
                    DoctorInfo(code=d.code, name=d.name, specialty=d.specialty, room=d.room)
                    for d in doctors
                    if d.clinic_bin == c.bin
                ],
            )
            for c in rows
        ]
    )
