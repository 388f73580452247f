"""HTTP conventions shared by every service: typed JSON errors, never a bare 500 for bad input."""

from __future__ import annotations

import json
import logging
from enum import StrEnum
from typing import Any

from aiormq.exceptions import AMQPError
from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field, ValidationError
from sqlalchemy import exc as sqlalchemy_exc
from starlette.exceptions import HTTPException as StarletteHTTPException
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from shared.rules import errors
from shared.rules.errors import DomainError
from shared.wire.refusals import Refusal, RefusalError, refusal_text

log = logging.getLogger(__name__)

# Which HTTP status a refusal maps to when it answers an HTTP call.
_STATUS = {
    Refusal.AUTH_FAILED: 401,
    Refusal.SLOT_TAKEN: 409,
    Refusal.DUPLICATE_REQUEST: 409,
    Refusal.ONE_BOOKING_PER_DAY: 409,
    Refusal.NO_SUCH_BOOKING: 404,
    Refusal.ACCESS_DENIED: 403,
    Refusal.CERT_NOT_STAFF: 403,
    Refusal.PERSON_NOT_FOUND: 404,
    Refusal.ROUTE_UNKNOWN: 404,
    Refusal.TIMEOUT: 504,
    Refusal.INTERNAL: 503,
}


def client_address(request: Request) -> str:
    """The address a request came from (a trusted proxy's X-Forwarded-For already applied), for the
    log-in throttles; ``unknown`` when the server gives none."""
    return request.client.host if request.client else "unknown"


def from_state(attribute: str) -> Any:
    """``Depends`` on an object the app keeps in ``app.state`` (its service, its pages).

    Async on purpose: FastAPI runs a plain-``def`` dependency in a worker thread, which is a thread hop
    and a wake-up of the event loop on every request.
    """

    async def dependency(request: Request) -> Any:
        return getattr(request.app.state, attribute)

    return Depends(dependency)


class ApiCode(StrEnum):
    """Codes of HTTP errors that are not refusal codes (those are :class:`shared.wire.refusals.Refusal`)."""

    VALIDATION_ERROR = "VALIDATION_ERROR"
    UNAUTHORIZED = "UNAUTHORIZED"
    FORBIDDEN = "FORBIDDEN"
    FORBIDDEN_ROLE = "FORBIDDEN_ROLE"
    NOT_FOUND = "NOT_FOUND"
    METHOD_NOT_ALLOWED = "METHOD_NOT_ALLOWED"
    HTTP_ERROR = "HTTP_ERROR"
    TOO_LARGE = "TOO_LARGE"
    UNSUPPORTED_TYPE = "UNSUPPORTED_TYPE"
    OVERLOADED = "OVERLOADED"
    TOO_MANY_ATTEMPTS = "TOO_MANY_ATTEMPTS"
    ALREADY_REGISTERED = "ALREADY_REGISTERED"
    NOT_REGISTERED = "NOT_REGISTERED"
    PASSWORD_POLICY = "PASSWORD_POLICY"  # noqa: S105 (a code, not a password)
    PASSWORD_CHANGE_REQUIRED = "PASSWORD_CHANGE_REQUIRED"  # noqa: S105 (a code, not a password)
    DRAFT_EXPIRED = "DRAFT_EXPIRED"
    DOCUMENT_NOT_UPLOADED = "DOCUMENT_NOT_UPLOADED"
    CLINIC_REQUIRED = "CLINIC_REQUIRED"
    BIN_INVALID = "BIN_INVALID"
    NO_RESULT = "NO_RESULT"
    NOT_FAILED = "NOT_FAILED"
    NOT_FINISHED = "NOT_FINISHED"
    SURVEY_ANSWERED = "SURVEY_ANSWERED"
    INVALID_TRANSITION = "INVALID_TRANSITION"
    ALREADY_CLOSED = "ALREADY_CLOSED"
    CRL_NOT_FOUND = "CRL_NOT_FOUND"
    UNAVAILABLE = "UNAVAILABLE"
    INTERNAL_ERROR = "INTERNAL_ERROR"


class FieldError(BaseModel):
    loc: list[str] = Field(description="where in the request, e.g. ['body', 'fields', 'phone']")
    msg: str
    type: str = ""


class ErrorOut(BaseModel):
    """Every error answer: a stable code, a message for people, and details where there are any."""

    code: Refusal | ApiCode = Field(description="a refusal code of the regulation's checks, or an HTTP error code")
    message: str
    detail: str | None = Field(default=None, description="more about this case (never personal data)")
    errors: list[FieldError] | None = Field(default=None, description="each field that broke the schema or a rule")


_DESCRIPTIONS = {
    400: "the request cannot be read",
    401: "not logged in, or the token expired (with WWW-Authenticate: Bearer)",
    403: "logged in, but not allowed to do this",
    404: "no such thing, or not yours",
    409: "in conflict with the current state (already done, taken, duplicate)",
    410: "gone: prepare it again",
    413: "the body is larger than allowed",
    415: "a file of a type that is not accepted",
    422: "a field breaks the schema or a rule (errors), or the regulation's check refused (code)",
    429: "too many attempts: wait for Retry-After seconds",
    503: "overloaded or a service is down: try again after Retry-After seconds",
    504: "a service did not answer in time",
}


def error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` for these error statuses, each with the real body shape (:class:`ErrorOut`)."""
    return {status: {"model": ErrorOut, "description": _DESCRIPTIONS[status]} for status in statuses}


# Errors any route of any service can answer (middleware and handlers of every service).
COMMON_ERRORS = (400, 413, 422, 503)


class ApiError(Exception):
    """An HTTP error with a stable code (:class:`ApiCode`), for conditions that are not refusal codes."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        headers: dict[str, str] | None = None,
        errors: list[dict[str, Any]] | None = None,
    ) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.headers, self.errors = (
            status,
            ApiCode(code),
            message,
            headers,
            errors,
        )


def form_error(exc: ValidationError) -> ApiError:
    """422 for a form that breaks its rules: the fields named in ``errors`` (and in the message)."""
    errors = [{"loc": [str(p) for p in e["loc"]], "msg": e["msg"], "type": e["type"]} for e in exc.errors()]
    fields = ", ".join(sorted({".".join(e["loc"]) for e in errors}))
    return ApiError(422, "VALIDATION_ERROR", f"the form has invalid fields: {fields}", errors=errors)


async def read_limited(request: Request, limit: int) -> bytes:
    """The request body, refused with 413 as soon as it is known to exceed ``limit`` bytes: by its
    Content-Length before reading, or while streaming it — never read whole into memory first."""
    declared = request.headers.get("content-length")
    if declared is not None and (not declared.isdigit() or int(declared) > limit):
        raise ApiError(413, "TOO_LARGE", f"the body may have at most {limit} bytes")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise ApiError(413, "TOO_LARGE", f"the body may have at most {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


# The one place a domain error becomes an HTTP status (shared.rules.errors).
HTTP_STATUS: dict[type[DomainError], int] = {
    errors.NotAuthenticated: 401,
    errors.NotAllowed: 403,
    errors.NotFound: 404,
    errors.Conflict: 409,
    errors.Expired: 410,
    errors.TooLarge: 413,
    errors.UnsupportedType: 415,
    errors.RuleBroken: 422,
    errors.TooManyAttempts: 429,
    errors.Overloaded: 503,
}


def domain_status(exc: DomainError) -> int:
    """The HTTP status of a domain error (its kind's, :data:`HTTP_STATUS`)."""
    return next(status for kind, status in HTTP_STATUS.items() if isinstance(exc, kind))


def refusal_status(code: Refusal) -> int:
    """The HTTP status a refusal is answered with (422 unless it says more: 401, 404, 409, 504…)."""
    return _STATUS.get(code, 422)


def error_body(code: str, message: str, **extra: object) -> dict[str, object]:
    return {"code": code, "message": message, **extra}


def install_error_handlers(app: FastAPI) -> None:
    """Map validation errors, refusals and HTTP errors to ``{"code", "message"}`` JSON bodies."""

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [
            {"loc": [str(p) for p in e.get("loc", ())], "msg": e.get("msg", ""), "type": e.get("type", "")}
            for e in exc.errors()
        ]
        return JSONResponse(
            status_code=422, content=error_body("VALIDATION_ERROR", "request does not match the schema", errors=errors)
        )

    @app.exception_handler(RefusalError)
    async def _refusal(_: Request, exc: RefusalError) -> JSONResponse:
        message = refusal_text(exc.code)
        status = refusal_status(exc.code)
        return JSONResponse(
            status_code=status,
            content=error_body(exc.code.value, message, detail=exc.detail if exc.detail != message else None),
            headers=_challenge(status, None),
        )

    @app.exception_handler(ApiError)
    async def _api(_: Request, exc: ApiError) -> JSONResponse:
        extra = {"errors": exc.errors} if exc.errors is not None else {}
        return JSONResponse(
            status_code=exc.status,
            content=error_body(exc.code.value, exc.message, **extra),
            headers=_challenge(exc.status, exc.headers),
        )

    @app.exception_handler(DomainError)
    async def _domain(_: Request, exc: DomainError) -> JSONResponse:
        status = domain_status(exc)
        headers = {"Retry-After": str(exc.retry_after)} if exc.retry_after is not None else None
        return JSONResponse(
            status_code=status,
            content=error_body(ApiCode(exc.code).value, exc.message),
            headers=_challenge(status, headers),
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = {404: "NOT_FOUND", 405: "METHOD_NOT_ALLOWED", 401: "UNAUTHORIZED", 403: "FORBIDDEN"}.get(
            exc.status_code, "HTTP_ERROR"
        )
        # Starlette's own headers (Allow on 405) are kept.
        headers = _challenge(exc.status_code, dict(exc.headers) if exc.headers else None)
        return JSONResponse(status_code=exc.status_code, content=error_body(code, str(exc.detail)), headers=headers)

    install_failure_handlers(app)


# Failures of what a service depends on (the broker, its database), not of the request: the client is told
# to come back shortly (503 + Retry-After) rather than handed a bare 500.
_UNAVAILABLE: tuple[type[Exception], ...] = (
    AMQPError,
    ConnectionError,
    TimeoutError,
    sqlalchemy_exc.OperationalError,
    sqlalchemy_exc.TimeoutError,
    sqlalchemy_exc.InterfaceError,
)


def install_failure_handlers(app: FastAPI) -> None:
    """Unavailable dependencies → 503 with Retry-After; anything else unexpected → a JSON 500 (logged
    with its traceback), never a plain-text page."""

    async def unavailable(request: Request, exc: Exception) -> JSONResponse:
        log.warning("dependency unavailable", extra={"error": type(exc).__name__, "route": request.url.path})
        body = error_body("UNAVAILABLE", "a part of the system is not reachable right now; try again shortly")
        return JSONResponse(status_code=503, content=body, headers={"Retry-After": "5"})

    async def internal(request: Request, exc: Exception) -> JSONResponse:
        log.error("unexpected error", exc_info=exc, extra={"route": request.url.path})
        return JSONResponse(status_code=500, content=error_body("INTERNAL_ERROR", "an unexpected error; it is logged"))

    for kind in _UNAVAILABLE:
        app.add_exception_handler(kind, unavailable)
    app.add_exception_handler(Exception, internal)


def _challenge(status: int, headers: dict[str, str] | None) -> dict[str, str] | None:
    """A 401 always says how to authenticate (RFC 9110: WWW-Authenticate)."""
    if status != 401:
        return headers
    return {"WWW-Authenticate": "Bearer", **(headers or {})}


class BodyLimit:
    """ASGI middleware: a request body larger than its route's limit gets 413 before the app sees it.

    A declared Content-Length over the limit is refused without reading anything; a body without one
    (chunked) is read only up to the limit. Routes that take files (``larger``) have their own limit.
    """

    def __init__(self, app: Any, limit: int, larger: dict[str, int] | None = None) -> None:
        self.app, self.limit, self.larger = app, limit, larger or {}

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope.get("path", "")
        limit = next((size for suffix, size in self.larger.items() if path.endswith(suffix)), self.limit)
        headers = dict(scope.get("headers") or [])
        declared = headers.get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > limit):
            await _too_large(send, limit)
            return
        chunks: list[bytes] = []
        size = 0
        more = True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                await _too_large(send, limit)
                return
            chunks.append(chunk)
            more = message.get("more_body", False)
        body = b"".join(chunks)
        delivered = False

        async def replay() -> dict[str, Any]:
            nonlocal delivered
            if delivered:
                message: dict[str, Any] = await receive()
                return message
            delivered = True
            return {"type": "http.request", "body": body, "more_body": False}

        await self.app(scope, replay, send)


async def _too_large(send: Any, limit: int) -> None:
    await _answer(send, 413, error_body("TOO_LARGE", f"the request body may have at most {limit} bytes"))


async def _answer(
    send: Any, status: int, content: dict[str, Any], headers: tuple[tuple[bytes, bytes], ...] = ()
) -> None:
    body = json.dumps(content).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                *headers,
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


class InFlightLimit:
    """ASGI middleware: at most ``limit`` changing requests (POST, PUT, PATCH, DELETE) in hand at once;
    one more is answered 503 with ``Retry-After`` at once, instead of queueing until every answer is late.

    Overload is shed at the door: what is accepted is served at the usual latency and completed, and a
    client told to come back in a second loses nothing (nothing was stored). Reads (status, long-polls,
    health, metrics) are not counted: they are cheap, and a waiting citizen must still see their outcome.
    """

    def __init__(self, app: Any, limit: int, retry_after_seconds: int = 1) -> None:
        self.app, self.limit, self.retry_after = app, limit, str(retry_after_seconds).encode()
        self.in_hand = 0

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope["method"] in ("GET", "HEAD", "OPTIONS"):
            await self.app(scope, receive, send)
            return
        if self.in_hand >= self.limit:
            content = error_body("OVERLOADED", "the service is busy; try again in a moment")
            await _answer(send, 503, content, ((b"retry-after", self.retry_after),))
            return
        self.in_hand += 1
        try:
            await self.app(scope, receive, send)
        finally:
            self.in_hand -= 1


class ForwardedHeaders:
    """Forwarded headers believed from the configured reverse proxies only, every one of them alike.

    From a trusted proxy, ``X-Forwarded-For`` gives the client's address and ``X-Forwarded-Proto`` the
    scheme (uvicorn's :class:`ProxyHeadersMiddleware`), and ``X-Forwarded-Host`` the host the browser
    asked for (it replaces ``Host``, which the same-site check of log-in forms compares with ``Origin``).
    From anyone else, ``X-Forwarded-*`` and ``Forwarded`` are removed before the application sees them:
    a client cannot choose the address throttling sees, nor the host its form is judged against."""

    def __init__(self, app: Any, trusted_proxies: list[str]) -> None:
        self.app = ProxyHeadersMiddleware(app, trusted_hosts=trusted_proxies)

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] in ("http", "websocket"):
            client = scope.get("client")
            headers = scope["headers"]
            if client and client[0] in self.app.trusted_hosts:
                forwarded_host = next((v for k, v in headers if k == b"x-forwarded-host"), None)
                if forwarded_host:
                    # A proxy chain lists hosts left to right; the first is what the browser asked for.
                    host = forwarded_host.split(b",")[0].strip()
                    headers = [(k, v) for k, v in headers if k not in (b"host", b"x-forwarded-host")]
                    headers.append((b"host", host))
            elif any(k.startswith(b"x-forwarded-") or k == b"forwarded" for k, _ in headers):
                headers = [(k, v) for k, v in headers if not (k.startswith(b"x-forwarded-") or k == b"forwarded")]
            if headers is not scope["headers"]:  # a copy only when something was dropped or replaced
                scope = {**scope, "headers": headers}
        await self.app(scope, receive, send)
