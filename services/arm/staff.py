"""The provider channel (regulation, diagram 2 and table 2 of Приложение 1): clinic staff at the АРМ.

Process 1: a staff member logs in with ИИН and password. Process 2: they choose the service and enter
the citizen's ИИН. Process 3 / condition 1: the АРМ asks ГБД ФЛ through the gateway; process 4: a person
ГБД ФЛ does not know gets that message and nothing is registered. Process 5: the form (the same
definitions as the portal channel) is signed with the staff member's own employee certificate, checked
by the signature service. Processes 6–8: registration under the clinic's one number sequence, the same
grounds (:class:`services.arm.service.ArmService`), and the result. The citizen's portal learns of the
request and of every later change through signed status messages (sent from the outbox).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import uuid
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError
from sqlalchemy import select, update

from services.arm import roles
from services.arm.config import ArmSettings
from services.arm.models import (
    Clinic,
    PersonLookup,
    Registration,
    RequestDocument,
    Staff,
    StaffDraft,
    StaffUpload,
)
from services.arm.records import JournalRecords
from services.arm.registry import lookup_person
from services.arm.reports import queue_status, status_reports
from services.arm.roles import Action
from services.arm.service import ArmService, Prepared
from services.arm.slip import attachment_slip
from services.arm.staff_accounts import StaffAccounts
from shared.messaging.bus import RequestTimeout
from shared.messaging.dispatch import MeshClient
from shared.messaging.outbox import Outbox
from shared.platform import attachments
from shared.platform.db import Database, rows_affected
from shared.platform.http import form_error
from shared.rules.deadlines import deadline
from shared.rules.drafts import signed_draft
from shared.rules.errors import NotFound, RuleBroken
from shared.wire.canonical import canonical_json
from shared.wire.certs import Role
from shared.wire.clock import Clock
from shared.wire.contracts import (
    DOCUMENT_VERIFY,
    FORMS,
    ClinicStatus,
    EServiceRequest,
    FiledRequest,
    Person,
    ServiceKind,
    Signature,
    SignedRequest,
    Verdict,
)
from shared.wire.documents import STAFF_ROLES, verification_code, verification_url
from shared.wire.ids import InvalidIdentifier, parse_iin
from shared.wire.jws import parse
from shared.wire.refusals import Refusal, RefusalError
from shared.wire.topology import arm_address

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class FiledOutcome:
    """What process 8 gives the staff member to tell the citizen (the date and time of the visit…)."""

    request_id: str
    registration_number: str | None
    status: ClinicStatus  # completed | refused
    refusal: RefusalError | None
    result: str | None

    def result_document(self) -> dict[str, Any] | None:
        return None if self.result is None else json.loads(parse(self.result).payload)


def _iin(value: str) -> str:
    try:
        parse_iin(value)
    except InvalidIdentifier as exc:
        raise RefusalError(Refusal.IIN_INVALID, exc.detail) from None
    return value


class StaffService:
    """The provider channel's filing of requests (diagram 2) and what the clinic sees of them; the staff's
    accounts are :class:`StaffAccounts` (``accounts``), the journals' recorded changes
    :class:`JournalRecords` (``records``)."""

    def __init__(
        self,
        settings: ArmSettings,
        db: Database,
        clock: Clock,
        client: MeshClient,
        arm: ArmService,
        outbox: Outbox,
    ) -> None:
        self.settings, self.db, self.clock, self.client = settings, db, clock, client
        self.arm, self.outbox = arm, outbox
        self.accounts = StaffAccounts(settings, db, clock, arm.steps)
        self.records = JournalRecords(db, clock, arm, outbox)

    # -- processes 3 and 4: the citizen in ГБД ФЛ --------------------------------------------------
    async def person(self, member: Staff, iin: str, reason: str) -> dict[str, Any]:
        """Condition 1: the person as ГБД ФЛ knows them; PERSON_NOT_FOUND (process 4) otherwise. Each
        look-up is journaled first, with the staff member and the ``reason``."""
        roles.require(member, Action.LOOK_UP_PERSON)
        _iin(iin)
        reason = reason.strip()
        if not 3 <= len(reason) <= 200 or any(ord(c) < 32 or ord(c) == 127 for c in reason):
            raise RuleBroken("VALIDATION_ERROR", "say why the citizen is looked up (3–200 characters)")
        async with self.db.transaction() as session:
            session.add(
                PersonLookup(
                    at=self.clock.now(),
                    person_iin=iin,
                    staff_iin=member.iin,
                    clinic_bin=member.clinic_bin,
                    reason=reason[:200],
                )
            )
        # Table 2, step 3 (the query to ГБД ФЛ), or step 4 when ГБД ФЛ has no such person.
        with self.arm.steps.timed("step_3", refused="step_4"):
            try:
                answer = await lookup_person(self.client, iin, arm_address(member.clinic_bin))
            except RequestTimeout:
                raise RefusalError(Refusal.TIMEOUT, "ГБД ФЛ did not answer") from None
        person = Person.model_validate(answer["person"])
        async with self.db.sessions() as session:
            attachment = await self.arm.open_attachment(session, person.iin)
            clinic = await session.get(Clinic, attachment.clinic_bin) if attachment else None
        return {
            "person": person.model_dump(mode="json"),
            "parents": list(answer.get("parents", [])),
            "attachment": None
            if attachment is None
            else {
                "clinic_bin": attachment.clinic_bin,
                "clinic_name": clinic.short_name if clinic else None,
                "site": attachment.site,
                "since": attachment.since.isoformat(),
            },
        }

    # -- process 5: the form and the document to sign ---------------------------------------------
    async def upload(self, member: Staff, name: str, content: bytes) -> StaffUpload:
        """A scanned document to attach (table 2, process 5): PDF, JPEG or PNG by content, size-limited."""
        roles.require(member, Action.FILE_REQUEST)
        described = attachments.describe(name, content)
        row = StaffUpload(
            id=str(uuid.uuid4()), owner_iin=member.iin, content=content, created_at=self.clock.now(),
            **described.model_dump(),
        )  # fmt: skip
        async with self.db.transaction() as session:
            session.add(row)
        return row

    async def _uploads(self, member: Staff, *, ids: list[str] | None = None, hashes: set[str] | None = None) -> list:
        async with self.db.sessions() as session:
            query = select(StaffUpload).where(StaffUpload.owner_iin == member.iin)
            query = query.where(StaffUpload.id.in_(ids)) if ids is not None else query
            query = query.where(StaffUpload.sha256.in_(hashes)) if hashes is not None else query
            return list(await session.scalars(query))

    async def prepare(
        self,
        member: Staff,
        service: ServiceKind,
        iin: str,
        fields: dict[str, Any],
        documents: list[str] | None = None,
    ) -> StaffDraft:
        """Validate the form (one definition for both channels), look the patient up, return the document.
        Timed as table 2's step 2 (the choice of the service and its form)."""
        with self.arm.steps.timed("step_2"):
            return await self._prepare(member, service, iin, fields, documents)

    async def _prepare(
        self,
        member: Staff,
        service: ServiceKind,
        iin: str,
        fields: dict[str, Any],
        documents: list[str] | None,
    ) -> StaffDraft:
        roles.require(member, Action.FILE_REQUEST)
        _iin(iin)
        if documents:
            rows = {r.id: r for r in await self._uploads(member, ids=documents)}
            if set(rows) != set(documents):
                raise NotFound("NOT_FOUND", "attach only your own uploads")
            fields = {
                **fields,
                "documents": [
                    {"name": r.name, "media_type": r.media_type, "sha256": r.sha256, "size": r.size}
                    for r in (rows[d] for d in documents)
                ],
            }
        try:
            form = FORMS[service].model_validate(fields)
        except ValidationError as exc:
            raise form_error(exc) from None
        clean = form.model_dump(mode="json", exclude_none=True)
        found = await self.person(member, clean.get("patient_iin") or iin, f"filing: {service.value}")
        now = self.clock.now()
        document = SignedRequest(
            service=service,
            iin=iin,
            provider=member.clinic_bin,
            fields=clean,
            time=now,
            nonce=uuid.uuid4().hex,
            operator_iin=member.iin,
        )
        draft = StaffDraft(
            id=str(uuid.uuid4()),
            operator_iin=member.iin,
            clinic_bin=member.clinic_bin,
            document=canonical_json(document.model_dump(mode="json", exclude_none=True)).decode(),
            person=found["person"],
            parents=found["parents"],
            created_at=now,
            expires_at=now + dt.timedelta(seconds=self.settings.staff_draft_ttl_seconds),
            used_at=None,
        )
        async with self.db.transaction() as session:
            session.add(draft)
        return draft

    async def check_signature(self, member: Staff, jws: str) -> None:
        """Process 5 by the signature service: valid, not revoked, SIGN key, this staff member's ИИН, this
        clinic's БИН — and an employee's certificate (a citizen's or a seal is not a staff signature)."""
        try:
            answer = await self.client.request(
                "signature",
                DOCUMENT_VERIFY,
                {**Signature.of(jws), "expected_iin": member.iin, "expected_bin": member.clinic_bin, "purpose": "SIGN"},
                sender=arm_address(member.clinic_bin),
            )
        except RequestTimeout:
            raise RefusalError(Refusal.TIMEOUT, "the signature service did not answer") from None
        verdict = Verdict.model_validate(answer)
        if not verdict.valid:
            raise RefusalError(verdict.code or Refusal.SIGNATURE_INVALID, verdict.message)
        assert verdict.signer is not None
        if not STAFF_ROLES & set(verdict.signer.roles):
            raise RefusalError(Refusal.CERT_NOT_STAFF, "the certificate carries no employee role")

    async def draft(self, member: Staff, draft_id: str) -> StaffDraft:
        """A request this staff member prepared (404 for anyone else's, as for one that does not exist)."""
        roles.require(member, Action.FILE_REQUEST)
        async with self.db.sessions() as session:
            draft = await session.get(StaffDraft, draft_id)
        if draft is None or draft.operator_iin != member.iin:
            raise NotFound("NOT_FOUND", "no such prepared request")
        return draft

    async def sign(self, member: Staff, draft_id: str, jws: str) -> FiledOutcome:
        """Processes 5–8: the signed document must be exactly the prepared one; register and decide."""
        now = self.clock.now()
        draft = await self.draft(member, draft_id)
        with self.arm.steps.timed("step_5"):  # table 2, step 5: the form certified by the employee's ЭЦП
            jws = signed_draft(draft, jws, now)
            await self.check_signature(member, jws)
        signed = SignedRequest.model_validate_json(draft.document)
        person = Person.model_validate(draft.person)
        request_id = str(uuid.uuid4())
        prepared = Prepared(
            request=EServiceRequest(request_id=uuid.UUID(request_id), document=jws),
            accepted_at=now,
            signed=signed,
            person=person,
            parents=list(draft.parents),
        )
        if not person.alive:
            prepared.person_refusal = RefusalError(Refusal.PERSON_DECEASED)
        wanted = {d.sha256 for d in signed.documents()}
        prepared.files = {r.sha256: r.content for r in await self._uploads(member, hashes=wanted)} if wanted else {}
        if set(prepared.files) != wanted:
            raise RuleBroken("DOCUMENT_NOT_UPLOADED", "upload every attached document first")
        async with self.db.transaction() as session:
            used = await session.execute(
                update(StaffDraft).where(StaffDraft.id == draft.id, StaffDraft.used_at.is_(None)).values(used_at=now)
            )
            if not rows_affected(used):
                raise RefusalError(Refusal.DUPLICATE_REQUEST, "this prepared request was already signed")
            registration, outcome = await self.arm.process(session, member.clinic_bin, prepared)
            if registration is None:
                assert outcome.refusal is not None
                raise outcome.refusal  # not registered: nothing is kept (the draft stays unused)
            registration.channel, registration.operator_iin = "staff", member.iin
            reports = status_reports(registration, request_id, outcome, now)
            filed = FiledRequest(
                iin=signed.iin,
                patient_iin=signed.patient_iin,
                service=signed.service,
                document=jws,
                document_nonce=signed.nonce,
                submitted_at=now,
                deadline=deadline(signed.service, "staff", now, await self.records.hours(session, member)),
            )
            for report in reports:  # each may arrive first: each can open the request in the citizen's portal
                report.filed = filed
            for report in [*reports, *outcome.follow_ups]:
                await queue_status(self.outbox, session, member.clinic_bin, report, now)
        self.outbox.nudge()
        log.info("staff filed a request", extra={"number": registration.number, "service": signed.service.value})
        return FiledOutcome(request_id, registration.number, outcome.status, outcome.refusal, outcome.result)

    # -- a registered request as the clinic sees it ------------------------------------------------
    async def registration(self, member: Staff, number: str) -> tuple[Registration, list[RequestDocument]]:
        """A request of this clinic with the documents attached to it."""
        roles.require(member, Action.READ_JOURNALS)
        async with self.db.sessions() as session:
            registration = await session.scalar(
                select(Registration).where(Registration.number == number, Registration.clinic_bin == member.clinic_bin)
            )
            if registration is None:
                raise NotFound("NOT_FOUND", "no request with that number in this clinic")
            documents = list(
                await session.scalars(
                    select(RequestDocument)
                    .where(RequestDocument.registration_id == registration.id)
                    .order_by(RequestDocument.id)
                )
            )
        return registration, documents

    # -- the result's printable slip and its public verification -----------------------------------
    async def slip(self, member: Staff, number: str) -> bytes:
        """Process 8 of an attachment: the printable slip with a QR code to verify the signed result."""
        roles.require(member, Action.PRINT_SLIP)
        async with self.db.sessions() as session:
            registration = await session.scalar(
                select(Registration).where(
                    Registration.number == number,
                    Registration.clinic_bin == member.clinic_bin,
                    Registration.service == ServiceKind.ATTACHMENT.value,
                )
            )
            clinic = await session.get(Clinic, member.clinic_bin)
        if registration is None or registration.result is None or clinic is None:
            raise NotFound("NOT_FOUND", "no completed attachment with that number in this clinic")
        document = json.loads(parse(registration.result).payload)
        url = verification_url(self.settings.portal_public_url, registration.number, registration.result)
        return attachment_slip(document, url, clinic.timezone)

    async def verify_result(self, number: str, code: str) -> dict[str, Any]:
        """What the slip's QR code opens: the clinic-signed result, checked now by the signature service."""
        async with self.db.sessions() as session:
            registration = await session.scalar(select(Registration).where(Registration.number == number))
        if registration is None or registration.result is None or code != verification_code(registration.result):
            raise NotFound("NOT_FOUND", "no such result (check the link on the slip)")
        try:
            answer = await self.client.request(
                "signature",
                DOCUMENT_VERIFY,
                {"jws": registration.result, "expected_bin": registration.clinic_bin, "purpose": "SIGN"},
                sender=arm_address(registration.clinic_bin),
            )
        except RequestTimeout:
            raise RefusalError(Refusal.TIMEOUT, "the signature service did not answer") from None
        verdict = Verdict.model_validate(answer)
        valid, code = verdict.valid, verdict.code
        if (
            valid
            and verdict.signer is not None
            and not (verdict.signer.iin and Role.SIGNING_RIGHT.value in verdict.signer.roles)
        ):
            valid, code = False, Refusal.NO_SIGNING_RIGHT
        return {
            "registration_number": registration.number,
            "valid": valid,
            "code": code,
            "signer": None
            if verdict.signer is None
            else {"organization": verdict.signer.organization, "bin": verdict.signer.bin},
            "document": json.loads(parse(registration.result).payload),
        }
