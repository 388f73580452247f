"""Forwarded headers are believed from configured proxies only, all alike (shared.platform.http.ForwardedHeaders),
and the session cookie is Secure whenever the page was reached over HTTPS."""

from __future__ import annotations

import datetime as dt

import httpx
from fastapi import FastAPI, Request, Response

from services.portal.pages import TEMPLATES
from shared.platform.http import ForwardedHeaders
from shared.web import Pages

PROXY = "10.0.0.2"


def app() -> FastAPI:
    api = FastAPI()
    pages = Pages(TEMPLATES, site="portal", title="t", session_cookie="session")

    @api.get("/seen")
    async def seen(request: Request) -> dict:
        return {
            "host": request.headers.get("host"),
            "forwarded_host": request.headers.get("x-forwarded-host"),
            "forwarded": request.headers.get("forwarded"),
            "scheme": request.url.scheme,
            "client": request.client.host if request.client else None,
        }

    @api.post("/login")
    async def login(request: Request) -> Response:
        response = Response(status_code=204)
        now = dt.datetime.now(dt.UTC)
        pages.start_session(request, response, "token", now + dt.timedelta(minutes=1), now)
        return response

    return api


def Path_templates():
    from services.portal.pages import TEMPLATES

    return TEMPLATES


def client(peer: str) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=ForwardedHeaders(app(), [PROXY]), client=(peer, 40000))
    return httpx.AsyncClient(transport=transport, base_url="http://emhana.internal:8101")


FORWARDED = {
    "X-Forwarded-For": "203.0.113.7",
    "X-Forwarded-Proto": "https",
    "X-Forwarded-Host": "emhana.gov.kz",
    "Forwarded": "for=203.0.113.7;host=emhana.gov.kz;proto=https",
}


async def test_a_configured_proxy_is_believed_on_client_scheme_and_host() -> None:
    async with client(PROXY) as http:
        seen = (await http.get("/seen", headers=FORWARDED)).json()
        cookie = (await http.post("/login", headers=FORWARDED)).headers["set-cookie"]
    assert seen["client"] == "203.0.113.7" and seen["scheme"] == "https" and seen["host"] == "emhana.gov.kz"
    assert seen["forwarded_host"] is None  # folded into Host
    assert "secure" in cookie.lower() and "httponly" in cookie.lower() and "samesite=strict" in cookie.lower()


async def test_anyone_else_has_every_forwarded_header_dropped() -> None:
    async with client("198.51.100.9") as http:
        seen = (await http.get("/seen", headers=FORWARDED)).json()
        cookie = (await http.post("/login", headers=FORWARDED)).headers["set-cookie"]
    assert seen == {
        "host": "emhana.internal:8101",
        "forwarded_host": None,
        "forwarded": None,
        "scheme": "http",
        "client": "198.51.100.9",
    }
    assert "secure" not in cookie.lower()  # plain HTTP, and nobody trusted said otherwise


async def test_https_reached_directly_makes_the_cookie_secure() -> None:
    transport = httpx.ASGITransport(app=ForwardedHeaders(app(), []), client=("198.51.100.9", 40000))
    async with httpx.AsyncClient(transport=transport, base_url="https://emhana.gov.kz") as http:
        cookie = (await http.post("/login")).headers["set-cookie"]
    assert "secure" in cookie.lower()
