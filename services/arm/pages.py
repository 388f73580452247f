"""The clinic staff's web pages (served by the АРМ at ``/``), diagram 2 of the regulation.

Log in; look a citizen up by ИИН; fill a form for them and sign it with one's own employee key in the
page; the day's home-call and appointment journals with their filters and the changes staff record
(doctor assigned, visited, arrived, no-show, cancelled); a doctor's absence; the attachment register;
the overdue list. Every page calls the same :class:`StaffService` and journal queries as the JSON API,
so the rules and the clinic boundary are the same.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import uuid
from pathlib import Path
from typing import Annotated, Any, TypeVar
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import BaseModel, ValidationError
from sqlalchemy import select

from services.arm import journals, roles, views
from services.arm.models import Clinic, Doctor, Staff
from services.arm.roles import Action
from services.arm.schemas import AbsenceIn, AppointmentChangeIn, HomeCallChangeIn
from services.arm.staff import StaffService
from shared.platform.http import ApiCode, ApiError, client_address, form_error, from_state
from shared.rules.errors import NotAllowed
from shared.web import (
    PAGE_FAILURES,
    SAME_SITE_FORM,
    GoTo,
    Pages,
    PagesDep,
    local_path,
    parse_day,
    signing_context,
    site_of,
)
from shared.web.documents import result_rows
from shared.web.forms import (
    birth_of,
    chosen,
    empty_values,
    form_fields,
    posted_documents,
    posted_values,
    time_choice,
)
from shared.web.i18n import N_
from shared.wire.clock import ASTANA
from shared.wire.contracts import CODE_PATTERN, IIN_PATTERN, PHONE_PATTERN, ServiceKind

SESSION_COOKIE = "emhana_staff_session"
TEMPLATES = Path(__file__).resolve().parent / "templates"
SLOT_DAYS = 7
# What staff file at the clinic (an appointment is cancelled from the journal, not by a form).
STAFF_SERVICES = (ServiceKind.HOME_CALL, ServiceKind.APPOINTMENT, ServiceKind.ATTACHMENT)

router = APIRouter()
C = TypeVar("C", bound=BaseModel)


def create_pages(secure_cookies: bool) -> Pages:
    return Pages(
        TEMPLATES,
        site="arm",
        title=N_("Clinic workstation"),
        session_cookie=SESSION_COOKIE,
        secure_cookies=secure_cookies,
        functions={"may": roles.allows},
    )


def staff_service(request: Request) -> StaffService:
    return request.app.state.staff


async def page_member(request: Request) -> Staff:
    """The staff member of the page session; none or expired: to the login page; one who must still
    choose their own password: to the password page."""
    try:
        return await site_of(request).session_user(request, staff_service(request).accounts.member)
    except NotAllowed as exc:
        if exc.code == ApiCode.PASSWORD_CHANGE_REQUIRED:
            raise GoTo("/password") from None
        raise


async def page_member_with_given_password(request: Request) -> Staff:
    return await site_of(request).session_user(
        request, lambda token: staff_service(request).accounts.member(token, changing_password=True)
    )


MemberPage = Annotated[Staff, Depends(page_member)]


def member_who_may(action: Action) -> Any:
    """The page session's staff member, if the roles table lets their role do ``action`` (403 page else)."""

    async def allowed(member: MemberPage) -> Staff:
        roles.require(member, action)
        return member

    return Depends(allowed)


StaffDep = Annotated[StaffService, from_state("staff")]


async def _clinic(service: StaffService, member: Staff) -> Clinic:
    async with service.db.sessions() as session:
        clinic = await session.get(Clinic, member.clinic_bin)
    assert clinic is not None
    return clinic


def _render(request: Request, template: str, member: Staff, clinic: Clinic, **context: Any) -> HTMLResponse:
    return site_of(request).render(request, template, member=member, clinic=clinic, **context)


# -- entering ---------------------------------------------------------------------------------
@router.get("/login", response_class=HTMLResponse)
async def login_page(request: Request, site: PagesDep, next: str = "/") -> Response:
    return site.render(request, "login.html", next=local_path(next), iin="")


@router.post("/login", response_class=HTMLResponse, dependencies=[SAME_SITE_FORM])
async def login(
    request: Request,
    site: PagesDep,
    service: StaffDep,
    iin: Annotated[str, Form(max_length=32)],
    password: Annotated[str, Form(max_length=1024)],
    next: Annotated[str, Form(max_length=300)] = "/",
) -> Response:
    """Process 1: ИИН and password of the staff member."""
    client = client_address(request)
    try:
        token, expires, _member = await service.accounts.login(iin.strip(), password, client)
    except PAGE_FAILURES as exc:
        return site.problem_page(request, "login.html", exc, next=local_path(next), iin=iin)
    response = site.redirect("/password" if _member.must_change_password else local_path(next))
    site.start_session(request, response, token, expires, service.clock.now())
    return response


@router.get("/password", response_class=HTMLResponse)
async def password_page(
    request: Request,
    site: PagesDep,
    service: StaffDep,
    member: Annotated[Staff, Depends(page_member_with_given_password)],
) -> Response:
    """Choose one's own password (required first when an operator made the account)."""
    return site.render(request, "password.html", member=member, clinic=await _clinic(service, member))


@router.post("/password", response_class=HTMLResponse)
async def change_password(
    request: Request,
    site: PagesDep,
    service: StaffDep,
    member: Annotated[Staff, Depends(page_member_with_given_password)],
    current_password: Annotated[str, Form(max_length=1024)] = "",
    new_password: Annotated[str, Form(max_length=1024)] = "",
    new_password_again: Annotated[str, Form(max_length=1024)] = "",
    csrf: Annotated[str, Form(max_length=64)] = "",
) -> Response:
    site.check_csrf(request, csrf)
    client = client_address(request)
    try:
        if new_password != new_password_again:
            raise ApiError(422, "VALIDATION_ERROR", "the two new passwords differ")
        await service.accounts.change_password(
            member, site.session_token(request), current_password, new_password, client
        )
    except PAGE_FAILURES as exc:
        clinic = await _clinic(service, member)
        return site.problem_page(request, "password.html", exc, member=member, clinic=clinic)
    return site.redirect("/")


@router.post("/logout")
async def logout(
    request: Request, site: PagesDep, service: StaffDep, csrf: Annotated[str, Form(max_length=64)] = ""
) -> Response:
    site.check_csrf(request, csrf)
    await service.accounts.logout(site.session_token(request))
    response = site.redirect("/login")
    site.end_session(response)
    return response


@router.get("/", response_class=HTMLResponse)
async def home(request: Request, member: MemberPage, service: StaffDep) -> Response:
    """The workstation's start: who is working, the overdue count, where to go."""
    clinic = await _clinic(service, member)
    overdue = await views.overdue(service, member)
    return _render(request, "home.html", member, clinic, overdue=overdue["count"])


# -- processes 2–8: a request filed at the clinic ------------------------------------------------
@router.get("/persons", response_class=HTMLResponse)
async def person_page(
    request: Request,
    member: Annotated[Staff, member_who_may(Action.LOOK_UP_PERSON)],
    service: StaffDep,
    iin: str = "",
    reason: str = "",
) -> Response:
    """Processes 3–4: the citizen as ГБД ФЛ knows them, with their attachment (the look-up journaled with
    its reason)."""
    clinic = await _clinic(service, member)
    context: dict[str, Any] = {"iin": iin[:12], "reason": reason[:200], "found": None, "services": STAFF_SERVICES}
    if iin:
        try:
            context["found"] = await service.person(member, iin.strip(), reason)
        except PAGE_FAILURES as exc:
            return site_of(request).problem_page(request, "person.html", exc, member=member, clinic=clinic, **context)
    return _render(request, "person.html", member, clinic, **context)


async def _form_context(
    service: StaffService,
    clinic: Clinic,
    kind: ServiceKind,
    iin: str = "",
    patient_iin: str = "",
    day: str | None = None,
    doctor: str | None = None,
) -> dict[str, Any]:
    """What a form needs besides its fields: for an appointment, the time choice among the clinic's doctors
    who see the patient (the applicant, or the minor named as the patient)."""
    context: dict[str, Any] = {"kind": kind.value, "patterns": {"iin": IIN_PATTERN, "phone": PHONE_PATTERN}}
    if kind is ServiceKind.APPOINTMENT:
        async with service.db.sessions() as session:
            slots = await service.arm.slots.free_slots(session, clinic, None, None, None, SLOT_DAYS)
        today = service.clock.now().astimezone(ASTANA).date()
        found = [slot.model_dump(mode="json") for slot in slots]
        context["choice"] = time_choice(found, birth_of(patient_iin or iin), today, day, doctor)
        query = urlencode({k: v for k, v in (("iin", iin), ("patient_iin", patient_iin)) if v})
        context["choice_link"] = f"/file/appointment?{query + '&' if query else ''}"
    return context


@router.get("/file/{kind}", response_class=HTMLResponse)
async def form_page(
    request: Request,
    kind: ServiceKind,
    member: Annotated[Staff, member_who_may(Action.FILE_REQUEST)],
    service: StaffDep,
    iin: str = "",
    patient_iin: str = "",
    day: str | None = None,
    doctor: str | None = None,
    address: str = "",
) -> Response:
    """Process 2: the service's form for the citizen at the desk (an appointment: the time choice; a home
    call: the address ГБД ФЛ gave, to confirm or change)."""
    clinic = await _clinic(service, member)
    iin, patient_iin = iin[:12], patient_iin[:12]
    context = await _form_context(service, clinic, kind, iin, patient_iin, day, doctor)
    values = empty_values(patient_iin=patient_iin, address=address[:200])
    return _render(request, "form.html", member, clinic, iin=iin, values=values, **context)


@router.post("/file/{kind}", response_class=HTMLResponse)
async def send_form(request: Request, kind: ServiceKind, member: MemberPage, service: StaffDep) -> Response:
    """Process 5: the form is checked and the exact document to sign prepared."""
    submitted = await request.form()
    site = site_of(request)
    site.check_csrf(request, str(submitted.get("csrf", "")))
    iin = str(submitted.get("iin", ""))[:32].strip()
    values = posted_values(submitted)
    fields, _clinic_bin = form_fields(kind, values)
    try:
        draft = await service.prepare(member, kind, iin, fields, posted_documents(submitted))
    except PAGE_FAILURES as exc:
        clinic = await _clinic(service, member)
        context = await _form_context(service, clinic, kind, iin[:12], values["patient_iin"][:12], *chosen(values))
        return site.problem_page(
            request, "form.html", exc, member=member, clinic=clinic, iin=iin, values=values, **context
        )
    return site.redirect(f"/drafts/{draft.id}")


@router.post("/uploads")
async def upload(request: Request, member: MemberPage, service: StaffDep) -> Response:
    """A scanned document attached in a form (the same checks as the API's staff uploads)."""
    return await site_of(request).upload(request, lambda name, content: service.upload(member, name, content))


async def _sign_page(
    request: Request, member: Staff, service: StaffService, draft_id: str, exc: Exception | None = None
) -> HTMLResponse:
    draft = await service.draft(member, draft_id)
    clinic = await _clinic(service, member)
    context = {
        "member": member,
        "clinic": clinic,
        "draft": draft,
        "person": draft.person,
        **signing_context(draft.id, draft.document, member.iin, member.clinic_bin, service.clock.now()),
    }
    if exc is not None:
        return site_of(request).problem_page(request, "sign.html", exc, **context)
    return site_of(request).render(request, "sign.html", **context)


@router.get("/drafts/{draft_id}", response_class=HTMLResponse)
async def sign_page(request: Request, draft_id: uuid.UUID, member: MemberPage, service: StaffDep) -> Response:
    return await _sign_page(request, member, service, str(draft_id))


@router.post("/drafts/{draft_id}", response_class=HTMLResponse)
async def sign(
    request: Request,
    draft_id: uuid.UUID,
    member: MemberPage,
    service: StaffDep,
    jws: Annotated[str, Form(max_length=256 * 1024)] = "",
    cms: Annotated[str, Form(max_length=256 * 1024)] = "",
    csrf: Annotated[str, Form(max_length=64)] = "",
) -> Response:
    """Processes 5–8: the employee's signature is checked, the request registered and decided."""
    site_of(request).check_csrf(request, csrf)
    try:
        filed = await service.sign(member, str(draft_id), jws or cms)
    except PAGE_FAILURES as exc:
        return await _sign_page(request, member, service, str(draft_id), exc)
    clinic = await _clinic(service, member)
    _ = site_of(request).translate(request)
    document = filed.result_document()
    return _render(
        request,
        "filed.html",
        member,
        clinic,
        filed=filed,
        refusal_text=_.refusal(filed.refusal.code) if filed.refusal else None,
        rows=result_rows(document, _) if document else [],
        kind=json.loads((await service.draft(member, str(draft_id))).document)["service"],
    )


# -- the journals ----------------------------------------------------------------------------------
def _day(value: str) -> dt.date | None:
    try:
        return parse_day(value) if value.strip() else None
    except ValueError:
        raise ApiError(422, "VALIDATION_ERROR", "the day is dd.mm.yyyy") from None


def _site(value: str) -> int | None:
    return int(value) if value.isdigit() and 1 <= int(value) <= 1000 else None


@router.get("/journal/home-calls", response_class=HTMLResponse)
async def home_calls(
    request: Request,
    member: MemberPage,
    service: StaffDep,
    day: str = "",
    doctor: str = "",
    site: str = "",
    status: str = "",
    page: int = 1,
) -> Response:
    """Журнал регистрации вызовов of a day, filterable; each call's next step as a button."""
    clinic = await _clinic(service, member)
    filters = {
        "day": day,
        "doctor": doctor[:120],
        "site": site,
        "status": status if status in journals.HOME_CALL_STATES else "",
    }
    found = await views.home_calls(
        service,
        member,
        day=_day(day),
        doctor=filters["doctor"] or None,
        site=_site(site),
        status=filters["status"] or None,
        page=max(1, min(page, 100_000)),
        size=50,
    )
    return _render(
        request, "home_calls.html", member, clinic, found=found, filters=filters, states=journals.HOME_CALL_STATES
    )


async def _posted_change(request: Request, model: type[C], names: tuple[str, ...]) -> tuple[C, str]:
    """A journal change as posted (checked by the API's own body model) and the page to go back to."""
    submitted = await request.form()
    site_of(request).check_csrf(request, str(submitted.get("csrf", "")))
    given = {k: str(v)[:600] for k, v in submitted.items() if k in names and str(v).strip()}
    try:
        change = model.model_validate(given)
    except ValidationError as exc:
        raise form_error(exc) from None
    return change, str(submitted.get("back", ""))


@router.post("/home-calls/{number}")
async def change_home_call(request: Request, number: str, member: MemberPage, service: StaffDep) -> Response:
    """Doctor assigned, visit made, or cancelled with the reason; back to the journal."""
    change, back = await _posted_change(request, HomeCallChangeIn, ("action", "doctor", "note"))
    await service.records.change_home_call(member, number[:40], change.action, change.doctor, change.note)
    return site_of(request).redirect(local_path(back, "/journal/home-calls"))


@router.get("/journal/appointments", response_class=HTMLResponse)
async def appointments(
    request: Request,
    member: MemberPage,
    service: StaffDep,
    day: str = "",
    doctor_code: str = "",
    state: str = "",
    page: int = 1,
) -> Response:
    """The appointments of a day by doctor and state; arrivals, visits held, no-shows."""
    clinic = await _clinic(service, member)
    code = doctor_code if re.fullmatch(CODE_PATTERN, doctor_code) else ""
    filters = {"day": day, "doctor_code": code, "state": state if state in journals.APPOINTMENT_STATES else ""}
    found = await views.appointments(
        service,
        member,
        day=_day(day),
        doctor_code=filters["doctor_code"] or None,
        site=None,
        state=filters["state"] or None,
        page=max(1, min(page, 100_000)),
        size=50,
    )
    return _render(
        request, "appointments.html", member, clinic, found=found, filters=filters, states=journals.APPOINTMENT_STATES
    )


@router.post("/appointments/{number}")
async def change_appointment(request: Request, number: str, member: MemberPage, service: StaffDep) -> Response:
    """Arrived, visit held, did not come, or cancelled by the clinic; back to the journal."""
    change, back = await _posted_change(request, AppointmentChangeIn, ("action", "note"))
    await service.records.change_appointment(member, number[:40], change.action, change.note)
    return site_of(request).redirect(local_path(back, "/journal/appointments"))


@router.get("/absences", response_class=HTMLResponse)
async def absence_page(
    request: Request, member: Annotated[Staff, member_who_may(Action.ENTER_ABSENCE)], service: StaffDep
) -> Response:
    clinic = await _clinic(service, member)
    return _render(request, "absence.html", member, clinic, doctors=await _doctors(service, clinic), cancelled=None)


async def _doctors(service: StaffService, clinic: Clinic) -> list[Any]:

    async with service.db.sessions() as session:
        return list(await session.scalars(select(Doctor).where(Doctor.clinic_bin == clinic.bin).order_by(Doctor.code)))


@router.post("/absences", response_class=HTMLResponse)
async def absence(
    request: Request,
    member: MemberPage,
    service: StaffDep,
    doctor_code: Annotated[str, Form(max_length=40)] = "",
    day: Annotated[str, Form(max_length=20)] = "",
    reason: Annotated[str, Form(max_length=600)] = "",
    csrf: Annotated[str, Form(max_length=64)] = "",
) -> Response:
    """A doctor's absence: that day's bookings are cancelled and every citizen told."""
    site_of(request).check_csrf(request, csrf)
    clinic = await _clinic(service, member)
    doctors = await _doctors(service, clinic)
    try:
        body = AbsenceIn.model_validate({"doctor_code": doctor_code, "day": _day(day), "reason": reason})
    except (ValidationError, ApiError) as exc:
        problem = form_error(exc) if isinstance(exc, ValidationError) else exc
        return site_of(request).problem_page(
            request, "absence.html", problem, member=member, clinic=clinic, doctors=doctors, cancelled=None
        )
    try:
        cancelled = await service.records.absence(member, body.doctor_code, body.day, body.reason)
    except PAGE_FAILURES as exc:
        return site_of(request).problem_page(
            request, "absence.html", exc, member=member, clinic=clinic, doctors=doctors, cancelled=None
        )
    return _render(request, "absence.html", member, clinic, doctors=doctors, cancelled=cancelled)


@router.get("/attachments", response_class=HTMLResponse)
async def attachments(
    request: Request, member: MemberPage, service: StaffDep, state: str = "open", site: str = "", page: int = 1
) -> Response:
    """The attachment register: who is attached since when, who left when and why."""
    clinic = await _clinic(service, member)
    state = state if state in journals.ATTACHMENT_STATES else "open"
    found = await views.attachment_register(service, member, state=state, site=_site(site), page=max(1, page), size=50)
    return _render(request, "attachments.html", member, clinic, found=found, filters={"state": state, "site": site})


@router.get("/service-levels", response_class=HTMLResponse)
async def service_levels(request: Request, member: MemberPage, service: StaffDep) -> Response:
    """Table 2's steps as this АРМ measured them against their limits (the JSON: /api/v1/service-levels)."""
    roles.require(member, Action.READ_JOURNALS)
    clinic = await _clinic(service, member)
    return _render(request, "service_levels.html", member, clinic, steps=service.arm.steps.report())


@router.get("/overdue", response_class=HTMLResponse)
async def overdue(request: Request, member: MemberPage, service: StaffDep) -> Response:
    """The clinic's overdue list: home calls past their window, requests past their deadline."""
    clinic = await _clinic(service, member)
    return _render(request, "overdue.html", member, clinic, overdue=await views.overdue(service, member))
