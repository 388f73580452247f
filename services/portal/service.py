"""The portal's rules (regulation, diagram 1): registration, authorisation (process 1, condition 1,
process 2), the form and its document (process 3), the signature check (condition 2, process 4),
sending through the gateway (process 5), and the statuses the АРМ reports (processes 6–8).
"""

from __future__ import annotations

import datetime as dt
import logging
import uuid
import zoneinfo
from contextlib import ExitStack
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError
from sqlalchemy import bindparam, delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from services.portal import security
from services.portal.accounts import Accounts
from services.portal.admission import Admission
from services.portal.changes import RequestChanges
from services.portal.config import PortalSettings
from services.portal.history import History
from services.portal.models import (
    Citizen,
    Draft,
    KnownAttachment,
    Request,
    RequestEvent,
    Token,
    Upload,
)
from services.portal.quality import Quality
from services.portal.reports import TECHNICAL, ClinicReports
from services.portal.verification import Verification
from shared.messaging.bus import RequestTimeout
from shared.messaging.dispatch import MeshClient
from shared.platform import attachments
from shared.platform.db import Database, rows_affected, upsert
from shared.platform.groupcommit import GroupCommit
from shared.platform.http import form_error
from shared.platform.logs import CORRELATION
from shared.platform.metrics import OVERDUE
from shared.platform.steps import StepTimes
from shared.rules import deadlines
from shared.rules.calendar import WorkingHours
from shared.rules.clinics import load_clinics
from shared.rules.drafts import signed_draft
from shared.rules.errors import Conflict, NotFound, RuleBroken
from shared.rules.guardians import may_act_for
from shared.wire.canonical import canonical_json
from shared.wire.certs import TrustStore
from shared.wire.clock import Clock
from shared.wire.contracts import (
    ATTACHMENT_LOOKUP,
    CLINICS_LIST,
    DOCUMENT_VERIFY,
    ESERVICE_REQUEST,
    FORMS,
    PERSON_LOOKUP,
    SLOT_HOLD,
    WAITING_STATUSES,
    AppointmentForm,
    ClinicsList,
    DocumentFile,
    RequestStatus,
    ServiceKind,
    Signature,
    SignedRequest,
)
from shared.wire.documents import signed_content
from shared.wire.ids import InvalidIdentifier, parse_iin
from shared.wire.refusals import Refusal, RefusalError, refusal_text
from shared.wire.topology import arm_address

log = logging.getLogger(__name__)

KNOWN_ATTACHMENT_REFRESH = dt.timedelta(hours=1)
WAITING = tuple(WAITING_STATUSES)  # no outcome yet: these can be overdue
TITLES = {
    ServiceKind.HOME_CALL: ("Вызов врача на дом", "справка о вызове врача на дом, подписанная ЭЦП поликлиники"),
    ServiceKind.APPOINTMENT: ("Запись на прием к врачу", "талон записи с врачом, специальностью, временем и кабинетом"),
    ServiceKind.APPOINTMENT_CANCEL: ("Отмена записи на прием", "подтверждение отмены, время освобождается"),
    ServiceKind.ATTACHMENT: (
        "Прикрепление к медицинской организации, оказывающей ПМСП",
        "уведомление о прикреплении, подписанное ЭЦП",
    ),
}


@dataclass(frozen=True, slots=True)
class Prepared:
    draft_id: str
    document: str
    expires_at: dt.datetime


class PortalService:
    def __init__(self, settings: PortalSettings, db: Database, clock: Clock, client: MeshClient, store: TrustStore):
        self.settings = settings
        self.db = db
        self.clock = clock
        self.client = client
        self.store = store
        self.tz = zoneinfo.ZoneInfo(settings.timezone)
        self.calendar = settings.work_calendar()
        self.steps = StepTimes("portal", deadlines.PORTAL_STEPS)  # table 1's times, measured
        self.changes = RequestChanges()
        self.admission = Admission(settings.admission_target_seconds, settings.max_clinic_wait_seconds)
        self.writes = GroupCommit(db, {"sent": self._mark_sent})
        self.accounts = Accounts(settings, db, clock, self.ask, self.steps)
        self.quality = Quality(db, clock)
        self.reports = ClinicReports(clock, store, self.changes, self.admission, self.steps)
        self.history = History(settings, db, self.changes)
        self.verification = Verification(db, store)
        clinics = load_clinics(settings.clinics_file)
        self.clinic_hours = {
            c.bin: WorkingHours.from_json(c.hours, clinics.timezone, self.calendar) for c in clinics.clinics
        }

    # -- the mesh --------------------------------------------------------------------------
    async def ask(self, recipient: str, type: str, payload: dict[str, Any]) -> dict[str, Any]:
        try:
            return await self.client.request(recipient, type, payload)
        except RequestTimeout:
            raise RefusalError(Refusal.TIMEOUT, f"{recipient} did not answer in time") from None

    async def attachment_of(self, iin: str) -> dict[str, Any] | None:
        """The person's clinic from the attachment register; the last one known when the register is down."""
        try:
            info = await self.ask("arm", ATTACHMENT_LOOKUP, {"iin": iin})
        except RefusalError as exc:
            if exc.code is Refusal.NOT_ATTACHED:
                return None
            known = await self._known_attachment(iin)
            if exc.code is Refusal.TIMEOUT and known is not None:
                return {"iin": iin, "clinic_bin": known.clinic_bin, "as_of": known.updated_at.isoformat()}
            raise
        now = self.clock.now()
        known = await self._known_attachment(iin)
        # Written when it changed or the copy is older than KNOWN_ATTACHMENT_REFRESH: a read instead of a
        # commit on every form; "as of" stays within that interval of the register's answer.
        if known is None or known.clinic_bin != info["clinic_bin"] or now - known.updated_at > KNOWN_ATTACHMENT_REFRESH:
            async with self.db.transaction() as session:
                await upsert(
                    session,
                    KnownAttachment.__table__,
                    {"iin": iin, "clinic_bin": info["clinic_bin"], "updated_at": now},
                )
        return info

    async def known_clinic(self, iin: str) -> str | None:
        """The clinic the person was last known to be attached to (no exchange with the register)."""
        known = await self._known_attachment(iin)
        return known.clinic_bin if known else None

    async def _known_attachment(self, iin: str) -> KnownAttachment | None:
        async with self.db.sessions() as session:
            return await session.get(KnownAttachment, iin)

    # -- process 3: the form and the document to sign ---------------------------------------
    async def refresh_clinic_hours(self) -> int:
        """The clinics' working hours as the АРМ holds them (``clinics.list``), so that the deadline a citizen
        is shown is counted in the very hours the clinic's own deadline watcher counts in. Until the АРМ
        has answered once, the clinics file's hours stand in. Returns how many clinics it refreshed."""
        listed = ClinicsList.model_validate(await self.ask("arm", CLINICS_LIST, {}))
        for clinic in listed.clinics:
            self.clinic_hours[clinic.bin] = WorkingHours.from_json(clinic.hours, clinic.timezone, self.calendar)
        return len(listed.clinics)

    def hours_of(self, clinic_bin: str) -> WorkingHours:
        """The clinic's working hours from the clinic data (a clinic missing there: 09:00–18:00, Mon–Fri)."""
        return self.clinic_hours.get(clinic_bin) or WorkingHours.from_json(
            {str(d): ("09:00", "18:00") for d in range(1, 6)}, self.settings.timezone, self.calendar
        )

    def deadline(self, service: ServiceKind, submitted: dt.datetime, clinic_bin: str) -> dt.datetime:
        """Приложение 1, table 1, in the clinic's working time (see :mod:`shared.rules.deadlines`)."""
        return deadlines.deadline(service, "portal", submitted, self.hours_of(clinic_bin))

    async def clinic_for(
        self, citizen: Citizen, service: ServiceKind, clinic_bin: str | None, fields: dict[str, Any]
    ) -> str:
        if service is ServiceKind.APPOINTMENT_CANCEL:
            async with self.db.sessions() as session:
                booking = await session.scalar(
                    select(Request).where(
                        Request.iin == citizen.iin,
                        Request.registration_number == fields.get("registration_number"),
                        Request.service == ServiceKind.APPOINTMENT.value,
                    )
                )
            if booking is None:
                raise RefusalError(Refusal.NO_SUCH_BOOKING, "no booking of yours has that registration number")
            return booking.clinic_bin
        if clinic_bin:
            return clinic_bin
        if service is ServiceKind.ATTACHMENT:
            raise RuleBroken("CLINIC_REQUIRED", "choose the clinic to attach to (clinic_bin)")
        attachment = await self.attachment_of(fields.get("patient_iin") or citizen.iin)
        if attachment is None:
            raise RefusalError(Refusal.NOT_ATTACHED, "attach to a clinic first")
        return str(attachment["clinic_bin"])

    async def check_guardian(self, citizen: Citizen, patient_iin: str) -> None:
        """Acting for another person needs to be their parent or guardian (per ГБД ФЛ) while they are a
        minor. Refused with NOT_GUARDIAN whatever the reason — an unknown ИИН included — so the answer
        reveals nothing about the person; a malformed ИИН is a validation error."""
        try:
            parse_iin(patient_iin)
        except InvalidIdentifier as exc:
            raise RefusalError(Refusal.IIN_INVALID, exc.detail) from None
        try:
            answer = await self.ask("gbd_fl", PERSON_LOOKUP, {"iin": patient_iin})
        except RefusalError as exc:
            if exc.code in TECHNICAL:
                raise
            raise RefusalError(Refusal.NOT_GUARDIAN) from None
        person = answer["person"]
        birth = dt.date.fromisoformat(person["birth_date"])
        today = self.clock.now().astimezone(self.tz).date()
        if not may_act_for(citizen.iin, patient_iin, birth, answer.get("parents", []), today):
            raise RefusalError(Refusal.NOT_GUARDIAN)

    # -- documents attached in electronic form (process 3) -----------------------------------
    async def upload(self, citizen: Citizen, name: str, content: bytes) -> Upload:
        """Keep a document to attach: checked by content (PDF, JPEG, PNG) and size; its hash is returned."""
        described = attachments.describe(name, content)
        row = Upload(
            id=str(uuid.uuid4()),
            owner_iin=citizen.iin,
            content=content,
            created_at=self.clock.now(),
            **described.model_dump(),
        )
        async with self.db.transaction() as session:
            session.add(row)
        return row

    async def attached(self, citizen: Citizen, upload_ids: list[str]) -> list[dict[str, Any]]:
        """The citizen's own uploads, as the form's ``documents``."""
        async with self.db.sessions() as session:
            rows = {r.id: r for r in await session.scalars(select(Upload).where(Upload.id.in_(upload_ids)))}
        documents = []
        for upload_id in upload_ids:
            row = rows.get(upload_id)
            if row is None or row.owner_iin != citizen.iin:
                raise NotFound("NOT_FOUND", f"no upload {upload_id} of yours")
            documents.append({"name": row.name, "media_type": row.media_type, "sha256": row.sha256, "size": row.size})
        return documents

    async def files_of(self, iin: str, signed: SignedRequest) -> list[DocumentFile]:
        """The contents of the documents a signed request names, from the citizen's uploads."""
        wanted = {d.sha256 for d in signed.documents()}
        if not wanted:
            return []
        async with self.db.sessions() as session:
            rows = {
                r.sha256: r
                for r in await session.scalars(select(Upload).where(Upload.owner_iin == iin, Upload.sha256.in_(wanted)))
            }
        if set(rows) != wanted:
            raise RuleBroken("DOCUMENT_NOT_UPLOADED", "upload every attached document first (POST /uploads)")
        return [attachments.file_of(rows[sha].content) for sha in sorted(wanted)]

    async def prepare(
        self,
        citizen: Citizen,
        service: ServiceKind,
        clinic_bin: str | None,
        fields: dict[str, Any],
        documents: list[str] | None = None,
    ) -> Prepared:
        """ "Отправить запрос": validate the form, fix the provider, hold a slot, return the document to sign.
        Timed as process 3 (table 1), whichever channel asks."""
        with self.steps.timed("process_3"):
            return await self._prepare(citizen, service, clinic_bin, fields, documents)

    async def _prepare(
        self,
        citizen: Citizen,
        service: ServiceKind,
        clinic_bin: str | None,
        fields: dict[str, Any],
        documents: list[str] | None,
    ) -> Prepared:
        if documents:
            fields = {**fields, "documents": await self.attached(citizen, documents)}
        try:
            form = FORMS[service].model_validate(fields)
        except ValidationError as exc:
            raise form_error(exc) from None
        clean = form.model_dump(mode="json", exclude_none=True)
        if clean.get("patient_iin", citizen.iin) != citizen.iin:
            await self.check_guardian(citizen, clean["patient_iin"])  # before anything about them is looked up
        # Shedding must cost little, or refusing a crowd takes the capacity the accepted requests need: the
        # clinic known here (chosen, or the last one learnt) is checked before asking the register.
        likely = clinic_bin or await self.known_clinic(clean.get("patient_iin") or citizen.iin)
        with ExitStack() as admitted:
            if likely:
                admitted.enter_context(self.admission.step(likely))  # before the register is asked
            clinic = await self.clinic_for(citizen, service, clinic_bin, clean)
            if clinic != likely:
                admitted.enter_context(self.admission.step(clinic))  # before a slot is held or anything stored
            return await self._hold_and_draft(citizen, service, clinic, form, clean)

    async def _hold_and_draft(
        self, citizen: Citizen, service: ServiceKind, clinic: str, form: Any, clean: dict[str, Any]
    ) -> Prepared:
        """Hold the appointment's slot (if any) and store the document to sign."""
        now = self.clock.now()
        if isinstance(form, AppointmentForm):
            await self.ask(
                arm_address(clinic),
                SLOT_HOLD,
                {
                    "doctor_code": form.doctor_code,
                    "slot_start": form.slot_start.isoformat(),
                    "iin": citizen.iin,
                    "patient_iin": form.patient_iin or citizen.iin,
                },
            )
        document = SignedRequest(
            service=service, iin=citizen.iin, provider=clinic, fields=clean, time=now, nonce=uuid.uuid4().hex
        )
        text = canonical_json(document.model_dump(mode="json", exclude_none=True)).decode()
        draft = Draft(
            id=str(uuid.uuid4()),
            iin=citizen.iin,
            service=service.value,
            clinic_bin=clinic,
            document=text,
            created_at=now,
            expires_at=now + dt.timedelta(seconds=self.settings.draft_ttl_seconds),
            used_at=None,
        )
        async with self.db.transaction() as session:
            session.add(draft)
        return Prepared(draft_id=draft.id, document=text, expires_at=draft.expires_at)

    # -- condition 2 and process 5 ----------------------------------------------------------
    async def check_signature(self, jws: str, iin: str) -> None:
        """Condition 2, by the signature service: validity, CRL, SIGN key, ИИН = the citizen's."""
        verdict = await self.ask(
            "signature", DOCUMENT_VERIFY, {**Signature.of(jws), "expected_iin": iin, "purpose": "SIGN"}
        )
        if not verdict["valid"]:
            raise RefusalError(Refusal(verdict["code"]))

    async def draft(self, citizen: Citizen, draft_id: str) -> Draft:
        """A prepared request of this citizen (404 for anyone else's, as for one that does not exist)."""
        async with self.db.sessions() as session:
            draft = await session.get(Draft, draft_id)
        if draft is None or draft.iin != citizen.iin:
            raise NotFound("NOT_FOUND", "no such prepared request")
        return draft

    async def sign(self, citizen: Citizen, draft_id: str, jws: str) -> Request:
        """ "Подписать": the signed document must be exactly the prepared one. Timed as process 5 — or as
        process 4 when the signature (condition 2) is refused."""
        with self.steps.timed("process_5", refused="process_4"):
            return await self._sign(citizen, draft_id, jws)

    async def _sign(self, citizen: Citizen, draft_id: str, jws: str) -> Request:
        now = self.clock.now()
        draft = await self.draft(citizen, draft_id)
        jws = signed_draft(draft, jws, now)
        message_id = self.correlate()
        with self.admission.step(draft.clinic_bin):
            await self.check_signature(jws, citizen.iin)
            signed = SignedRequest.model_validate_json(draft.document)
            return await self.submit(citizen, signed, jws, draft_id=draft.id, message_id=message_id)

    @staticmethod
    def correlate() -> str:
        """The id of the request's sending, chosen before its signature is checked: it is the correlation
        id under which the request is followed through every service (logs, the gateway's journal)."""
        message_id = str(uuid.uuid4())
        CORRELATION.set(message_id)
        return message_id

    async def submit_signed(self, citizen: Citizen, jws: str) -> Request:
        """One-step submission for REST clients that already hold a signed document; timed as process 5 (or
        4 when refused), as the two-step signing is."""
        with self.steps.timed("process_5", refused="process_4"):
            return await self._submit_signed(citizen, jws)

    async def _submit_signed(self, citizen: Citizen, jws: str) -> Request:
        try:
            signed = SignedRequest.model_validate_json(signed_content(jws))
        except ValidationError as exc:
            raise RefusalError(Refusal.MALFORMED, f"signed request: {exc.error_count()} invalid fields") from None
        if signed.iin != citizen.iin:
            raise RefusalError(Refusal.IIN_MISMATCH, "the document is not in your name")
        age = abs((self.clock.now() - signed.time).total_seconds())
        if age > self.settings.document_max_age_seconds:
            raise RefusalError(Refusal.EXPIRED, "the document's time is too far from now")
        signed.form()
        await self.files_of(citizen.iin, signed)  # every attached document must have been uploaded
        message_id = self.correlate()
        with self.admission.step(signed.provider):
            await self.check_signature(jws, citizen.iin)
            return await self.submit(citizen, signed, jws, message_id=message_id)

    async def submit(
        self,
        citizen: Citizen,
        signed: SignedRequest,
        jws: str,
        draft_id: str | None = None,
        message_id: str | None = None,
    ) -> Request:
        """Process 5: store the request (``submitted``, with its deadline) and send it to the clinic (the
        caller holds an admission step for it)."""
        now = self.clock.now()
        request = Request(
            id=str(uuid.uuid4()),
            iin=citizen.iin,
            patient_iin=signed.patient_iin,
            service=signed.service.value,
            clinic_bin=signed.provider,
            document=jws,
            document_nonce=signed.once_key,
            message_id=message_id or str(uuid.uuid4()),
            status=RequestStatus.SUBMITTED,
            submitted_at=now,
            deadline=self.deadline(signed.service, now, signed.provider),
            updated_at=now,
        )
        async with self.db.sessions() as session:
            if await session.scalar(select(Request.id).where(Request.document_nonce == signed.once_key)):
                raise RefusalError(Refusal.DUPLICATE_REQUEST)
        try:
            async with self.db.transaction() as session:
                session.add(request)
                await session.flush()  # the unique nonce settles a race between two submissions of one document
                session.add(RequestEvent(request_id=request.id, status=RequestStatus.SUBMITTED, at=now, detail=None))
                if draft_id is not None:
                    await session.execute(update(Draft).where(Draft.id == draft_id).values(used_at=now))
        except IntegrityError:
            raise RefusalError(Refusal.DUPLICATE_REQUEST) from None
        log.info("request submitted", extra={"request": request.id, "service": request.service})
        self.admission.sent(request.clinic_bin, request.id)
        await self.send(request)
        return request

    async def send(self, request: Request) -> None:
        """Publish (broker-confirmed) and mark sent; an unconfirmed sending is repeated by the resender."""
        try:
            signed = SignedRequest.model_validate_json(signed_content(request.document))
            files = [f.model_dump() for f in await self.files_of(request.iin, signed)]
            await self.client.send(
                arm_address(request.clinic_bin),
                ESERVICE_REQUEST,
                {"request_id": request.id, "document": request.document, "files": files},
                message_id=uuid.UUID(request.message_id),
            )
        except Exception:  # the resender tries again; the request is stored
            log.warning("sending failed; will retry", extra={"request": request.id}, exc_info=True)
            return
        await self.writes.submit("sent", {"id_": request.id, "at_": self.clock.now()})

    @staticmethod
    async def _mark_sent(connection: AsyncConnection, marks: list[dict[str, Any]]) -> list[None]:
        """Sent marks of many requests in one statement (group commit: see shared/platform/groupcommit.py)."""
        table = Request.__table__
        statement = update(table).where(table.c.id == bindparam("id_")).values(sent_at=bindparam("at_"))
        await connection.execute(statement, marks)
        return [None] * len(marks)

    async def resend_unsent(self) -> int:
        cutoff = self.clock.now() - dt.timedelta(seconds=self.settings.resend_after_seconds)
        async with self.db.sessions() as session:
            pending = list(
                await session.scalars(
                    select(Request).where(
                        Request.status == RequestStatus.SUBMITTED,
                        Request.sent_at.is_(None),
                        Request.updated_at < cutoff,
                    )
                )
            )
        for request in pending:
            await self.send(request)
        return len(pending)

    async def flag_overdue(self) -> int:
        """The deadline watcher: requests past their deadline without an outcome are flagged (once)."""
        now = self.clock.now()
        async with self.db.transaction() as session:
            result = await session.execute(
                update(Request)
                .where(Request.status.in_(WAITING), Request.deadline < now, Request.overdue_at.is_(None))
                .values(overdue_at=now)
            )
        flagged = rows_affected(result)
        if flagged:
            OVERDUE.labels("portal", "request").inc(flagged)
            log.warning("requests overdue", extra={"flagged": flagged})
        return flagged

    async def purge_drafts(self, older_than: dt.timedelta = dt.timedelta(days=1)) -> int:
        """Forget prepared documents that expired long ago (signed ones live on in their request), expired
        tokens and old login counters."""
        now = self.clock.now()
        async with self.db.transaction() as session:
            result = await session.execute(delete(Draft).where(Draft.expires_at < now - older_than))
            await session.execute(delete(Token).where(Token.expires_at < now - older_than))
        await self.accounts.throttle.purge(now)
        return rows_affected(result)

    async def retry(self, citizen: Citizen, request_id: str) -> Request:
        """The retry path of a technically failed request: the same document, a new message."""
        now = self.clock.now()
        async with self.db.transaction() as session:
            # Locked: of concurrent retries only the first sees "failed"; the others see "submitted".
            request = await security.own(session, citizen, request_id, lock=True)
            if request.status is not RequestStatus.FAILED:
                raise Conflict("NOT_FAILED", "only a failed request can be retried")
            # "failed" means the clinic never registered this request: no clinic status is outstanding,
            # and the new sending is numbered afresh by the clinic.
            request.status, request.message_id, request.sent_at, request.updated_at = (
                RequestStatus.SUBMITTED,
                str(uuid.uuid4()),
                None,
                now,
            )
            request.status_seq = 0
            request.refusal_code = request.refusal_message = None
            session.add(RequestEvent(request_id=request.id, status=RequestStatus.SUBMITTED, at=now, detail="retry"))
        await self.send(request)
        return request


def refusal_body(code: str | None) -> dict[str, str] | None:
    return None if code is None else {"code": code, "message": refusal_text(Refusal(code))}
