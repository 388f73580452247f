"""First-start data of the АРМ: the demo clinics and, for the demo, an attachment register.

The attachment register is seeded from the same deterministic synthetic population as ГБД ФЛ:
residents of Сарыарка are attached to Поликлиника № 1 and residents of Есиль to Поликлиника № 4
(участок by street); everyone else starts unattached.
"""

from __future__ import annotations

import datetime as dt
import logging

from sqlalchemy import func, insert, select

from services.arm.models import Attachment, Clinic, Doctor, Site, Staff
from services.arm.rules import site_for_street
from shared.demo.people import demo_staff
from shared.demo.population import generate
from shared.platform.auth import hash_password
from shared.platform.db import Database, insert_or_ignore
from shared.rules.clinics import ClinicsFile

log = logging.getLogger(__name__)
DISTRICT_CLINICS = {"Сарыарка": "980440012347", "Есиль": "030740045218"}


async def seed(
    db: Database, clinics: ClinicsFile, *, population_size: int, population_seed: int, attach: bool, now: dt.datetime
) -> None:
    async with db.exclusive_transaction("seed") as session:  # replicas starting at once seed once
        if await session.scalar(select(func.count()).select_from(Clinic)):
            return
        for c in clinics.clinics:
            session.add(
                Clinic(
                    bin=c.bin,
                    name=c.name,
                    short_name=c.short_name,
                    district=c.district,
                    address=c.address,
                    phone=c.phone,
                    fsms_contract=c.fsms_contract,
                    capacity=c.capacity,
                    hours={k: list(v) for k, v in c.hours.items()},
                    timezone=clinics.timezone,
                )
            )
            for s in c.sites:
                session.add(Site(clinic_bin=c.bin, number=s.number, doctor=s.doctor, streets=s.streets))
            for d in c.doctors:
                session.add(
                    Doctor(
                        code=d.code,
                        clinic_bin=c.bin,
                        name=d.name,
                        specialty=d.specialty,
                        room=d.room,
                        site=d.site,
                        template=d.template.model_dump(mode="json"),
                    )
                )
        await session.flush()
        if not attach:
            return
        sites = {c.bin: [(s.number, s.streets) for s in c.sites] for c in clinics.clinics}
        rows = [
            {
                "iin": person.iin,
                "clinic_bin": DISTRICT_CLINICS[person.district],
                "site": site_for_street(person.street, sites[DISTRICT_CLINICS[person.district]]),
                "since": now - dt.timedelta(days=3 * 365),
                "until": None,
                "reason": "initial",
                "registration_id": None,
            }
            for person in generate(population_size, population_seed)
            if person.alive and person.district in DISTRICT_CLINICS and DISTRICT_CLINICS[person.district] in sites
        ]
        for start in range(0, len(rows), 2000):
            await session.execute(insert(Attachment), rows[start : start + 2000])
    log.info("АРМ seeded", extra={"clinics": len(clinics.clinics), "attachments": len(rows)})


async def seed_staff(db: Database, clinics: ClinicsFile, password: str) -> None:
    """The demo staff of each clinic (a registrar, a doctor, the head), when they have no account yet."""
    members = demo_staff(clinics)
    async with db.sessions() as session:
        existing = set(await session.scalars(select(Staff.iin).where(Staff.iin.in_([m.iin for m in members]))))
    missing = [m for m in members if m.iin not in existing]
    if not missing:
        return
    password_hash = await hash_password(password)  # one Argon2 hash: the same demo password for all
    async with db.transaction() as session:
        for member in missing:
            await insert_or_ignore(
                session,
                Staff.__table__,
                {
                    "iin": member.iin,
                    "clinic_bin": member.clinic_bin,
                    "surname": member.surname,
                    "name": member.name,
                    "role": member.role,
                    "doctor_code": member.doctor_code,
                    "password_hash": password_hash,
                    "active": True,
                },
            )
    log.info("demo staff seeded", extra={"staff": len(missing)})
