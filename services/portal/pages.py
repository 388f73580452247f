"""The citizen's web pages (served by the portal at ``/``): the same :class:`PortalService` as the JSON API.

Log in or register with ИИН and password, choose one of the e-services, fill its form (checked in the page
and again by the service), sign the exact document in the page with one's own key file, follow the
request, open its clinic-signed result, answer the Приложение 3 questionnaire.
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, Response

from services.portal.models import Citizen
from services.portal.service import WAITING, PortalService
from shared.platform.http import ApiError, client_address, from_state
from shared.rules.clinics import load_clinics
from shared.rules.deadlines import CONTACT_CENTRE, deadline_text
from shared.rules.errors import NotAuthenticated
from shared.web import PAGE_FAILURES, SAME_SITE_FORM, Pages, PagesDep, local_path, signing_context, site_of
from shared.web.documents import result_pdf, result_rows
from shared.web.forms import (
    birth_of,
    chosen,
    empty_values,
    form_fields,
    posted_documents,
    posted_values,
    time_choice,
)
from shared.web.i18n import N_, SERVICE_RESULTS
from shared.wire.clock import ASTANA
from shared.wire.contracts import (
    CLINICS_LIST,
    FINAL_STATUSES,
    IIN_PATTERN,
    PHONE_PATTERN,
    SLOTS_QUERY,
    ClinicsList,
    RequestStatus,
    ServiceKind,
    SlotsFound,
    parse_payload,
)
from shared.wire.documents import verification_url, verify_clinic_result
from shared.wire.jws import parse
from shared.wire.refusals import Refusal, RefusalError
from shared.wire.topology import arm_address

SESSION_COOKIE = "emhana_portal_session"
TEMPLATES = Path(__file__).resolve().parent / "templates"
SLOT_DAYS = 7

router = APIRouter()


def portal(request: Request) -> PortalService:
    return request.app.state.portal


async def page_citizen(request: Request) -> Citizen:
    """The citizen of the page session; no session or an expired one: to the login page."""
    return await site_of(request).session_user(request, portal(request).accounts.citizen)


CitizenPage = Annotated[Citizen, Depends(page_citizen)]
PortalDep = Annotated[PortalService, from_state("portal")]


def create_pages(secure_cookies: bool, clinics_file: Path | None = None) -> Pages:
    """The portal's pages; a clinic is shown by its name (from the clinics file), never by its БИН alone."""
    clinics = load_clinics(clinics_file) if clinics_file else load_clinics()
    names = {clinic.bin: clinic.short_name for clinic in clinics.clinics}
    return Pages(
        TEMPLATES,
        site="portal",
        title=N_("e-Government: health services"),
        session_cookie=SESSION_COOKIE,
        secure_cookies=secure_cookies,
        functions={"clinic_name": lambda bin_: names.get(bin_, bin_)},
    )


def catalogue() -> list[dict[str, Any]]:
    return [
        {"code": kind.value, "result": SERVICE_RESULTS[kind], "deadline": deadline_text(kind)} for kind in ServiceKind
    ]


# -- entering ---------------------------------------------------------------------------------
@router.get("/", response_class=HTMLResponse)
async def home(request: Request, site: PagesDep, service: PortalDep) -> Response:
    """The catalogue of e-services; with a session, also who is logged in and their clinic."""
    profile: dict[str, Any] | None = None
    token = request.cookies.get(SESSION_COOKIE)
    if token:
        try:
            citizen = await service.accounts.citizen(token)
        except NotAuthenticated:
            citizen = None
        if citizen is not None:
            profile = {"citizen": citizen, "attachment": await _attachment(service, citizen.iin)}
    return site.render(request, "home.html", services=catalogue(), profile=profile, contact_centre=CONTACT_CENTRE)


async def _attachment(service: PortalService, iin: str) -> dict[str, Any] | None:
    try:
        return await service.attachment_of(iin)
    except RefusalError:
        return None


@router.get("/login", response_class=HTMLResponse)
async def login_page(request: Request, site: PagesDep, next: str = "/requests") -> Response:
    return site.render(request, "login.html", next=local_path(next, "/requests"), iin="")


@router.post("/login", response_class=HTMLResponse, dependencies=[SAME_SITE_FORM])
async def login(
    request: Request,
    site: PagesDep,
    service: PortalDep,
    iin: Annotated[str, Form(max_length=32)],
    password: Annotated[str, Form(max_length=1024)],
    next: Annotated[str, Form(max_length=300)] = "/requests",
) -> Response:
    client = client_address(request)
    try:
        token, expires = await service.accounts.login(iin.strip(), password, client)
    except PAGE_FAILURES as exc:
        return site.problem_page(request, "login.html", exc, next=local_path(next, "/requests"), iin=iin)
    response = site.redirect(local_path(next, "/requests"))
    site.start_session(request, response, token, expires, service.clock.now())
    return response


async def _register_page(
    request: Request,
    site: Pages,
    service: PortalService,
    problem: Exception | None = None,
    *,
    template: str = "register.html",
    action: str = "/register",
) -> HTMLResponse:
    """A page that has the person sign a fresh challenge: registration (``/register``) or log-in by ЭЦП."""
    challenge = await service.accounts.challenge(client_address(request))
    context = {
        "document": challenge.document,
        "challenge": challenge.nonce,
        "sign_action": action,
        "expected_iin": None,
        "expected_bin": None,
        "now_iso": service.clock.now().isoformat(),
    }
    if problem is not None:
        return site.problem_page(request, template, problem, **context)
    return site.render(request, template, **context)


@router.get("/register", response_class=HTMLResponse)
async def register_page(request: Request, site: PagesDep, service: PortalDep) -> Response:
    """Registration proven by ЭЦП: a fresh challenge to sign with one's own key file."""
    return await _register_page(request, site, service)


@router.post("/register", response_class=HTMLResponse, dependencies=[SAME_SITE_FORM])
async def register(
    request: Request,
    site: PagesDep,
    service: PortalDep,
    challenge: Annotated[str, Form(max_length=64)],
    password: Annotated[str, Form(max_length=1024)],
    password_again: Annotated[str, Form(max_length=1024)],
    jws: Annotated[str, Form(max_length=256 * 1024)] = "",
    cms: Annotated[str, Form(max_length=256 * 1024)] = "",
) -> Response:
    _ = site.translate(request)
    if password != password_again:
        problem = ApiError(422, "VALIDATION_ERROR", _("The two passwords differ."))
        return await _register_page(request, site, service, problem)
    client = client_address(request)
    try:
        done = await service.accounts.register(challenge, jws or cms, password, client)
    except PAGE_FAILURES as exc:
        return await _register_page(request, site, service, exc)
    response = site.redirect("/")
    site.start_session(request, response, done.token, done.expires_at, service.clock.now())
    return response


@router.get("/login/key", response_class=HTMLResponse)
async def key_login_page(request: Request, site: PagesDep, service: PortalDep) -> Response:
    """Log-in by ЭЦП: a fresh challenge to sign with one's own key (works while passwords are throttled)."""
    return await _register_page(request, site, service, template="login_key.html", action="/login/key")


@router.post("/login/key", response_class=HTMLResponse, dependencies=[SAME_SITE_FORM])
async def key_login(
    request: Request,
    site: PagesDep,
    service: PortalDep,
    challenge: Annotated[str, Form(max_length=64)],
    jws: Annotated[str, Form(max_length=256 * 1024)] = "",
    cms: Annotated[str, Form(max_length=256 * 1024)] = "",
) -> Response:
    client = client_address(request)
    try:
        token, expires = await service.accounts.login_with_key(challenge, jws or cms, client)
    except PAGE_FAILURES as exc:
        return await _register_page(request, site, service, exc, template="login_key.html", action="/login/key")
    response = site.redirect("/")
    site.start_session(request, response, token, expires, service.clock.now())
    return response


@router.post("/logout")
async def logout(
    request: Request, site: PagesDep, service: PortalDep, csrf: Annotated[str, Form(max_length=64)] = ""
) -> Response:
    site.check_csrf(request, csrf)
    await service.accounts.logout(site.session_token(request))
    response = site.redirect("/")
    site.end_session(response)
    return response


# -- the forms --------------------------------------------------------------------------------
async def _form_context(
    service: PortalService,
    citizen: Citizen,
    kind: ServiceKind,
    patient_iin: str | None,
    day: str | None = None,
    doctor: str | None = None,
) -> dict[str, Any]:
    """What a form needs besides its fields: the time choice, clinics, the citizen's bookings."""
    context: dict[str, Any] = {"kind": kind.value, "patterns": {"iin": IIN_PATTERN, "phone": PHONE_PATTERN}}
    if kind is ServiceKind.APPOINTMENT:
        patient = patient_iin or citizen.iin
        if patient != citizen.iin:
            await service.check_guardian(citizen, patient)  # nothing about another person before this
        attachment = await service.attachment_of(patient)
        if attachment is None:
            raise RefusalError(Refusal.NOT_ATTACHED)
        answer = await service.ask(
            arm_address(attachment["clinic_bin"]),
            SLOTS_QUERY,
            {"doctor_code": None, "specialty": None, "days": SLOT_DAYS},
        )
        slots = parse_payload(SlotsFound, answer).model_dump(mode="json")["slots"]
        today = service.clock.now().astimezone(ASTANA).date()
        context["choice"] = time_choice(slots, birth_of(patient), today, day, doctor)
        context["choice_link"] = "/services/appointment?" + (f"patient_iin={patient_iin}&" if patient_iin else "")
        context["clinic_bin"] = attachment["clinic_bin"]
    if kind is ServiceKind.ATTACHMENT:
        listed = parse_payload(ClinicsList, await service.ask("arm", CLINICS_LIST, {}))
        context["clinics"] = [c.model_dump(mode="json") for c in listed.clinics]
    if kind is ServiceKind.APPOINTMENT_CANCEL:
        context["bookings"] = [
            r
            for r in await service.history.requests(citizen, 200, 0)
            if r.service == ServiceKind.APPOINTMENT.value
            and r.status == RequestStatus.COMPLETED
            and r.registration_number
        ]
    return context


@router.get("/services/{kind}", response_class=HTMLResponse)
async def form_page(
    request: Request,
    kind: ServiceKind,
    citizen: CitizenPage,
    site: PagesDep,
    service: PortalDep,
    patient_iin: str | None = None,
    day: str | None = None,
    doctor: str | None = None,
) -> Response:
    """The service's form; for an appointment, the time choice among the doctors of the patient's clinic who
    see this patient (a day, a doctor, a time — or the first free time in one tap)."""
    values = empty_values(patient_iin=patient_iin or "")
    try:
        context = await _form_context(service, citizen, kind, patient_iin or None, day, doctor)
    except PAGE_FAILURES as exc:
        return site.problem_page(request, "form.html", exc, kind=kind.value, values=values, unavailable=True)
    return site.render(request, "form.html", values=values, unavailable=False, **context)


@router.post("/services/{kind}", response_class=HTMLResponse)
async def send_form(
    request: Request, kind: ServiceKind, citizen: CitizenPage, site: PagesDep, service: PortalDep
) -> Response:
    """ "Отправить запрос": the service validates the form and prepares the exact document to sign."""
    submitted = await request.form()
    site.check_csrf(request, str(submitted.get("csrf", "")))
    values = posted_values(submitted)
    fields, clinic_bin = form_fields(kind, values)
    try:
        prepared = await service.prepare(citizen, kind, clinic_bin, fields, posted_documents(submitted))
    except PAGE_FAILURES as exc:
        try:
            context = await _form_context(service, citizen, kind, fields.get("patient_iin"), *chosen(values))
        except PAGE_FAILURES:
            context = {"kind": kind.value, "patterns": {"iin": IIN_PATTERN, "phone": PHONE_PATTERN}}
        return site.problem_page(request, "form.html", exc, values=values, unavailable=False, **context)
    return site.redirect(f"/drafts/{prepared.draft_id}")


@router.post("/uploads")
async def upload(request: Request, citizen: CitizenPage, site: PagesDep, service: PortalDep) -> Response:
    """A document attached in a form (the same checks as the API's ``POST /api/v1/uploads``)."""
    return await site.upload(request, lambda name, content: service.upload(citizen, name, content))


# -- signing ----------------------------------------------------------------------------------
async def _sign_page(
    request: Request, site: Pages, service: PortalService, citizen: Citizen, draft_id: str, **extra: Any
) -> HTMLResponse:
    draft = await service.draft(citizen, draft_id)
    context = {
        "draft": draft,
        **signing_context(draft.id, draft.document, citizen.iin, None, service.clock.now()),
    }
    if "problem_of" in extra:
        return site.problem_page(request, "sign.html", extra.pop("problem_of"), **context)
    return site.render(request, "sign.html", **context)


@router.get("/drafts/{draft_id}", response_class=HTMLResponse)
async def sign_page(
    request: Request, draft_id: uuid.UUID, citizen: CitizenPage, site: PagesDep, service: PortalDep
) -> Response:
    """ "Подписать": the document to sign, the key file and the certificate it holds."""
    return await _sign_page(request, site, service, citizen, str(draft_id))


@router.post("/drafts/{draft_id}", response_class=HTMLResponse)
async def sign(
    request: Request,
    draft_id: uuid.UUID,
    citizen: CitizenPage,
    site: PagesDep,
    service: PortalDep,
    jws: Annotated[str, Form(max_length=256 * 1024)] = "",
    cms: Annotated[str, Form(max_length=256 * 1024)] = "",
    csrf: Annotated[str, Form(max_length=64)] = "",
) -> Response:
    site.check_csrf(request, csrf)
    try:
        signed = await service.sign(citizen, str(draft_id), jws or cms)
    except PAGE_FAILURES as exc:
        return await _sign_page(request, site, service, citizen, str(draft_id), problem_of=exc)
    return site.redirect(f"/requests/{signed.id}?sent=1")


# -- following a request ---------------------------------------------------------------------
@router.get("/requests", response_class=HTMLResponse)
async def my_requests(request: Request, citizen: CitizenPage, site: PagesDep, service: PortalDep) -> Response:
    """Number, service, status and deadline of each of the citizen's requests, newest first."""
    rows = await service.history.requests(citizen, 100, 0)
    return site.render(request, "requests.html", rows=rows, waiting=WAITING, citizen=citizen)


@router.get("/requests/{request_id}", response_class=HTMLResponse)
async def request_page(
    request: Request,
    request_id: uuid.UUID,
    citizen: CitizenPage,
    site: PagesDep,
    service: PortalDep,
    sent: int = 0,
) -> Response:
    """ "Обновить статус": the request, its history and what can be done with it now."""
    row, events = await service.history.request_detail(citizen, str(request_id))
    _ = site.translate(request)
    return site.render(
        request,
        "request.html",
        row=row,
        events=events,
        final=row.status in FINAL_STATUSES or row.result is not None,
        refusal_text=_.refusal(row.refusal_code) if row.refusal_code else None,
        notice=_("Your request has been signed and sent.") if sent else None,
    )


@router.post("/requests/{request_id}/retry")
async def retry(
    request: Request,
    request_id: uuid.UUID,
    citizen: CitizenPage,
    site: PagesDep,
    service: PortalDep,
    csrf: Annotated[str, Form(max_length=64)] = "",
) -> Response:
    site.check_csrf(request, csrf)
    await service.retry(citizen, str(request_id))
    return site.redirect(f"/requests/{request_id}")


@router.post("/requests/{request_id}/survey", response_class=HTMLResponse)
async def survey(
    request: Request,
    request_id: uuid.UUID,
    citizen: CitizenPage,
    site: PagesDep,
    service: PortalDep,
    process_and_result: Annotated[int, Form(ge=1, le=3)],
    information: Annotated[int, Form(ge=1, le=3)],
    csrf: Annotated[str, Form(max_length=64)] = "",
) -> Response:
    """Приложение 3: the two questions, once the request has its outcome."""
    site.check_csrf(request, csrf)
    _ = site.translate(request)
    row, events = await service.history.request_detail(citizen, str(request_id))
    context = {
        "row": row,
        "events": events,
        "final": True,
        "refusal_text": _.refusal(row.refusal_code) if row.refusal_code else None,
    }
    try:
        await service.quality.answer_survey(citizen, str(request_id), process_and_result, information)
    except PAGE_FAILURES as exc:
        return site.problem_page(request, "request.html", exc, **context)
    return site.render(request, "request.html", notice=_("Thank you for your answers."), surveyed=True, **context)


async def _verified_result(service: PortalService, citizen: Citizen, request_id: str) -> dict[str, Any]:
    row, _ = await service.history.request_detail(citizen, request_id)
    if row.result is None:
        raise ApiError(404, "NO_RESULT", "there is no result yet")
    try:
        verified = verify_clinic_result(row.result, service.store, row.clinic_bin)
        signer, valid, code = verified.signer, True, None
    except RefusalError as exc:
        signer, valid, code = None, False, exc.code.value
    document = json.loads(parse(row.result).payload)
    return {"row": row, "document": document, "signer": signer, "valid": valid, "code": code}


@router.get("/requests/{request_id}/result", response_class=HTMLResponse)
async def result_page(
    request: Request, request_id: uuid.UUID, citizen: CitizenPage, site: PagesDep, service: PortalDep
) -> Response:
    """ "Просмотр результата": the clinic-signed document, readable, with its signature checked now."""
    result = await _verified_result(service, citizen, str(request_id))
    _ = site.translate(request)
    return site.render(request, "result.html", rows=result_rows(result["document"], _), **result)


@router.get("/verify/{number}", response_class=HTMLResponse)
async def verify_page(request: Request, number: str, site: PagesDep, service: PortalDep, h: str = "") -> Response:
    """Public (no log-in): what the QR code of a result or a slip opens — whether the document is genuine,
    who signed it and when, for which request, in the visitor's language."""
    checked = await service.verification.check(number[:40], h[:16])
    _ = site.translate(request)
    return site.render(request, "verify.html", checked=checked, rows=result_rows(checked.document, _))


@router.get("/requests/{request_id}/result.pdf")
async def result_download(
    request: Request, request_id: uuid.UUID, citizen: CitizenPage, site: PagesDep, service: PortalDep
) -> Response:
    """The result as a PDF, with its verification stated on it."""
    result = await _verified_result(service, citizen, str(request_id))
    _ = site.translate(request)
    row = result["row"]
    public = service.settings.portal_public_url
    check = verification_url(public, row.registration_number, row.result) if row.registration_number else None
    content = result_pdf(
        _.service(row.service), result_rows(result["document"], _), result["signer"], result["valid"], _, check
    )
    number = result["row"].registration_number or result["row"].id
    return Response(
        content,
        media_type="application/pdf",
        headers={"Content-Disposition": f'attachment; filename="emhana-{number}.pdf"'},
    )
