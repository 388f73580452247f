"""Bus handlers of the АРМ: given the parsed contract, call :mod:`services.arm.service`, reply or send status."""

from __future__ import annotations

from functools import partial
from typing import Any

from services.arm.catalogue import attachment_info, clinics_list, hosted_clinic
from services.arm.registry import LOOKUP_ATTEMPTS, lookup_person
from services.arm.reports import status_reports
from services.arm.service import ArmService, Prepared, verify_request
from shared.messaging.bus import RequestTimeout
from shared.messaging.dispatch import MessageContext, Route, basic_routes
from shared.platform.attachments import check_files
from shared.platform.runtime import ServiceRuntime
from shared.wire.contracts import (
    ATTACHMENT_LOOKUP,
    CLINICS_LIST,
    ESERVICE_REQUEST,
    ESERVICE_STATUS,
    SLOT_HOLD,
    SLOTS_QUERY,
    AttachmentInfo,
    AttachmentLookup,
    ClinicsList,
    ClinicsQuery,
    EServiceRequest,
    Person,
    SlotHeld,
    SlotHoldRequest,
    SlotsFound,
    SlotsQuery,
)
from shared.wire.refusals import Refusal, RefusalError


def clinic_bin_of(context: MessageContext) -> str:
    address = context.envelope.recipient
    if not address.startswith("arm."):
        raise RefusalError(Refusal.MALFORMED, "this message goes to a clinic address arm.<БИН>")
    return address.split(".", 1)[1]


async def prepare_request(runtime: ServiceRuntime, context: MessageContext, request: EServiceRequest) -> Prepared:
    """Before the transaction of an e-service request: its signature and documents (condition 2) and the
    person in ГБД ФЛ (processes 3–4). What fails here is recorded on :class:`Prepared` for the domain."""
    prepared = Prepared(request, accepted_at=context.accepted_at)
    try:
        prepared.signed, prepared.signer = verify_request(request, runtime.store, clinic_bin_of(context))
        prepared.files = check_files(prepared.signed.documents(), request.files)
    except RefusalError as exc:
        prepared.rejection = exc
        return prepared
    try:
        answer = await lookup_person(
            runtime.client, prepared.signed.patient_iin, context.envelope.recipient, LOOKUP_ATTEMPTS
        )
    except RefusalError as exc:
        prepared.person_refusal = exc
    except RequestTimeout:
        # A technical fault, not a refusal on the merits: nothing is registered, the portal offers a retry.
        prepared.rejection = RefusalError(Refusal.TIMEOUT, "ГБД ФЛ did not answer")
    else:
        prepared.person = Person.model_validate(answer["person"])
        prepared.parents = list(answer.get("parents", []))
        if not prepared.person.alive:
            prepared.person_refusal = RefusalError(Refusal.PERSON_DECEASED)
    return prepared


def routes(runtime: ServiceRuntime, service: ArmService) -> dict[str, Route[Any]]:
    async def eservice_request(context: MessageContext, request: EServiceRequest) -> None:
        assert context.session is not None
        prepared: Prepared = context.prepared
        registration, outcome = await service.process(context.session, clinic_bin_of(context), prepared)
        reports = status_reports(registration, str(request.request_id), outcome, service.clock.now())
        for report in [*reports, *outcome.follow_ups]:
            context.send(ESERVICE_STATUS, context.envelope.sender, report)

    async def slots(context: MessageContext, query: SlotsQuery) -> SlotsFound:
        async with runtime.db.sessions() as session:
            clinic = await hosted_clinic(session, clinic_bin_of(context))
            found = await service.slots.free_slots(
                session, clinic, query.doctor_code, query.specialty, query.date_from, query.days
            )
        return SlotsFound(slots=found)

    async def hold(context: MessageContext, request: SlotHoldRequest) -> SlotHeld:
        async with runtime.db.transaction() as session:
            clinic = await hosted_clinic(session, clinic_bin_of(context))
            patient = request.patient_iin or request.iin
            until = await service.slots.hold(
                session, clinic, request.doctor_code, request.slot_start, request.iin, patient
            )
        return SlotHeld(held_until=until)

    async def attachment_lookup(_context: MessageContext, request: AttachmentLookup) -> AttachmentInfo:
        async with runtime.db.sessions() as session:
            return await attachment_info(session, request.iin)

    async def clinics(_context: MessageContext, _query: ClinicsQuery) -> ClinicsList:
        async with runtime.db.sessions() as session:
            return await clinics_list(session)

    return {
        **basic_routes("arm"),
        ESERVICE_REQUEST: Route(eservice_request, transactional=True, prepare=partial(prepare_request, runtime)),
        SLOTS_QUERY: Route(slots),
        SLOT_HOLD: Route(hold),
        ATTACHMENT_LOOKUP: Route(attachment_lookup),
        CLINICS_LIST: Route(clinics),
    }
