"""Processes 6–8 of diagram 1 as the clinic reports them (``eservice.status``), and the gateway's refusals of
the portal's own sendings: each applied once, in the order the clinic numbered them."""

from __future__ import annotations

import logging

from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.portal.admission import Admission
from services.portal.changes import RequestChanges
from services.portal.models import KnownAttachment, Request, RequestEvent
from shared.platform.db import insert_or_ignore, upsert
from shared.platform.steps import StepTimes
from shared.wire.certs import TrustStore
from shared.wire.clock import Clock
from shared.wire.contracts import EServiceStatus, RequestStatus, ServiceKind, SignedRequest
from shared.wire.documents import STAFF_ROLES, verify_clinic_result, verify_document
from shared.wire.refusals import Refusal, RefusalError
from shared.wire.topology import arm_address

log = logging.getLogger(__name__)

# The clinic's statuses that close a step of table 1 (6: registered; 7: refused on the merits; 8: the result).
DECISION_STEPS = {
    RequestStatus.REGISTERED: "process_6",
    RequestStatus.REFUSED: "process_7",
    RequestStatus.COMPLETED: "process_8",
}
# Refusals that are technical faults, not decisions on the merits: the request is "failed", with a retry.
TECHNICAL = {
    Refusal.TIMEOUT,
    Refusal.INTERNAL,
    Refusal.ROUTE_UNKNOWN,
    Refusal.ACCESS_DENIED,
    Refusal.EXPIRED,
    Refusal.MALFORMED,
    Refusal.CERT_STATUS_UNKNOWN,
}


class ClinicReports:
    """Applies the clinic's status messages and the gateway's refusals inside the inbox's transaction."""

    def __init__(
        self, clock: Clock, store: TrustStore, changes: RequestChanges, admission: Admission, steps: StepTimes
    ) -> None:
        self.clock, self.store, self.changes, self.admission, self.steps = clock, store, changes, admission, steps

    async def apply_status(self, session: AsyncSession, sender: str, status: EServiceStatus) -> None:
        """Apply a clinic's status message. Every message goes into the history; the request's status moves
        only for a higher ``seq`` than the last applied one, so statuses that cross in flight never
        overwrite a later one (and a final status is never overwritten by an earlier one)."""
        # Lock the row: two statuses may be applied concurrently (PostgreSQL runs them in parallel).
        request = await session.get(Request, str(status.request_id), with_for_update=True)
        if request is None and status.filed is not None:
            request = await self.file_from_clinic(session, sender, status)
        if request is None or sender != arm_address(request.clinic_bin):
            log.warning("status for an unknown request or from the wrong clinic", extra={"sender": sender})
            return
        self.admission.answered(request.clinic_bin, request.id)
        now = self.clock.now()
        name = RequestStatus(status.status)
        detail = status.note or status.registration_number
        if status.refusal is not None:
            detail = f"{status.refusal.code}: {status.refusal.message}"
            if status.refusal.code in TECHNICAL:
                name = RequestStatus.FAILED
        if status.result is not None:
            try:
                verify_clinic_result(status.result, self.store, request.clinic_bin)
            except RefusalError as exc:
                log.error("clinic result failed verification", extra={"request": request.id, "code": exc.code})
                name, detail = RequestStatus.FAILED, f"{Refusal.INTERNAL}: result signature invalid ({exc.code})"
        session.add(RequestEvent(request_id=request.id, status=name, at=status.at, seq=status.seq, detail=detail))
        # Every status changes the history, and a long-poll waits for the history to be whole: an earlier
        # status arriving after a later one must wake it too (else it answers only at its next re-read).
        self.changes.after_commit(session, request.id)
        if status.registration_number:
            request.registration_number = status.registration_number
        if request.channel == "portal" and name in DECISION_STEPS:
            # Timed whenever it arrives (the inbox lets each status through once), even late: the step's
            # duration is the clinic's, whatever order its messages crossed in.
            step = DECISION_STEPS[name]
            self.steps.record(step, (status.at - request.submitted_at).total_seconds())
        if status.seq <= request.status_seq:
            return  # an earlier status arriving late: history only
        request.status_seq, request.status, request.updated_at = status.seq, name, now
        request.status_note = status.note
        if status.refusal is not None:
            request.refusal_code, request.refusal_message = status.refusal.code.value, status.refusal.message
        if name is RequestStatus.COMPLETED:
            request.result = status.result
            if request.service == ServiceKind.ATTACHMENT.value:
                await upsert(
                    session,
                    KnownAttachment.__table__,
                    {"iin": request.patient_iin, "clinic_bin": request.clinic_bin, "updated_at": now},
                )

    async def file_from_clinic(self, session: AsyncSession, sender: str, status: EServiceStatus) -> Request | None:
        """A request that clinic staff registered for a citizen (diagram 2) joins the citizen's history.

        The staff-signed document must verify and be the clinic's own; otherwise nothing is stored."""
        filed = status.filed
        assert filed is not None
        clinic_bin = sender.removeprefix("arm.")
        try:
            document = verify_document(filed.document, self.store, expected_bin=clinic_bin)
            if not STAFF_ROLES & set(document.signer.roles):
                raise RefusalError(Refusal.CERT_NOT_STAFF)
            signed = SignedRequest.model_validate(document.claims())
        except (RefusalError, ValidationError):
            log.warning("a clinic-filed request failed verification", extra={"sender": sender})
            return None
        if signed.nonce != filed.document_nonce or signed.iin != filed.iin or signed.provider != clinic_bin:
            log.warning("a clinic-filed request does not match its document", extra={"sender": sender})
            return None
        values = {
            "id": str(status.request_id),
            "iin": filed.iin,
            "patient_iin": filed.patient_iin,
            "service": filed.service.value,
            "clinic_bin": clinic_bin,
            "document": filed.document,
            "document_nonce": signed.once_key,
            "message_id": str(status.request_id),
            "status": RequestStatus.SUBMITTED,
            "status_seq": 0,
            "channel": "staff",
            "submitted_at": filed.submitted_at,
            "deadline": filed.deadline,
            "updated_at": self.clock.now(),
            "sent_at": filed.submitted_at,
        }
        # Each of the clinic's statuses carries the filing, and two may be applied at once: the database
        # decides which one files the request (the other waits for it, then applies its status to it).
        if await insert_or_ignore(session, Request.__table__, values):
            session.add(
                RequestEvent(
                    request_id=values["id"], status=RequestStatus.SUBMITTED, at=filed.submitted_at, detail="staff"
                )
            )
        return await session.get(Request, values["id"], with_for_update=True)

    async def apply_gateway_refusal(self, session: AsyncSession, message_id: str, code: Refusal, message: str) -> None:
        """The gateway refused our sending of a request: the request failed, unless the clinic has it."""
        request = await session.scalar(select(Request).where(Request.message_id == message_id).with_for_update())
        if request is None:
            return
        now = self.clock.now()
        if code is Refusal.REPLAYED:
            # The gateway had accepted this very message before (a resend of a sending whose confirmation
            # was lost): the request is on its way, nothing failed.
            if request.sent_at is None:
                request.sent_at = now
            return
        # A technical refusal never overrules what the clinic has reported (it has the request).
        if request.status is RequestStatus.SUBMITTED and request.status_seq == 0:
            request.status, request.refusal_code, request.refusal_message, request.updated_at = (
                RequestStatus.FAILED,
                code.value,
                message,
                now,
            )
            detail = f"{code}: {message}"
            session.add(RequestEvent(request_id=request.id, status=RequestStatus.FAILED, at=now, detail=detail))
            self.changes.after_commit(session, request.id)
            self.admission.answered(request.clinic_bin, request.id)
