"""HTTP API of the АРМ for clinic staff (regulation, diagram 2): log in, look a citizen up, file and sign
a request, work in the journals. Every route answers for the staff member's own clinic only."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from services.arm import journals, views
from services.arm.models import Staff
from services.arm.schemas import (
    AbsenceIn,
    AbsenceOut,
    AppointmentChangeIn,
    DocumentOut,
    FiledOut,
    HomeCallChangeIn,
    HomeCallOut,
    PageOut,
    PasswordChangeIn,
    RefusalBody,
    RegistrationOut,
    StaffLoginIn,
    StaffOut,
    StaffPreparedOut,
    StaffPrepareIn,
    StaffSignIn,
    StaffTokenOut,
)
from services.arm.staff import StaffService
from shared.messaging.dispatch import refusal_payload
from shared.platform.attachments import UploadOut
from shared.platform.http import ApiError, client_address, error_responses, from_state, read_limited
from shared.wire.contracts import MAX_DOCUMENT_BYTES, TEXT_PATTERN

router = APIRouter(prefix="/api/v1/staff", tags=["staff"], responses=error_responses(401, 403, 404, 409, 429, 504))
public = APIRouter(prefix="/api/v1", tags=["verification"], responses=error_responses(404))
_bearer = HTTPBearer(auto_error=False)


StaffServiceDep = Annotated[StaffService, from_state("staff")]


async def current_member(
    service: StaffServiceDep, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
) -> Staff:
    if credentials is None:
        raise ApiError(401, "UNAUTHORIZED", "log in first: Authorization: Bearer <token>")
    return await service.accounts.member(credentials.credentials)


async def member_with_given_password(
    service: StaffServiceDep, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
) -> Staff:
    """The token's holder, also while their password is still the one an operator gave them."""
    if credentials is None:
        raise ApiError(401, "UNAUTHORIZED", "log in first: Authorization: Bearer <token>")
    return await service.accounts.member(credentials.credentials, changing_password=True)


MemberDep = Annotated[Staff, Depends(current_member)]
AnyMemberDep = Annotated[Staff, Depends(member_with_given_password)]
PageDep = Annotated[int, Query(ge=1, le=100_000)]
SizeDep = Annotated[int, Query(ge=1, le=journals.MAX_PAGE_SIZE)]


def staff_out(member: Staff) -> StaffOut:
    return StaffOut(
        iin=member.iin,
        surname=member.surname,
        name=member.name,
        clinic_bin=member.clinic_bin,
        role=member.role,
        doctor_code=member.doctor_code,
    )


@router.post("/auth/login", response_model=StaffTokenOut)
async def login(body: StaffLoginIn, request: Request, service: StaffServiceDep) -> StaffTokenOut:
    """Process 1: ИИН and password. 401 AUTH_FAILED for a wrong pair; 429 when throttled."""
    client = client_address(request)
    token, expires, member = await service.accounts.login(body.iin, body.password, client)
    return StaffTokenOut(
        access_token=token,
        expires_at=expires,
        staff=staff_out(member),
        password_change_required=member.must_change_password,
    )


@router.post("/auth/password", status_code=204)
async def change_password(
    body: PasswordChangeIn,
    request: Request,
    member: AnyMemberDep,
    credentials: Annotated[HTTPAuthorizationCredentials, Depends(_bearer)],
    service: StaffServiceDep,
) -> Response:
    """The staff member's own new password (required at the first log-in of an account an operator made);
    401 AUTH_FAILED for a wrong current password, 422 PASSWORD_POLICY; other sessions end."""
    client = client_address(request)
    await service.accounts.change_password(
        member, credentials.credentials, body.current_password, body.new_password, client
    )
    return Response(status_code=204)


@router.post("/auth/logout", status_code=204)
async def logout(
    _member: AnyMemberDep,
    credentials: Annotated[HTTPAuthorizationCredentials, Depends(_bearer)],
    service: StaffServiceDep,
) -> Response:
    await service.accounts.logout(credentials.credentials)
    return Response(status_code=204)


@router.get("/me", response_model=StaffOut)
async def me(member: AnyMemberDep) -> StaffOut:
    return staff_out(member)


@router.get("/persons/{iin}")
async def person(
    iin: str,
    member: MemberDep,
    service: StaffServiceDep,
    reason: Annotated[str, Query(max_length=200)],
) -> dict:
    """Processes 3–4: the citizen as ГБД ФЛ knows them, and their attachment; 404 PERSON_NOT_FOUND.
    ``reason`` (why the citizen is looked up) is journaled with the staff member before ГБД ФЛ is asked."""
    return await service.person(member, iin, reason)


@router.post("/uploads", response_model=UploadOut, status_code=201)
async def upload(
    request: Request,
    member: MemberDep,
    service: StaffServiceDep,
    name: Annotated[str, Query(min_length=1, max_length=120, pattern=TEXT_PATTERN)],
) -> UploadOut:
    """A scanned document to attach (raw body: PDF, JPEG or PNG by content, at most 2 MiB; 413 above)."""
    row = await service.upload(member, name, await read_limited(request, MAX_DOCUMENT_BYTES))
    return UploadOut.of(row)


@router.get("/registrations/{number}", response_model=RegistrationOut)
async def registration(number: str, member: MemberDep, service: StaffServiceDep) -> RegistrationOut:
    """A request of this clinic, with the documents the citizen or staff attached."""
    row, documents = await service.registration(member, number[:40])
    return RegistrationOut(
        number=row.number,
        service=row.service,
        channel=row.channel,
        status=row.status,
        iin=row.iin,
        patient_iin=row.patient_iin,
        registered_at=row.registered_at,
        deadline=row.deadline,
        overdue_at=row.overdue_at,
        refusal_code=row.refusal_code,
        documents=[DocumentOut.model_validate(d, from_attributes=True) for d in documents],
    )


@router.get("/registrations/{number}/documents/{sha256}", response_class=Response)
async def registration_document(number: str, sha256: str, member: MemberDep, service: StaffServiceDep) -> Response:
    """One attached document, as it was signed (its hash is in the signed request)."""
    _, documents = await service.registration(member, number[:40])
    document = next((d for d in documents if d.sha256 == sha256), None)
    if document is None:
        raise ApiError(404, "NOT_FOUND", "no such document attached to this request")
    return Response(content=document.content, media_type=document.media_type)


@router.post("/requests/prepare", response_model=StaffPreparedOut, status_code=201)
async def prepare(body: StaffPrepareIn, member: MemberDep, service: StaffServiceDep) -> StaffPreparedOut:
    """Processes 2 and 5: the service, the citizen and the form; returns the exact document to sign."""
    draft = await service.prepare(member, body.service, body.iin, body.fields, [str(d) for d in body.documents])
    return StaffPreparedOut(
        draft_id=draft.id, document=draft.document, expires_at=draft.expires_at, person=draft.person
    )


@router.post("/requests/{draft_id}/sign", response_model=FiledOut, status_code=201)
async def sign(draft_id: str, body: StaffSignIn, member: MemberDep, service: StaffServiceDep) -> FiledOut:
    """Processes 5–8: the staff member's signature is checked, the request registered and decided."""
    if len(draft_id) != 36:
        raise ApiError(404, "NOT_FOUND", "no such prepared request")
    filed = await service.sign(member, draft_id, body.token)
    return FiledOut(
        request_id=filed.request_id,
        registration_number=filed.registration_number,
        status=filed.status.value,
        refusal=RefusalBody(**refusal_payload(filed.refusal)) if filed.refusal else None,
        result_jws=filed.result,
        result=filed.result_document(),
    )


@router.get("/attachments/{number}/slip.pdf", response_class=Response)
async def attachment_slip(number: str, member: MemberDep, service: StaffServiceDep) -> Response:
    """The printable slip (талон) of a completed attachment, with the QR code of its verification."""
    pdf = await service.slip(member, number[:40])
    headers = {"Content-Disposition": f'inline; filename="talon-{number[:40]}.pdf"'}
    return Response(content=pdf, media_type="application/pdf", headers=headers)


@public.get("/service-levels", tags=["quality"])
async def service_levels(service: StaffServiceDep) -> dict[str, Any]:
    """The АРМ's steps of table 2 (Приложение 1), measured since start against their time limits: each
    step's limit, count, p50/p95/p99 and breaches (Prometheus has the same as emhana_step_*)."""
    return {"steps": service.arm.steps.report()}


@public.get("/results/{number}")
async def verify_result(
    number: str, service: StaffServiceDep, h: Annotated[str, Query(pattern=r"^[0-9a-f]{16}$")]
) -> dict:
    """Public: the clinic-signed result a slip's QR code points at, with the signature checked now."""
    return await service.verify_result(number[:40], h)


@router.get("/journal/home-calls", response_model=PageOut)
async def home_call_journal(
    member: MemberDep,
    service: StaffServiceDep,
    day: dt.date | None = None,
    doctor: Annotated[str | None, Query(max_length=120, pattern=TEXT_PATTERN)] = None,
    site: Annotated[int | None, Query(ge=1, le=1000)] = None,
    status: Annotated[str | None, Query(pattern=journals.one_of(journals.HOME_CALL_STATES))] = None,
    page: PageDep = 1,
    size: SizeDep = 50,
) -> PageOut:
    """Журнал регистрации вызовов of a day (today by default), filterable, paginated."""
    return await views.home_calls(
        service, member, day=day, doctor=doctor, site=site, status=status, page=page, size=size
    )


@router.get("/journal/appointments", response_model=PageOut)
async def appointment_journal(
    member: MemberDep,
    service: StaffServiceDep,
    day: dt.date | None = None,
    doctor_code: Annotated[str | None, Query(max_length=40, pattern=r"^[A-Za-z0-9_.-]{1,40}$")] = None,
    site: Annotated[int | None, Query(ge=1, le=1000)] = None,
    state: Annotated[str | None, Query(pattern=journals.one_of(journals.APPOINTMENT_STATES))] = None,
    page: PageDep = 1,
    size: SizeDep = 50,
) -> PageOut:
    """The appointments of a day, by doctor, участок and state, paginated."""
    return await views.appointments(
        service, member, day=day, doctor_code=doctor_code, site=site, state=state, page=page, size=size
    )


@router.get("/attachments", response_model=PageOut)
async def attachment_register(
    member: MemberDep,
    service: StaffServiceDep,
    state: Annotated[str, Query(pattern=journals.one_of(journals.ATTACHMENT_STATES))] = "open",
    site: Annotated[int | None, Query(ge=1, le=1000)] = None,
    page: PageDep = 1,
    size: SizeDep = 50,
) -> PageOut:
    """The attachment register: who is attached since when, who left when and why."""
    return await views.attachment_register(service, member, state=state, site=site, page=page, size=size)


@router.post("/home-calls/{number}", response_model=HomeCallOut)
async def change_home_call(
    number: str, body: HomeCallChangeIn, member: MemberDep, service: StaffServiceDep
) -> HomeCallOut:
    """Record a doctor assigned, the visit made, or a cancellation (with the reason)."""
    call = await service.records.change_home_call(member, number[:40], body.action, body.doctor, body.note)
    return HomeCallOut.model_validate(call, from_attributes=True)


@router.post("/appointments/{number}", response_model=dict)
async def change_appointment(
    number: str, body: AppointmentChangeIn, member: MemberDep, service: StaffServiceDep
) -> dict:
    """Record an arrival, a visit fulfilled, a no-show, or a cancellation by the clinic (with the reason)."""
    booking = await service.records.change_appointment(member, number[:40], body.action, body.note)
    return {"number": booking.number, "state": journals.appointment_state(booking), "note": booking.note}


@router.post("/absences", response_model=AbsenceOut, status_code=201)
async def absence(body: AbsenceIn, member: MemberDep, service: StaffServiceDep) -> AbsenceOut:
    """A doctor's absence: their slots that day go, and every booked citizen gets a signed cancellation."""
    cancelled = await service.records.absence(member, body.doctor_code, body.day, body.reason)
    return AbsenceOut(doctor_code=body.doctor_code, day=body.day, cancelled=cancelled)


@router.get("/overdue")
async def overdue(member: MemberDep, service: StaffServiceDep) -> dict:
    """The clinic's overdue list (for its staff and its head): home calls past their visit window without
    a visit, and requests decided after — or still undecided past — the deadline of Приложение 1."""
    return await views.overdue(service, member)
