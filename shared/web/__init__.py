"""Server-rendered web pages shared by the portal (citizens) and the АРМ (clinic staff).

One layout, one style sheet, one signing widget and one set of translation catalogues (Russian and
Kazakh) serve both. Pages call the same service objects as the JSON API; nothing here knows a rule of
the regulation. A page session is the service's own access token in an HttpOnly, SameSite=Strict
cookie; every form that changes something also carries a CSRF token derived from that session.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, TypeVar
from urllib.parse import quote, urlsplit

import jinja2
from fastapi import Depends, FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles

from shared.platform.attachments import UploadOut
from shared.platform.http import ApiCode, ApiError, domain_status, from_state, read_limited, refusal_status
from shared.rules.deadlines import CONTACT_CENTRE
from shared.rules.errors import DomainError, NotAuthenticated
from shared.web.i18n import DEFAULT_LANGUAGE, LANGUAGES, Translator, translator
from shared.wire.clock import ASTANA
from shared.wire.contracts import MAX_DOCUMENT_BYTES
from shared.wire.refusals import Refusal, RefusalError

T = TypeVar("T")
WEB = Path(__file__).resolve().parent
STATIC_PREFIX = "/static"
# Where NCALayer listens, on every computer it is installed on (its fixed port; kz.gov.pki.knca.basics).
NCALAYER_URL = "wss://127.0.0.1:13579"
LANGUAGE_COOKIE = "emhana_lang"

# Pages are framed by nobody, load scripts only from their own origin and never send a form elsewhere.
SECURITY_HEADERS = {
    # connect-src: the page's own fetches, and NCALayer on this computer (the national CA's signer).
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        f"connect-src 'self' {NCALAYER_URL}; "
        "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
}


# What a page shows in its own problem box (a refusal, a domain error or a typed API error); anything else is
# a 5xx.
PAGE_FAILURES = (RefusalError, DomainError, ApiError)


class LoginRequired(Exception):
    """Raised by a page that needs a session: answered by a redirect to the login page."""


class GoTo(Exception):
    """Raised by a page's dependency that must send the person elsewhere first (e.g. to choose their own
    password): answered by a redirect to ``target``, a path of this site."""

    def __init__(self, target: str) -> None:
        super().__init__(target)
        self.target = target


@dataclass(frozen=True)
class Problem:
    """What went wrong, for the page: an HTTP status, a stable code and the text to show."""

    status: int
    code: str
    message: str

    def translated(self, _: Translator) -> Problem:
        """The same problem with the text of its code in the page's language, where there is one."""
        if self.code in Refusal._value2member_map_:
            return Problem(self.status, self.code, _.refusal(Refusal(self.code)))
        if self.code in ApiCode._value2member_map_:
            return Problem(self.status, self.code, _.api_error(ApiCode(self.code), self.message))
        return self

    @classmethod
    def of(cls, exc: Exception, _: Translator) -> Problem:
        if isinstance(exc, RefusalError):
            return cls(refusal_status(exc.code), exc.code.value, _.refusal(exc.code))
        if isinstance(exc, DomainError):
            return cls(domain_status(exc), exc.code, _.api_error(ApiCode(exc.code), exc.message))
        if isinstance(exc, ApiError):
            return cls(exc.status, exc.code.value, _.api_error(exc.code, exc.message))
        raise exc


def astana_time(moment: dt.datetime | str | None) -> str:
    """A time as every page shows it: Astana time with its offset, to the minute."""
    if moment is None:
        return "—"
    if isinstance(moment, str):
        moment = dt.datetime.fromisoformat(moment)
    local = moment.astimezone(ASTANA)
    offset = local.strftime("%z")
    return f"{local:%d.%m.%Y %H:%M} (UTC{offset[:3]}:{offset[3:]})"


def astana_day(moment: dt.datetime | str) -> str:
    if isinstance(moment, str):
        moment = dt.datetime.fromisoformat(moment)
    return f"{moment.astimezone(ASTANA):%d.%m.%Y}"


def day_month(day: str) -> str:
    """A date (YYYY-MM-DD) as dd.mm, for the day buttons of a time choice."""
    return f"{dt.date.fromisoformat(day):%d.%m}"


def parse_day(value: str) -> dt.date:
    """A day typed in a page: dd.mm.yyyy (as shown here) or YYYY-MM-DD; ``ValueError`` otherwise."""
    value = value.strip()
    try:
        if "." in value:
            day, month, year = (int(part) for part in value.split("."))
            return dt.date(year, month, day)
        return dt.date.fromisoformat(value)
    except OverflowError:  # a number too large for a date field is as wrong as any other
        raise ValueError(f"not a day: {value[:20]}") from None


def day_text(value: str | dt.date | None) -> str:
    """A day for a day field: dd.mm.yyyy (what was typed, kept as it was when it does not read as a day)."""
    if not value:
        return ""
    try:
        return f"{value if isinstance(value, dt.date) else parse_day(str(value)):%d.%m.%Y}"
    except ValueError:
        return str(value)


def clock_time(moment: str) -> str:
    """The time of day of a moment, HH:MM in Astana time."""
    return f"{dt.datetime.fromisoformat(moment).astimezone(ASTANA):%H:%M}"


def postal_address(value: dict[str, Any] | str | None) -> str:
    """An address of ГБД ФЛ (city, street, house, apartment) as one line."""
    if not isinstance(value, dict):
        return value or "—"
    parts = [value.get(k) for k in ("city", "district", "street", "house")]
    line = ", ".join(str(p) for p in parts if p)
    return f"{line}, {value['apartment']}" if value.get("apartment") else line


def csrf_token(session_token: str) -> str:
    """The CSRF token of a session: unguessable without the session's own (HttpOnly) token."""
    return hmac.new(session_token.encode(), b"emhana-csrf", hashlib.sha256).hexdigest()[:32]


NOT_PAGES = ("/api/", "/uploads", "/static/", "/metrics", "/health", "/ready", "/docs", "/redoc", "/openapi.json")


def is_page(request: Request) -> bool:
    """A browser asking for a page of the site, as opposed to a client of the JSON API or of the service's
    own endpoints (those always get JSON, whatever the path)."""
    return "text/html" in request.headers.get("accept", "") and not request.url.path.startswith(NOT_PAGES)


def local_path(target: str | None, default: str = "/") -> str:
    """``target`` if it is a path on this site; never an absolute or scheme-relative address (open redirect)."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return default
    return target


def language_of(request: Request) -> str:
    """The page language: the cookie set by the switch, else the browser's preference, else Russian."""
    chosen = request.cookies.get(LANGUAGE_COOKIE)
    if chosen in LANGUAGES:
        return chosen
    for part in request.headers.get("accept-language", "").split(","):
        code = part.split(";")[0].strip().lower()[:2]
        if code in LANGUAGES:
            return code
    return DEFAULT_LANGUAGE


class SecurityHeaders:
    """ASGI middleware: adds :data:`SECURITY_HEADERS` to HTML pages (the JSON API keeps its own headers).
    Plain ASGI rather than Starlette's ``BaseHTTPMiddleware``, which would add a task and a copy of every
    response, long-polls included, to the portal's busiest path."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.extra = [(name.lower().encode(), value.encode()) for name, value in SECURITY_HEADERS.items()]

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                headers = dict(message.get("headers") or [])
                if headers.get(b"content-type", b"").startswith(b"text/html"):
                    message = {**message, "headers": [*message.get("headers", []), *self.extra]}
            await send(message)

        await self.app(scope, receive, send_with_headers)


class Pages:
    """Templates of one service (its own folder first, then the shared layout) rendered per language."""

    def __init__(
        self,
        templates: Path,
        *,
        site: str,
        title: str,
        session_cookie: str,
        secure_cookies: bool = False,
        functions: dict[str, Callable[..., Any]] | None = None,
    ) -> None:
        """``functions``: what this service's templates may call beside the shared helpers."""
        self.site = site
        self.session_cookie = session_cookie
        self.secure_cookies = secure_cookies
        loader = jinja2.ChoiceLoader([jinja2.FileSystemLoader(templates), jinja2.FileSystemLoader(WEB / "templates")])
        self._environments: dict[str, jinja2.Environment] = {}
        for language in LANGUAGES:
            environment = jinja2.Environment(
                loader=loader,
                autoescape=True,
                extensions=["jinja2.ext.i18n"],
                undefined=jinja2.StrictUndefined,
                trim_blocks=True,
                lstrip_blocks=True,
            )
            texts = translator(language)
            # mypy ignores the next line: added to the environment by jinja2's i18n extension at run time
            environment.install_gettext_translations(texts.gettext_object, newstyle=True)  # type: ignore[attr-defined]
            environment.globals.update(
                languages=LANGUAGES,
                static=STATIC_PREFIX,
                ncalayer_url=NCALAYER_URL,
                site=site,
                site_title=texts(title),
                service_title=texts.service,
                status_label=texts.status,
                field_label=texts.field,
                visit_label=texts.visit,
                role_label=texts.role,
                weekday=texts.weekday,
                reason_label=texts.reason,
                contact_centre=CONTACT_CENTRE,
                **(functions or {}),
            )
            environment.filters.update(
                when=astana_time,
                day=astana_day,
                address=postal_address,
                day_month=day_month,
                clock=clock_time,
                date_only=lambda day: day_text(day) or "—",  # a calendar date (a birth date) to read
                day_text=day_text,
            )
            self._environments[language] = environment

    def install(self, app: FastAPI, *routers: Any) -> None:
        """Mount the static files, the language switch, the login redirect and the page routers."""
        app.mount(STATIC_PREFIX, StaticFiles(directory=WEB / "static"), name="static")
        app.add_middleware(SecurityHeaders)
        # mypy ignores the next line: Starlette types handlers as taking any Exception
        app.add_exception_handler(LoginRequired, self._to_login)  # type: ignore[arg-type]
        app.add_exception_handler(GoTo, self._go_to)  # type: ignore[arg-type]  # as above
        app.add_api_route("/lang/{code}", self.switch_language, methods=["GET"], include_in_schema=False)
        for router in routers:
            app.include_router(router, include_in_schema=False)
        for kind, handler in list(app.exception_handlers.items()):
            app.add_exception_handler(kind, self._html_instead(handler))
        app.state.pages = self

    # -- rendering ------------------------------------------------------------------------
    def environment(self, language: str) -> jinja2.Environment:
        """The Jinja environment of ``language`` (its templates, filters and translations)."""
        return self._environments[language]

    def translate(self, request: Request) -> Translator:
        return translator(language_of(request))

    def render(self, request: Request, template: str, status_code: int = 200, **context: Any) -> HTMLResponse:
        """The page ``template`` in the request's language; ``problem`` shows an error box."""
        language = language_of(request)
        token = request.cookies.get(self.session_cookie)
        html = (
            self._environments[language]
            .get_template(template)
            .render(
                request=request,
                lang=language,
                here=request.url.path + (f"?{request.url.query}" if request.url.query else ""),
                csrf=csrf_token(token) if token else "",
                logged_in=token is not None,
                **context,
            )
        )
        return HTMLResponse(html, status_code=status_code)

    def problem_page(self, request: Request, template: str, exc: Exception, **context: Any) -> HTMLResponse:
        """Re-render ``template`` with what went wrong (a refusal or an API error) and its status."""
        problem = Problem.of(exc, self.translate(request))
        return self.render(request, template, status_code=problem.status, problem=problem, **context)

    # -- sessions -------------------------------------------------------------------------
    def session_token(self, request: Request) -> str:
        token = request.cookies.get(self.session_cookie)
        if not token:
            raise LoginRequired
        return token

    async def session_user(self, request: Request, resolve: Callable[[str], Awaitable[T]]) -> T:
        """Who the page session belongs to (``resolve`` maps the token to them); none, expired or revoked:
        :class:`LoginRequired`, answered by a redirect to the login page."""
        try:
            return await resolve(self.session_token(request))
        except NotAuthenticated:
            raise LoginRequired from None

    async def upload(self, request: Request, store: Callable[[str, bytes], Awaitable[Any]]) -> JSONResponse:
        """A document attached from a page (``/uploads?name=…``, the raw file as the body, the CSRF token in
        ``X-CSRF-Token``): stored by ``store`` as the JSON API would; the answer is JSON for the script."""
        self.check_csrf(request, request.headers.get("x-csrf-token"))
        name = request.query_params.get("name", "")
        if not 1 <= len(name) <= 120 or any(ord(c) < 32 or ord(c) == 127 for c in name):
            raise ApiError(422, "VALIDATION_ERROR", "a document name has 1–120 printable characters")
        try:
            row = await store(name, await read_limited(request, MAX_DOCUMENT_BYTES))
        except PAGE_FAILURES as exc:
            problem = Problem.of(exc, self.translate(request))
            return JSONResponse({"code": problem.code, "message": problem.message}, status_code=problem.status)
        return JSONResponse(UploadOut.of(row).model_dump(mode="json"), status_code=201)

    def check_csrf(self, request: Request, submitted: str | None) -> None:
        """A changing form must carry this session's CSRF token (403 otherwise; nothing is changed)."""
        token = self.session_token(request)
        if not submitted or not hmac.compare_digest(submitted, csrf_token(token)):
            raise ApiError(403, "FORBIDDEN", "the form is stale or was not sent from this site")

    @staticmethod
    def check_same_site(request: Request) -> None:
        """A form that starts a session (log in, register) must come from this site's own page.

        Such a form has no session yet, hence no CSRF token: another site could otherwise log a visitor in
        to an account of its choosing (login CSRF). Browsers say where a form came from — ``Sec-Fetch-Site``
        and ``Origin`` — and a form from elsewhere is refused with 403 before anything is checked or
        stored. A client that sends neither (not a browser) is not a victim of this and passes. Used as
        the route's dependency (:data:`SAME_SITE_FORM`), so it is decided before the form is validated."""
        if request.headers.get("sec-fetch-site", "same-origin") not in ("same-origin", "none"):
            raise ApiError(403, "FORBIDDEN", "the form was not sent from this site")
        origin = request.headers.get("origin")
        if origin is None:
            return
        try:
            origin_host = urlsplit(origin).netloc  # "null" (a sandboxed or local page) has none
        except ValueError:  # not an address at all (e.g. "http://[")
            origin_host = ""
        # Host only: a trusted proxy's X-Forwarded-Host has already replaced it (shared.platform.http.ForwardedHeaders),
        # and nobody else's is believed.
        if origin_host != request.headers.get("host"):
            raise ApiError(403, "FORBIDDEN", "the form was not sent from this site")

    def start_session(
        self, request: Request, response: Response, token: str, expires: dt.datetime, now: dt.datetime
    ) -> None:
        """The session cookie, kept until the token ``expires``: HttpOnly, SameSite=Strict, and Secure whenever
        the page was reached over HTTPS (directly, or through a trusted proxy's X-Forwarded-Proto) or
        ``secure_cookies`` is set."""
        response.set_cookie(
            self.session_cookie,
            token,
            max_age=int((expires - now).total_seconds()),
            httponly=True,
            samesite="strict",
            secure=self.secure_cookies or request.url.scheme == "https",
            path="/",
        )

    def end_session(self, response: Response) -> None:
        response.delete_cookie(self.session_cookie, path="/", httponly=True, samesite="strict")

    @staticmethod
    def redirect(target: str) -> RedirectResponse:
        return RedirectResponse(target, status_code=303)

    def _html_instead(
        self, handler: Callable[[Request, Any], Awaitable[Response]]
    ) -> Callable[..., Awaitable[Response]]:
        """The JSON error handler ``handler`` for the API; for a page, the same status and code as a page
        in the person's language (a browser is never shown a JSON body)."""

        async def handle(request: Request, exc: Exception) -> Response:
            response = await handler(request, exc)
            if not is_page(request) or not isinstance(response, JSONResponse):
                return response
            body = json.loads(bytes(response.body))
            problem = Problem(response.status_code, body.get("code", "HTTP_ERROR"), body.get("message", ""))
            page = self.render(
                request,
                "error.html",
                status_code=response.status_code,
                problem=problem.translated(self.translate(request)),
            )
            for header in ("Retry-After", "Allow"):
                if header in response.headers:
                    page.headers[header] = response.headers[header]
            return page

        return handle

    async def _to_login(self, request: Request, _exc: LoginRequired) -> Response:
        response = self.redirect(f"/login?next={quote(local_path(request.url.path))}")
        self.end_session(response)
        return response

    async def _go_to(self, _request: Request, exc: GoTo) -> Response:
        return self.redirect(local_path(exc.target))

    async def switch_language(self, request: Request, code: str, next: str | None = None) -> Response:
        """``/lang/kk?next=/requests``: remember the language for a year and go back."""
        response = self.redirect(local_path(next))
        if code in LANGUAGES:
            response.set_cookie(LANGUAGE_COOKIE, code, max_age=365 * 86400, samesite="lax", path="/")
        return response


#: The dependency of a route whose form starts a session (log in, register): a form from another site is
#: refused with 403 before its fields are validated (a missing field would otherwise answer 422 first).
SAME_SITE_FORM = Depends(Pages.check_same_site)


def site_of(request: Request) -> Pages:
    """The pages of the app that serves ``request`` (``app.state.pages``, set by :meth:`Pages.install`)."""
    site: Pages = request.app.state.pages
    return site


# A page route's site, as a dependency.
PagesDep = Annotated[Pages, from_state("pages")]


def signing_context(
    draft_id: str, document: str, expected_iin: str, expected_bin: str | None, now: dt.datetime
) -> dict[str, Any]:
    """What the shared signing step (``sign.html``) needs, on either site: the prepared document to sign,
    where the signature is posted, and whose key must sign it (the ИИН, and for staff the clinic's БИН)."""
    return {
        "summary": json.loads(document),
        "document": document,
        "sign_action": f"/drafts/{draft_id}",
        "expected_iin": expected_iin,
        "expected_bin": expected_bin,
        "now_iso": now.isoformat(),
    }
