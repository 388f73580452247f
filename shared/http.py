"""HTTP conventions shared by every service: typed JSON errors, never a bare 500 for bad input."""

from __future__ import annotations

import json
import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from shared.refusals import Refusal, RefusalError, refusal_text

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


class ApiError(Exception):
    """An HTTP error with a stable code, for conditions that are not refusal codes."""

    def __init__(self, status: int, code: str, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.headers = status, code, message, headers


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
        return JSONResponse(
            status_code=_STATUS.get(exc.code, 422),
            content=error_body(exc.code.value, message, detail=exc.detail if exc.detail != message else None),
        )

    @app.exception_handler(ApiError)
    async def _api(_: Request, exc: ApiError) -> JSONResponse:
        return JSONResponse(status_code=exc.status, content=error_body(exc.code, exc.message), headers=exc.headers)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = {404: "NOT_FOUND", 405: "METHOD_NOT_ALLOWED", 401: "UNAUTHORIZED", 403: "FORBIDDEN"}.get(
            exc.status_code, "HTTP_ERROR"
        )
        return JSONResponse(status_code=exc.status_code, content=error_body(code, str(exc.detail)))


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
                return await receive()
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
