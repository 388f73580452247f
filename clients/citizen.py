"""``emhana`` — the citizen's command-line client for the portal, doing what a REST client would.

    emhana register --iin 871205300017
    emhana login --iin 871205300017
    emhana services
    emhana submit home_call --key var/pki/issued/citizen-871205300017.p12 \\
        --field address="г. Астана, ул. Сейфуллина 10, кв 5" --field phone=+77011234567 --field complaints="температура"
    emhana status <request-id> --wait 30
    emhana result <request-id> --verify

The session (portal URL and token) is kept in ``~/.emhana/session.json`` (mode 0600); ``EMHANA_SESSION``
names another file. Documents are signed locally: the key never leaves this machine.
"""

from __future__ import annotations

import argparse
import getpass
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from clients.common import CliError, JsonClient, SessionFile, load_key, local_time, parse_fields, run_quietly, show
from shared.wire.contracts import FINAL_STATUSES
from shared.wire.jws import sign_compact

DEFAULT_PORTAL = os.environ.get("EMHANA_PORTAL_URL", "http://127.0.0.1:8101")
DEFAULT_SIGNATURE = os.environ.get("EMHANA_SIGNATURE_URL", "http://127.0.0.1:8105")
FINAL = FINAL_STATUSES


SESSION = SessionFile("EMHANA_SESSION", "session.json")
load_session, save_session = SESSION.load, SESSION.save


class Portal(JsonClient):
    """The portal's citizen API."""


def password_of(args: argparse.Namespace, prompt: str = "Password: ") -> str:
    return args.password or os.environ.get("EMHANA_PASSWORD") or getpass.getpass(prompt)


def _main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="emhana", description="Citizen client of the Emhana portal.")
    parser.add_argument("--portal", default=None, help=f"portal URL (default {DEFAULT_PORTAL})")
    sub = parser.add_subparsers(dest="command", required=True)
    register = sub.add_parser(
        "register",
        help="create your account, or set a new password, by signing the portal's challenge with your key (ЭЦП)",
    )
    register.add_argument("--key", type=Path, required=True, help="your key file: PKCS#12 (RSA or GOST) or PEM")
    register.add_argument("--key-password", default=os.environ.get("EMHANA_KEY_PASSWORD", "emhana"))
    register.add_argument("--chain", type=Path, help="PEM chain for a PEM key (default: <name>.pem)")
    register.add_argument("--password", help="the account's password: or EMHANA_PASSWORD, or asked")
    login = sub.add_parser("login", help="log in (ИИН + password)")
    login.add_argument("--iin", required=True)
    login.add_argument("--password", help="or EMHANA_PASSWORD, or asked")
    sub.add_parser("logout", help="end this session (the token stops working)")
    sub.add_parser("me", help="who you are and your clinic")
    sub.add_parser("services", help="the catalogue with each form's fields")
    sub.add_parser("clinics", help="clinics with their districts and doctors")
    slots = sub.add_parser("slots", help="free slots of a clinic")
    slots.add_argument("--clinic", required=True)
    slots.add_argument("--doctor")
    slots.add_argument("--days", type=int, default=7)
    submit = sub.add_parser("submit", help="prepare, sign locally and submit a request")
    submit.add_argument("service", choices=["home_call", "appointment", "attachment", "appointment_cancel"])
    submit.add_argument("--key", type=Path, required=True, help="PKCS#12 (.p12) or PEM key (.key.pem)")
    submit.add_argument("--key-password", default=os.environ.get("EMHANA_KEY_PASSWORD", "emhana"))
    submit.add_argument("--chain", type=Path, help="PEM chain for a PEM key (default: <name>.pem)")
    submit.add_argument("--clinic", help="БИН of the clinic (default: yours)")
    submit.add_argument("--field", action="append", default=[], metavar="NAME=VALUE")
    submit.add_argument("--wait", type=float, default=0, help="then poll up to this many seconds for the outcome")
    sub.add_parser("requests", help="your requests")
    status = sub.add_parser("status", help="a request with its history")
    status.add_argument("request_id", nargs="?", default="last", help="default: your last submitted request")
    status.add_argument("--wait", type=float, default=0, help="poll up to this many seconds for a final status")
    result = sub.add_parser("result", help="the clinic-signed result")
    result.add_argument("request_id", nargs="?", default="last", help="default: your last submitted request")
    result.add_argument("--verify", action="store_true", help="check it with the signature service")
    result.add_argument("--signature", default=DEFAULT_SIGNATURE)
    survey = sub.add_parser("survey", help="answer the quality questionnaire (Приложение 3) for a request")
    survey.add_argument("request_id", nargs="?", default="last")
    survey.add_argument("--quality", type=int, choices=[1, 2, 3], required=True, help="process and result")
    survey.add_argument("--information", type=int, choices=[1, 2, 3], required=True)
    retry = sub.add_parser("retry", help="send a failed request again")
    retry.add_argument("request_id", nargs="?", default="last")
    args = parser.parse_args(argv)

    session = load_session()
    url = args.portal or session.get("portal") or DEFAULT_PORTAL
    portal = Portal(url, session.get("token"))
    try:
        return run(args, portal, url)
    except CliError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except httpx.HTTPError as exc:
        print(f"error: cannot reach {url}: {exc}", file=sys.stderr)
        return 2


def wait_for(portal: Portal, request_id: str, seconds: float) -> dict[str, Any]:
    """The request once it is final (or after ``seconds``), by long-polls that answer when it moves on."""
    deadline = time.monotonic() + seconds
    request = portal.call("GET", f"/api/v1/requests/{request_id}")
    while request["status"] not in FINAL and time.monotonic() < deadline:
        print(f"{local_time(request['updated_at'])}  {request['status']}…", file=sys.stderr)  # progress
        wait = round(min(20.0, max(0.0, deadline - time.monotonic())), 1)
        request = portal.call("GET", f"/api/v1/requests/{request_id}", params={"wait": wait, "seen": request["status"]})
    return request


Command = Callable[[argparse.Namespace, Portal, str], int | None]


def _register(args: argparse.Namespace, portal: Portal, url: str) -> None:
    """Registration proven by ЭЦП: the ИИН is the key's certificate's; the session starts at once."""
    key, chain = load_key(args.key, args.key_password, args.chain)
    password = password_of(args)
    challenge = portal.call("POST", "/api/v1/auth/challenge")
    signature = sign_compact(challenge["document"].encode(), key, chain)
    body = {"challenge": challenge["challenge"], "jws": signature, "password": password}
    registered = portal.call("POST", "/api/v1/auth/register", json=body)
    save_session({"portal": url, "token": registered.pop("access_token")})
    registered.pop("token_type", None)
    show(registered)


def _login(args: argparse.Namespace, portal: Portal, url: str) -> None:
    token = portal.call("POST", "/api/v1/auth/login", json={"iin": args.iin, "password": password_of(args)})
    save_session({"portal": url, "token": token["access_token"]})
    print(f"logged in until {local_time(token['expires_at'])}")


def _logout(_args: argparse.Namespace, portal: Portal, url: str) -> None:
    portal.call("POST", "/api/v1/auth/logout")
    save_session({"portal": url})
    print("logged out")


def _services(_args: argparse.Namespace, portal: Portal, _url: str) -> None:
    for service in portal.call("GET", "/api/v1/services"):
        fields = service["form_schema"].get("properties", {})
        required = set(service["form_schema"].get("required", []))
        when, phone = service["deadline"], service["contact_centre"]
        print(f"{service['code']}: {service['title']} (срок: {when}; справки: {phone})")
        for name, spec in fields.items():
            print(f"    {name}{'*' if name in required else ''}: {spec.get('description', spec.get('type', ''))}")


def _clinics(_args: argparse.Namespace, portal: Portal, _url: str) -> None:
    for clinic in portal.call("GET", "/api/v1/clinics"):
        accepting = "принимает" if clinic["accepting"] else "не принимает"
        print(f"{clinic['bin']}  {clinic['short_name']:<18} {clinic['district']:<9} {accepting}")
        for doctor in clinic["doctors"]:
            print(f"      {doctor['code']:<18} {doctor['name']} — {doctor['specialty']}, каб. {doctor['room']}")


def _slots(args: argparse.Namespace, portal: Portal, _url: str) -> None:
    params = {"days": args.days, **({"doctor_code": args.doctor} if args.doctor else {})}
    for slot in portal.call("GET", f"/api/v1/clinics/{args.clinic}/slots", params=params):
        print(f"{local_time(slot['start'])}  {slot['doctor_code']:<18} {slot['doctor_name']} (каб. {slot['room']})")


def _submit(args: argparse.Namespace, portal: Portal, _url: str) -> None:
    """Prepare, sign the exact document with the key file here, send; with --wait, follow it."""
    fields = parse_fields(args.field)
    body = {"service": args.service, "fields": fields, **({"clinic_bin": args.clinic} if args.clinic else {})}
    prepared = portal.call("POST", "/api/v1/requests/prepare", json=body)
    key, chain = load_key(args.key, args.key_password, args.chain)
    jws = sign_compact(prepared["document"].encode(), key, chain)
    request = portal.call("POST", f"/api/v1/requests/{prepared['draft_id']}/sign", json={"jws": jws})
    save_session({**load_session(), "last_request": request["id"]})
    show(wait_for(portal, request["id"], args.wait) if args.wait else request)


def _requests(_args: argparse.Namespace, portal: Portal, _url: str) -> None:
    for request in portal.call("GET", "/api/v1/requests"):
        number = request["registration_number"] or "—"
        print(
            f"{request['id']}  {request['service']:<18} {request['status']:<10} {number:<18} "
            f"срок {local_time(request['deadline'])}  cid {request['correlation_id']}"
        )


def _result(args: argparse.Namespace, portal: Portal, _url: str) -> int:
    """The clinic-signed result; with --verify, its signature checked by the signature service."""
    result = portal.call("GET", f"/api/v1/requests/{args.request_id}/result")
    show(result["document"])
    if not args.verify:
        return 0
    verdict = httpx.post(
        f"{args.signature}/api/v1/verify",
        json={"jws": result["jws"], "expected_bin": result["document"]["clinic"]["bin"]},
        timeout=30,
    ).json()
    signer = verdict.get("signer") or {}
    print(
        f"signature: {'VALID' if verdict['valid'] else 'INVALID ' + str(verdict['code'])}"
        f" — {signer.get('organization')} (БИН {signer.get('bin')})"
    )
    return 0 if verdict["valid"] else 3


def _survey(args: argparse.Namespace, portal: Portal, _url: str) -> None:
    body = {"process_and_result": args.quality, "information": args.information}
    portal.call("POST", f"/api/v1/requests/{args.request_id}/survey", json=body)
    print("thank you: answers recorded")


COMMANDS: dict[str, Command] = {
    "register": _register,
    "login": _login,
    "logout": _logout,
    "me": lambda _args, portal, _url: show(portal.call("GET", "/api/v1/me")),
    "services": _services,
    "clinics": _clinics,
    "slots": _slots,
    "submit": _submit,
    "requests": _requests,
    "status": lambda args, portal, _url: show(wait_for(portal, args.request_id, args.wait)),
    "result": _result,
    "survey": _survey,
    "retry": lambda args, portal, _url: show(portal.call("POST", f"/api/v1/requests/{args.request_id}/retry")),
}


def run(args: argparse.Namespace, portal: Portal, url: str) -> int:
    """Run one command; its exit status (0 unless it says otherwise)."""
    if getattr(args, "request_id", None) == "last":
        args.request_id = load_session().get("last_request")
        if not args.request_id:
            raise CliError("no request submitted from this session yet; give a request id")
    return COMMANDS[args.command](args, portal, url) or 0


main = run_quietly(_main)

if __name__ == "__main__":
    raise SystemExit(main())
