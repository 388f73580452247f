"""The АРМ's work on a citizen's signed request (regulation, diagram 1, processes 6–8 and condition 3).

``prepare`` runs before the database transaction (signature check, ГБД ФЛ lookup through the gateway);
``process`` runs inside it: register under the clinic's number, check the grounds of the service, and
produce either a result signed with the clinic's certificate or a coded, motivated refusal.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError
from sqlalchemy import delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from services.arm.config import ArmSettings
from services.arm.models import (
    Attachment,
    Booking,
    BookingStatus,
    Clinic,
    Counter,
    HomeCall,
    HomeCallStatus,
    Registration,
    RequestDocument,
    Site,
)
from services.arm.models import SlotHold as SlotHoldRow
from services.arm.reports import follow_up
from services.arm.rules import (
    WorkingHours,
    age_on,
    call_category,
    home_call_window,
    site_for_street,
)
from services.arm.slots import Slots
from shared.platform.db import insert_or_ignore
from shared.platform.steps import StepTimes
from shared.rules.deadlines import ARM_STEPS, deadline
from shared.rules.doctors import sees
from shared.rules.guardians import may_act_for
from shared.wire.canonical import canonical_json
from shared.wire.certs import CertIdentity, TrustStore
from shared.wire.clock import Clock
from shared.wire.contracts import (
    AppointmentCancelForm,
    AppointmentForm,
    AttachmentForm,
    ClinicStatus,
    EServiceRequest,
    EServiceStatus,
    HomeCallForm,
    Person,
    ServiceKind,
    SignedRequest,
)
from shared.wire.documents import verify_document
from shared.wire.envelope import ServiceIdentity
from shared.wire.jws import sign_compact
from shared.wire.refusals import Refusal, RefusalError

log = logging.getLogger(__name__)


@dataclass(slots=True)
class Prepared:
    """What was learnt before the transaction: the verified document and the patient from ГБД ФЛ."""

    request: EServiceRequest
    accepted_at: dt.datetime | None = None  # when the gateway accepted the signed request (time rules)
    signed: SignedRequest | None = None
    signer: CertIdentity | None = None
    person: Person | None = None
    parents: list[str] = field(default_factory=list)
    files: dict[str, bytes] = field(default_factory=dict)  # attached documents' contents by hash
    rejection: RefusalError | None = None  # the document itself is not acceptable: no registration
    person_refusal: RefusalError | None = None  # grounds fail on ГБД ФЛ data: registered, then refused


@dataclass(slots=True)
class Outcome:
    status: ClinicStatus  # completed | refused
    registration_number: str | None
    result: str | None = None
    refusal: RefusalError | None = None
    # Status messages of other requests this decision changed (a cancellation: the cancelled appointment).
    follow_ups: list[EServiceStatus] = field(default_factory=list)


def verify_request(request: EServiceRequest, store: TrustStore, clinic_bin: str) -> tuple[SignedRequest, CertIdentity]:
    """Check the citizen's signature again, on the АРМ's own trust store, and the document's form."""
    document = verify_document(request.document, store)
    try:
        signed = SignedRequest.model_validate(document.claims())
    except ValidationError as exc:
        raise RefusalError(Refusal.MALFORMED, f"signed request: {exc.error_count()} invalid fields") from None
    if document.signer.iin != signed.iin:
        raise RefusalError(Refusal.IIN_MISMATCH)
    if signed.provider != clinic_bin:
        raise RefusalError(Refusal.MALFORMED, "the document is addressed to another clinic")
    if signed.operator_iin is not None:
        raise RefusalError(Refusal.MALFORMED, "a staff document comes through the clinic's workstation")
    signed.form()
    return signed, document.signer


class ArmService:
    """Rules of the three e-services applied to the АРМ's database."""

    def __init__(self, settings: ArmSettings, clock: Clock, signers: dict[str, ServiceIdentity]) -> None:
        self.settings = settings
        self.clock = clock
        self.signers = signers
        self.calendar = settings.work_calendar()
        self.slots = Slots(settings, clock, self.calendar)
        self.steps = StepTimes("arm", ARM_STEPS)  # table 2's times, measured

    # -- registration (process 6) ------------------------------------------------------------
    async def next_number(self, session: AsyncSession, clinic_bin: str, year: int) -> str:
        await insert_or_ignore(session, Counter.__table__, {"clinic_bin": clinic_bin, "year": year, "value": 0})
        value = await session.scalar(
            update(Counter)
            .where(Counter.clinic_bin == clinic_bin, Counter.year == year)
            .values(value=Counter.value + 1)
            .returning(Counter.value)
        )
        return f"{clinic_bin[-4:]}-{year}-{value:06d}"

    async def process(
        self, session: AsyncSession, clinic_bin: str, prepared: Prepared
    ) -> tuple[Registration | None, Outcome]:
        """Register and decide; returns the registration (None when the document was rejected). Timed as
        table 2's steps 6 (registration) and 7 or 8 (the motivated refusal, or the result)."""
        now, started = self.clock.now(), time.monotonic()
        if prepared.rejection is not None:
            return None, Outcome(ClinicStatus.REFUSED, None, refusal=prepared.rejection)
        signed = prepared.signed
        assert signed is not None
        if await session.scalar(select(Registration.number).where(Registration.document_nonce == signed.once_key)):
            return None, Outcome(ClinicStatus.REFUSED, None, refusal=RefusalError(Refusal.DUPLICATE_REQUEST))
        clinic = await session.get(Clinic, clinic_bin)
        assert clinic is not None
        local_year = now.astimezone(self.hours(clinic).tz).year  # the clinic's year, not UTC's (1 January)
        registration = Registration(
            number=await self.next_number(session, clinic_bin, local_year),
            clinic_bin=clinic_bin,
            service=signed.service.value,
            request_id=str(prepared.request.request_id),
            document_nonce=signed.once_key,
            iin=signed.iin,
            patient_iin=signed.patient_iin,
            document=prepared.request.document,
            status=ClinicStatus.REGISTERED,
            registered_at=now,
        )
        channel = "staff" if signed.operator_iin else "portal"
        registration.deadline = deadline(signed.service, channel, prepared.accepted_at or now, self.hours(clinic))
        if registration.deadline < now:  # decided late (the АРМ was down or swamped): recorded, counted
            registration.overdue_at = now
            log.warning("request registered after its deadline", extra={"number": registration.number})
        session.add(registration)
        await session.flush()
        self.steps.record("step_6", time.monotonic() - started)
        deciding = time.monotonic()
        for attached in signed.documents():  # the clinic sees them with the request
            session.add(
                RequestDocument(
                    registration_id=registration.id,
                    name=attached.name,
                    media_type=attached.media_type,
                    sha256=attached.sha256,
                    size=attached.size,
                    content=prepared.files[attached.sha256],
                )
            )
        try:
            if prepared.person_refusal is not None:
                raise prepared.person_refusal
            follow_ups: list[EServiceStatus] = []
            claims = await self.decide(session, clinic, registration, prepared, now, follow_ups)
        except RefusalError as exc:
            registration.status, registration.refusal_code = ClinicStatus.REFUSED, exc.code
            registration.decided_at = now
            log.info("request refused", extra={"number": registration.number, "code": exc.code})
            self.steps.record("step_7", time.monotonic() - deciding)
            return registration, Outcome(ClinicStatus.REFUSED, registration.number, refusal=exc)
        result = self.sign_result(clinic, registration, claims, now)
        self.steps.record("step_8", time.monotonic() - deciding)
        registration.status, registration.result, registration.decided_at = ClinicStatus.COMPLETED, result, now
        return registration, Outcome(ClinicStatus.COMPLETED, registration.number, result=result, follow_ups=follow_ups)

    def sign_result(self, clinic: Clinic, registration: Registration, claims: dict[str, Any], now: dt.datetime) -> str:
        """Process 8: the result document, signed with the clinic's own certificate."""
        signer = self.signers[clinic.bin]
        document = {
            **claims,
            "registration_number": registration.number,
            "request_id": registration.request_id,
            "clinic": {"bin": clinic.bin, "name": clinic.name, "address": clinic.address, "phone": clinic.phone},
            "iin": registration.iin,
            "patient_iin": registration.patient_iin,
            "issued_at": now.isoformat(),
            "nonce": uuid.uuid4().hex,
        }
        return sign_compact(canonical_json(document), signer.key, signer.chain)

    async def decide(
        self,
        session: AsyncSession,
        clinic: Clinic,
        registration: Registration,
        prepared: Prepared,
        now: dt.datetime,
        follow_ups: list[EServiceStatus],
    ) -> dict[str, Any]:
        """Condition 3: the grounds of the requested service; returns the result's content (and adds to
        ``follow_ups`` the status messages of other requests it changes)."""
        signed, person = prepared.signed, prepared.person
        assert signed is not None and person is not None
        if not may_act_for(signed.iin, person.iin, person.birth_date, prepared.parents, now.date()):
            # Acting for someone else: only a parent or guardian (per ГБД ФЛ) for a minor.
            raise RefusalError(Refusal.NOT_GUARDIAN)
        form = signed.form()
        if isinstance(form, HomeCallForm):
            return await self.home_call(session, clinic, registration, form, person, now, prepared.accepted_at)
        if isinstance(form, AppointmentForm):
            return await self.appointment(session, clinic, registration, form, person, now)
        if isinstance(form, AppointmentCancelForm):
            return await self.cancel(session, clinic, registration, form, now, follow_ups)
        if isinstance(form, AttachmentForm):
            return await self.attachment(session, clinic, registration, form, prepared, now)
        raise RefusalError(Refusal.MALFORMED, f"unknown service {signed.service}")

    # -- helpers -----------------------------------------------------------------------------
    def hours(self, clinic: Clinic) -> WorkingHours:
        return self.slots.hours(clinic)

    @staticmethod
    async def open_attachment(session: AsyncSession, iin: str) -> Attachment | None:
        return await session.scalar(select(Attachment).where(Attachment.iin == iin, Attachment.until.is_(None)))

    async def require_attached(self, session: AsyncSession, clinic: Clinic, iin: str) -> Attachment:
        attachment = await self.open_attachment(session, iin)
        if attachment is None or attachment.clinic_bin != clinic.bin:
            raise RefusalError(Refusal.NOT_ATTACHED)
        return attachment

    @staticmethod
    async def site_of(session: AsyncSession, clinic: Clinic, street: str) -> Site | None:
        sites = list(await session.scalars(select(Site).where(Site.clinic_bin == clinic.bin).order_by(Site.number)))
        number = site_for_street(street, [(s.number, s.streets) for s in sites])
        return next((s for s in sites if s.number == number), None)

    # -- the services ------------------------------------------------------------------------
    async def home_call(
        self,
        session: AsyncSession,
        clinic: Clinic,
        registration: Registration,
        form: HomeCallForm,
        person: Person,
        now: dt.datetime,
        accepted_at: dt.datetime | None = None,
    ) -> dict[str, Any]:
        attachment = await self.require_attached(session, clinic, person.iin)
        visit_from, visit_to = home_call_window(
            self.hours(clinic), now, self.settings.after_cutoff, accepted_at=accepted_at
        )
        site = await self.site_of(session, clinic, person.address.street)
        if site is None and attachment.site is not None:
            site = await session.get(Site, (clinic.bin, attachment.site))
        doctor = site.doctor if site else "дежурный врач"
        age = age_on(person.birth_date, now.date())
        session.add(
            HomeCall(
                registration_id=registration.id,
                clinic_bin=clinic.bin,
                number=registration.number,
                called_at=now,
                patient_iin=person.iin,
                patient_name=f"{person.surname} {person.name}",
                address=form.address,
                phone=form.phone,
                complaints=form.complaints,
                temperature=form.temperature,
                category=call_category(age, form.temperature),
                site=site.number if site else None,
                doctor=doctor,
                visit_from=visit_from,
                visit_to=visit_to,
                status=HomeCallStatus.ASSIGNED,
            )
        )
        local = self.hours(clinic).tz
        return {
            "document": "Справка о вызове врача на дом",
            "service": ServiceKind.HOME_CALL.value,
            "visit": {
                "date": visit_from.astimezone(local).date().isoformat(),
                "from": visit_from.astimezone(local).isoformat(),
                "to": visit_to.astimezone(local).isoformat(),
            },
            "address": form.address,
            "doctor": doctor,
            "site": site.number if site else None,
        }

    async def appointment(
        self,
        session: AsyncSession,
        clinic: Clinic,
        registration: Registration,
        form: AppointmentForm,
        person: Person,
        now: dt.datetime,
    ) -> dict[str, Any]:
        doctor, slot_end = await self.slots.slot_of(session, clinic, form.doctor_code, form.slot_start, now)
        if not sees(doctor.specialty, person.birth_date, now.astimezone(self.hours(clinic).tz).date()):
            raise RefusalError(Refusal.DOCTOR_NOT_FOR_PATIENT)
        await self.require_attached(session, clinic, registration.patient_iin)
        start = form.slot_start.astimezone(dt.UTC)
        hold = await session.get(SlotHoldRow, (doctor.code, start))
        if hold is not None and hold.iin != registration.iin and hold.expires_at > now:
            raise RefusalError(Refusal.SLOT_TAKEN, "the slot is held by another citizen")
        tz = self.hours(clinic).tz
        booked = await insert_or_ignore(
            session,
            Booking.__table__,
            {
                "registration_id": registration.id,
                "number": registration.number,
                "clinic_bin": clinic.bin,
                "doctor_code": doctor.code,
                "slot_start": start,
                "slot_day": start.astimezone(tz).date(),
                "iin": registration.iin,
                "patient_iin": registration.patient_iin,
                "status": BookingStatus.ACTIVE,
                "created_at": now,
            },
        )
        if not booked:
            taken = await session.scalar(
                select(Booking.id).where(
                    Booking.doctor_code == doctor.code,
                    Booking.slot_start == start,
                    Booking.status == BookingStatus.ACTIVE,
                )
            )
            if taken:
                raise RefusalError(Refusal.SLOT_TAKEN)
            raise RefusalError(Refusal.ONE_BOOKING_PER_DAY)
        await session.execute(
            delete(SlotHoldRow).where(SlotHoldRow.doctor_code == doctor.code, SlotHoldRow.slot_start == start)
        )
        return {
            "document": "Справка о записи на приём к врачу",  # as the regulation names the result
            "service": ServiceKind.APPOINTMENT.value,
            "doctor": {"code": doctor.code, "name": doctor.name, "specialty": doctor.specialty},
            "room": doctor.room,
            "start": start.astimezone(tz).isoformat(),
            "end": slot_end.astimezone(tz).isoformat(),
        }

    async def cancel(
        self,
        session: AsyncSession,
        clinic: Clinic,
        registration: Registration,
        form: AppointmentCancelForm,
        now: dt.datetime,
        follow_ups: list[EServiceStatus],
    ) -> dict[str, Any]:
        """The citizen's own cancellation: the slot is freed, and the booked appointment — a request of its
        own in the citizen's portal — is reported ``cancelled``, naming this request."""
        booking = await session.scalar(
            select(Booking).where(
                Booking.number == form.registration_number,
                Booking.clinic_bin == clinic.bin,
                Booking.status == BookingStatus.ACTIVE,
                (Booking.iin == registration.iin) | (Booking.patient_iin == registration.iin),
            )
        )
        if booking is None:
            raise RefusalError(Refusal.NO_SUCH_BOOKING)
        booking.status, booking.cancelled_at = BookingStatus.CANCELLED, now
        booked = await session.get(Registration, booking.registration_id, with_for_update=True)
        assert booked is not None
        note = f"Запись отменена по заявлению гражданина № {registration.number}"
        follow_ups.append(follow_up(booked, ClinicStatus.CANCELLED, now, note))
        return {
            "document": "Отмена записи на приём",
            "service": ServiceKind.APPOINTMENT_CANCEL.value,
            "cancelled_registration_number": booking.number,
            "slot_start": booking.slot_start.isoformat(),
        }

    async def attachment(
        self,
        session: AsyncSession,
        clinic: Clinic,
        registration: Registration,
        form: AttachmentForm,
        prepared: Prepared,
        now: dt.datetime,
    ) -> dict[str, Any]:
        person = prepared.person
        assert person is not None
        current = await self._check_attachment(session, clinic, person.iin, form.reason, now)
        if current is not None:
            current.until = now  # the previous attachment closes in the same transaction
            reason = "смена места жительства" if form.reason == "residence_change" else "по выбору пациента"
            current.left_reason = f"Прикреплён к {clinic.short_name} ({reason}), № {registration.number}"
            await session.flush()
        site = await self.site_of(session, clinic, form.new_address or person.address.street)
        inserted = await insert_or_ignore(
            session,
            Attachment.__table__,
            {
                "iin": person.iin,
                "clinic_bin": clinic.bin,
                "site": site.number if site else None,
                "since": now,
                "until": None,
                "reason": form.reason,
                "registration_id": registration.id,
            },
        )
        if not inserted:
            raise RefusalError(Refusal.DUPLICATE_REQUEST, "another attachment of this person is being processed")
        return {
            "document": "Справка (талон) о прикреплении к медицинской организации",  # as the regulation names it
            "service": ServiceKind.ATTACHMENT.value,
            "patient_name": " ".join(filter(None, (person.surname, person.name, person.patronymic))),
            "since": now.isoformat(),
            "site": site.number if site else None,
            "site_doctor": site.doctor if site else None,
            "previous_clinic_bin": current.clinic_bin if current else None,
            "reason": form.reason,
        }

    async def _check_attachment(
        self, session: AsyncSession, clinic: Clinic, iin: str, reason: str, now: dt.datetime
    ) -> Attachment | None:
        """Condition 3 of an attachment: a ФСМС contract, not attached there already, room at the clinic, and
        at most the allowed voluntary changes a year. Returns the attachment it replaces, if any."""
        # Lock the clinic row so that two attachments cannot both take its last free place (PostgreSQL;
        # SQLite runs one writer at a time anyway).
        await session.execute(select(Clinic.bin).where(Clinic.bin == clinic.bin).with_for_update())
        if not clinic.fsms_contract:
            raise RefusalError(Refusal.NO_CONTRACT)
        current = await self.open_attachment(session, iin)
        if current is not None and current.clinic_bin == clinic.bin:
            raise RefusalError(Refusal.ALREADY_ATTACHED)
        attached = await session.scalar(
            select(func.count())
            .select_from(Attachment)
            .where(Attachment.clinic_bin == clinic.bin, Attachment.until.is_(None))
        )
        if (attached or 0) >= clinic.capacity:
            raise RefusalError(Refusal.NO_CAPACITY)
        if current is not None and reason == "voluntary":
            changes = await session.scalar(
                select(func.count())
                .select_from(Attachment)
                .where(
                    Attachment.iin == iin,
                    Attachment.reason == "voluntary",
                    Attachment.since > now - dt.timedelta(days=365),
                )
            )
            if (changes or 0) >= self.settings.voluntary_changes_per_year:
                raise RefusalError(Refusal.CHANGE_LIMIT)
        return current
