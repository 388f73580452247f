"""HTTP API of the portal (ПЭП): what a citizen's browser or REST client calls."""

from __future__ import annotations

import json
import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from services.portal.models import Citizen
from services.portal.models import Request as RequestRow
from services.portal.schemas import (
    ChallengeOut,
    CheckedOut,
    EventOut,
    IndicatorOut,
    KeyLoginIn,
    LoginIn,
    PreparedOut,
    PrepareIn,
    ProfileOut,
    RefusalOut,
    RegisteredOut,
    RegisterIn,
    RequestOut,
    ResultOut,
    ServiceOut,
    SignerOut,
    SignIn,
    SurveyIn,
    TokenOut,
)
from services.portal.service import TITLES, WAITING, PortalService, refusal_body
from shared.platform.attachments import UploadOut
from shared.platform.http import ApiError, client_address, error_responses, from_state, read_limited
from shared.rules.deadlines import CONTACT_CENTRE, deadline_text
from shared.wire.contracts import (
    CLINICS_LIST,
    CODE_PATTERN,
    FORMS,
    MAX_DOCUMENT_BYTES,
    SLOTS_QUERY,
    TEXT_PATTERN,
    ClinicsList,
    ServiceKind,
    SlotsFound,
    parse_payload,
)
from shared.wire.jws import parse
from shared.wire.topology import arm_address

router = APIRouter(prefix="/api/v1", responses=error_responses(401, 404, 409, 410, 415, 429, 504))
_bearer = HTTPBearer(auto_error=False)


def portal(request: Request) -> PortalService:
    return request.app.state.portal


async def current_citizen(
    request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
) -> Citizen:
    if credentials is None:
        raise ApiError(401, "UNAUTHORIZED", "log in first: Authorization: Bearer <token>")
    return await portal(request).accounts.citizen(credentials.credentials)


CitizenDep = Annotated[Citizen, Depends(current_citizen)]
PortalDep = Annotated[PortalService, from_state("portal")]


def request_out(row: RequestRow, events: list | None = None) -> RequestOut:
    refusal = refusal_body(row.refusal_code)
    return RequestOut(
        id=row.id,
        iin=row.iin,
        patient_iin=row.patient_iin,
        service=ServiceKind(row.service),
        clinic_bin=row.clinic_bin,
        status=row.status,
        note=row.status_note,
        channel=row.channel,
        correlation_id=row.message_id,
        registration_number=row.registration_number,
        deadline=row.deadline,
        submitted_at=row.submitted_at,
        updated_at=row.updated_at,
        refusal=RefusalOut(code=refusal["code"], message=row.refusal_message or refusal["message"])
        if refusal
        else None,
        overdue=row.overdue_at is not None and row.status in WAITING,
        overdue_since=row.overdue_at,
        has_result=row.result is not None,
        history=[EventOut(status=e.status, at=e.at, detail=e.detail, seq=e.seq or None) for e in events]
        if events is not None
        else None,
    )


@router.post("/auth/challenge", response_model=ChallengeOut, tags=["auth"])
async def challenge(request: Request, service: PortalDep) -> ChallengeOut:
    """The document to sign with your own key to register, to log in or to set a new password (valid a few
    minutes)."""
    issued = await service.accounts.challenge(client_address(request))
    return ChallengeOut(challenge=issued.nonce, document=issued.document, expires_at=issued.expires_at)


@router.post("/auth/register", response_model=RegisteredOut, status_code=201, tags=["auth"])
async def register(body: RegisterIn, request: Request, response: Response, service: PortalDep) -> RegisteredOut:
    """Registration proven by ЭЦП: the challenge signed with your own key (AUTH or SIGN), and a password.
    The ИИН is your certificate's; the person must be alive in ГБД ФЛ. An existing account gets the new
    password (200, its sessions ended): this is also how a forgotten password is replaced."""
    client = client_address(request)
    done = await service.accounts.register(body.challenge, body.token, body.password, client)
    if not done.created:
        response.status_code = 200
    citizen = done.citizen
    return RegisteredOut(
        iin=citizen.iin,
        surname=citizen.surname,
        name=citizen.name,
        created=done.created,
        access_token=done.token,
        expires_at=done.expires_at,
    )


@router.post("/auth/login", response_model=TokenOut, tags=["auth"])
async def login(body: LoginIn, request: Request, service: PortalDep) -> TokenOut:
    """Authorisation (process 1). Wrong ИИН or password: 401 AUTH_FAILED (process 2); 429 when throttled."""
    client = client_address(request)
    token, expires = await service.accounts.login(body.iin, body.password, client)
    return TokenOut(access_token=token, expires_at=expires)


@router.post("/auth/login/key", response_model=TokenOut, tags=["auth"])
async def login_with_key(body: KeyLoginIn, request: Request, service: PortalDep) -> TokenOut:
    """Authorisation by ЭЦП (process 1): the challenge signed with your own key (AUTH or SIGN). Not held
    back by password guesses others made on your ИИН; 404 NOT_REGISTERED when the ИИН has no account."""
    client = client_address(request)
    token, expires = await service.accounts.login_with_key(body.challenge, body.token, client)
    return TokenOut(access_token=token, expires_at=expires)


@router.post("/auth/logout", status_code=204, tags=["auth"])
async def logout(
    _citizen: CitizenDep, credentials: Annotated[HTTPAuthorizationCredentials, Depends(_bearer)], service: PortalDep
) -> Response:
    """Revoke the token in use."""
    await service.accounts.logout(credentials.credentials)
    return Response(status_code=204)


@router.get("/me", response_model=ProfileOut, tags=["auth"])
async def me(citizen: CitizenDep, service: PortalDep) -> ProfileOut:
    return ProfileOut(
        iin=citizen.iin, surname=citizen.surname, name=citizen.name, attachment=await service.attachment_of(citizen.iin)
    )


@router.get("/services", response_model=list[ServiceOut], tags=["catalogue"])
async def services() -> list[ServiceOut]:
    """The e-services with each form's JSON schema (field formats: the regulation's форматные требования)."""
    return [
        ServiceOut(
            code=kind,
            title=TITLES[kind][0],
            result=TITLES[kind][1],
            deadline=deadline_text(kind),
            contact_centre=CONTACT_CENTRE,
            form_schema=FORMS[kind].model_json_schema(),
        )
        for kind in ServiceKind
    ]


@router.get("/clinics", tags=["catalogue"])
async def clinics(_citizen: CitizenDep, service: PortalDep) -> list[dict[str, Any]]:
    """Clinics, their hours, doctors and whether they accept attachments."""
    listed = parse_payload(ClinicsList, await service.ask("arm", CLINICS_LIST, {}))
    return [clinic.model_dump(mode="json") for clinic in listed.clinics]


@router.get("/clinics/{clinic_bin}/slots", tags=["catalogue"])
async def slots(
    clinic_bin: str,
    _citizen: CitizenDep,
    service: PortalDep,
    doctor_code: Annotated[str | None, Query(pattern=CODE_PATTERN)] = None,
    specialty: Annotated[str | None, Query(max_length=80, pattern=TEXT_PATTERN)] = None,
    days: Annotated[int, Query(ge=1, le=14)] = 7,
) -> list[dict[str, Any]]:
    """Free slots of the clinic's doctors (bounded window, never in the past)."""
    if not (len(clinic_bin) == 12 and clinic_bin.isdigit()):
        raise ApiError(422, "BIN_INVALID", "a БИН has 12 digits")
    answer = await service.ask(
        arm_address(clinic_bin), SLOTS_QUERY, {"doctor_code": doctor_code, "specialty": specialty, "days": days}
    )
    return [slot.model_dump(mode="json") for slot in parse_payload(SlotsFound, answer).slots]


@router.post("/uploads", response_model=UploadOut, status_code=201, tags=["requests"])
async def upload(
    request: Request,
    citizen: CitizenDep,
    service: PortalDep,
    name: Annotated[str, Query(min_length=1, max_length=120, pattern=TEXT_PATTERN)],
) -> UploadOut:
    """A document to attach (the raw file as the body: PDF, JPEG or PNG by content, at most 2 MiB); name
    its ``id`` in ``documents`` when preparing the request. 413 before reading a body that is too large."""
    content = await read_limited(request, MAX_DOCUMENT_BYTES)
    row = await service.upload(citizen, name, content)
    return UploadOut.of(row)


@router.post("/requests/prepare", response_model=PreparedOut, status_code=201, tags=["requests"])
async def prepare(body: PrepareIn, citizen: CitizenDep, service: PortalDep) -> PreparedOut:
    """ "Отправить запрос": validate the form; get the exact document to sign (a slot is held meanwhile)."""
    documents = [str(d) for d in body.documents]
    prepared = await service.prepare(citizen, body.service, body.clinic_bin, body.fields, documents)
    return PreparedOut(draft_id=prepared.draft_id, document=prepared.document, expires_at=prepared.expires_at)


@router.post("/requests/{draft_id}/sign", response_model=RequestOut, status_code=201, tags=["requests"])
async def sign(draft_id: uuid.UUID, body: SignIn, citizen: CitizenDep, service: PortalDep) -> RequestOut:
    """ "Подписать": the prepared document's signature (compact JWS, or NCALayer's CMS, detached or not);
    condition 2 is checked, then it is sent."""
    signed = await service.sign(citizen, str(draft_id), body.token)
    return request_out(signed)


@router.post("/requests", response_model=RequestOut, status_code=201, tags=["requests"])
async def submit(body: SignIn, citizen: CitizenDep, service: PortalDep) -> RequestOut:
    """One-step submission of a document the client signed itself (see the service's form schema)."""
    return request_out(await service.submit_signed(citizen, body.token))


@router.get("/requests", response_model=list[RequestOut], tags=["requests"])
async def list_requests(
    citizen: CitizenDep,
    service: PortalDep,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> list[RequestOut]:
    """Your requests, newest first: ИИН, number, service, status, deadline (paged: ``limit``, ``offset``)."""
    return [request_out(r) for r in await service.history.requests(citizen, limit, offset)]


@router.get("/requests/{request_id}", response_model=RequestOut, tags=["requests"])
async def request_detail(
    request_id: uuid.UUID,
    citizen: CitizenDep,
    service: PortalDep,
    wait: Annotated[
        float,
        Query(ge=0, le=30, description="long-poll: answer when the status changes (or is final), at most this long"),
    ] = 0,
    seen: Annotated[
        str | None,
        Query(
            max_length=20, description="the status the client already shows (default: the current one; '-' for none)"
        ),
    ] = None,
) -> RequestOut:
    """ "Обновить статус": the request with its history of status changes. With ``wait`` the answer comes
    as soon as the status moves on, instead of the client polling."""
    row, events = await service.history.request_detail(citizen, str(request_id), wait, seen)
    return request_out(row, events)


@router.get("/requests/{request_id}/result", response_model=ResultOut, tags=["requests"])
async def result(request_id: uuid.UUID, citizen: CitizenDep, service: PortalDep) -> ResultOut:
    """ "Просмотр результата" / "открыть": the clinic-signed result document."""
    row, _ = await service.history.request_detail(citizen, str(request_id))
    if row.result is None:
        raise ApiError(404, "NO_RESULT", "there is no result yet")
    return ResultOut(request_id=row.id, jws=row.result, document=json.loads(parse(row.result).payload))


@router.get("/verify/{number}", response_model=CheckedOut, tags=["results"])
async def verify_result(
    number: Annotated[str, Path(max_length=40, pattern=r"^[A-Za-z0-9_.-]{1,40}$")],
    h: Annotated[str, Query(pattern=r"^[0-9a-f]{16}$", description="the proof the QR code carries")],
    service: PortalDep,
) -> CheckedOut:
    """Public (no log-in): what the QR code of a result or a slip opens — the clinic-signed document with its
    signature checked now. The page for people is ``/verify/{number}``."""
    checked = await service.verification.check(number, h)
    signer = checked.signer
    return CheckedOut(
        registration_number=number,
        service=ServiceKind(checked.request.service),
        clinic_bin=checked.request.clinic_bin,
        valid=checked.valid,
        code=checked.code,
        signer=SignerOut(common_name=signer.common_name, organization=signer.organization, bin=signer.bin)
        if signer
        else None,
        document=checked.document,
    )


@router.post("/requests/{request_id}/retry", response_model=RequestOut, tags=["requests"])
async def retry(request_id: uuid.UUID, citizen: CitizenDep, service: PortalDep) -> RequestOut:
    """Send a technically failed request again (the same signed document)."""
    return request_out(await service.retry(citizen, str(request_id)))


@router.post("/requests/{request_id}/survey", status_code=204, tags=["quality"])
async def survey(request_id: uuid.UUID, body: SurveyIn, citizen: CitizenDep, service: PortalDep) -> Response:
    """Приложение 3: the questionnaire on quality and accessibility, once the request has its outcome."""
    await service.quality.answer_survey(citizen, str(request_id), body.process_and_result, body.information)
    return Response(status_code=204)


@router.get("/service-levels", tags=["quality"])
async def service_levels(service: PortalDep) -> dict[str, Any]:
    """The portal's steps of table 1 (Приложение 1), measured since start against their time limits: each
    step's limit, count, p50/p95/p99 and breaches (Prometheus has the same as emhana_step_*)."""
    return {"steps": service.steps.report(), "contact_centre": CONTACT_CENTRE}


@router.get("/services/{code}/indicators", response_model=IndicatorOut, tags=["quality"])
async def indicators(code: ServiceKind, service: PortalDep) -> IndicatorOut:
    """The service's "качество" and "доступность" indicators from the questionnaires (aggregates only)."""
    return IndicatorOut.model_validate(await service.quality.indicators(code))
