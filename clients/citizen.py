"""``emhana`` — the citizen's command-line client for the portal, doing what a REST client would.

    emhana register --iin 871205300017
    emhana login --iin 871205300017
    emhana services
    emhana submit home_call --key var/pki/issued/citizen-871205300017.p12 \\
        --field address="г. Астана, ул. Сейфуллина 10, кв 5" --field phone=+77011234567 --field complaints="температура"
    emhana status <request-id> --wait 30
    emhana result <request-id> --verify
    emhana requests --json          # any command: the API's JSON instead of tables, for scripts

Exit status: 0 done, 1 an error answer, 2 the portal cannot be reached, 3 a result whose signature does not
verify, 4 the request was refused, 5 it failed technically (``retry``), 6 still no outcome after ``--wait``.

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

from clients.common import (
    FAILED_EXIT,
    PENDING_EXIT,
    REFUSED_EXIT,
    CliError,
    JsonClient,
    Output,
    SessionFile,
    document_lines,
    json_option,
    load_key,
    parse_fields,
    run_quietly,
    when,
)
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
    add = json_option(parser)
    register = add(
        "register",
        help="create your account, or set a new password, by signing the portal's challenge with your key (ЭЦП)",
    )
    register.add_argument("--key", type=Path, required=True, help="your key file: PKCS#12 (RSA or GOST) or PEM")
    register.add_argument("--key-password", default=os.environ.get("EMHANA_KEY_PASSWORD", "emhana"))
    register.add_argument("--chain", type=Path, help="PEM chain for a PEM key (default: <name>.pem)")
    register.add_argument("--password", help="the account's password: or EMHANA_PASSWORD, or asked")
    login = add("login", help="log in (ИИН + password)")
    login.add_argument("--iin", required=True)
    login.add_argument("--password", help="or EMHANA_PASSWORD, or asked")
    add("logout", help="end this session (the token stops working)")
    add("me", help="who you are and your clinic")
    add("services", help="the catalogue with each form's fields")
    add("clinics", help="clinics with their districts and doctors")
    slots = add("slots", help="free slots of a clinic")
    slots.add_argument("--clinic", required=True)
    slots.add_argument("--doctor")
    slots.add_argument("--days", type=int, default=7)
    submit = add("submit", help="prepare, sign locally and submit a request")
    submit.add_argument("service", choices=["home_call", "appointment", "attachment", "appointment_cancel"])
    submit.add_argument("--key", type=Path, required=True, help="PKCS#12 (.p12) or PEM key (.key.pem)")
    submit.add_argument("--key-password", default=os.environ.get("EMHANA_KEY_PASSWORD", "emhana"))
    submit.add_argument("--chain", type=Path, help="PEM chain for a PEM key (default: <name>.pem)")
    submit.add_argument("--clinic", help="БИН of the clinic (default: yours)")
    submit.add_argument("--field", action="append", default=[], metavar="NAME=VALUE")
    submit.add_argument("--wait", type=float, default=0, help="then poll up to this many seconds for the outcome")
    submit.add_argument(
        "--first-free", action="store_true", help="appointment: the doctor's (--field doctor_code=…) first free time"
    )
    cancel = add("cancel", help="cancel a booked appointment (default: your last submitted request)")
    cancel.add_argument("request_id", nargs="?", default="last", help="the appointment's request id")
    cancel.add_argument("--key", type=Path, required=True, help="PKCS#12 (.p12) or PEM key (.key.pem)")
    cancel.add_argument("--key-password", default=os.environ.get("EMHANA_KEY_PASSWORD", "emhana"))
    cancel.add_argument("--chain", type=Path, help="PEM chain for a PEM key (default: <name>.pem)")
    cancel.add_argument("--wait", type=float, default=30, help="poll up to this many seconds for the outcome")
    add("requests", help="your requests")
    status = add("status", help="a request with its history")
    status.add_argument("request_id", nargs="?", default="last", help="default: your last submitted request")
    status.add_argument("--wait", type=float, default=0, help="poll up to this many seconds for a final status")
    result = add("result", help="the clinic-signed result")
    result.add_argument("request_id", nargs="?", default="last", help="default: your last submitted request")
    result.add_argument("--verify", action="store_true", help="check it with the signature service")
    result.add_argument("--signature", default=DEFAULT_SIGNATURE)
    survey = add("survey", help="answer the quality questionnaire (Приложение 3) for a request")
    survey.add_argument("request_id", nargs="?", default="last")
    survey.add_argument("--quality", type=int, choices=[1, 2, 3], required=True, help="process and result")
    survey.add_argument("--information", type=int, choices=[1, 2, 3], required=True)
    retry = add("retry", help="send a failed request again")
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
        print(f"{when(request['updated_at'])}  {request['status']}…", file=sys.stderr)  # progress
        wait = round(min(20.0, max(0.0, deadline - time.monotonic())), 1)
        request = portal.call("GET", f"/api/v1/requests/{request_id}", params={"wait": wait, "seen": request["status"]})
    return request


Command = Callable[[argparse.Namespace, Portal, str, Output], int | None]


def outcome_exit(request: dict[str, Any], waited: bool) -> int:
    """The exit status a request's state gives a script: refused 4, failed 5, still waiting after --wait 6."""
    if request["status"] == "refused":
        return REFUSED_EXIT
    if request["status"] == "failed":
        return FAILED_EXIT
    return PENDING_EXIT if waited and request["status"] == "submitted" else 0


def request_lines(request: dict[str, Any]) -> list[str]:
    """A request in a few lines: what, its number and status, what the clinic said, until when."""
    number = request["registration_number"] or "—"
    lines = [f"{request['service']}  № {number}  {request['status']}  (request {request['id']})"]
    if request.get("refusal"):
        lines.append(f"  refused: {request['refusal']['code']} — {request['refusal']['message']}")
    if request.get("note"):
        lines.append(f"  {request['note']}")
    lines.append(f"  submitted {when(request['submitted_at'])}, deadline {when(request['deadline'])} (Astana time)")
    return lines


def _register(args: argparse.Namespace, portal: Portal, url: str, out: Output) -> None:
    """Registration proven by ЭЦП: the ИИН is the key's certificate's; the session starts at once."""
    key, chain = load_key(args.key, args.key_password, args.chain)
    password = password_of(args)
    challenge = portal.call("POST", "/api/v1/auth/challenge")
    signature = sign_compact(challenge["document"].encode(), key, chain)
    body = {"challenge": challenge["challenge"], "jws": signature, "password": password}
    registered = portal.call("POST", "/api/v1/auth/register", json=body)
    save_session({"portal": url, "token": registered.pop("access_token")})
    registered.pop("token_type", None)
    done = "registered" if registered["created"] else "new password set (other sessions ended)"
    out.data(
        registered,
        f"{done}: {registered['surname']} {registered['name']}, ИИН {registered['iin']}",
        f"logged in until {when(registered['expires_at'])}",
    )


def _login(args: argparse.Namespace, portal: Portal, url: str, out: Output) -> None:
    token = portal.call("POST", "/api/v1/auth/login", json={"iin": args.iin, "password": password_of(args)})
    save_session({"portal": url, "token": token["access_token"]})
    out.data({"expires_at": token["expires_at"]}, f"logged in until {when(token['expires_at'])}")


def _logout(_args: argparse.Namespace, portal: Portal, url: str, out: Output) -> None:
    portal.call("POST", "/api/v1/auth/logout")
    save_session({"portal": url})
    out.data({"logged_out": True}, "logged out")


def _me(_args: argparse.Namespace, portal: Portal, _url: str, out: Output) -> None:
    me = portal.call("GET", "/api/v1/me")
    attachment = me["attachment"]
    clinic = (
        f"attached to {attachment.get('clinic_name') or attachment['clinic_bin']} (БИН {attachment['clinic_bin']})"
        if attachment
        else "attached to no clinic"
    )
    out.data(me, f"{me['surname']} {me['name']}, ИИН {me['iin']}", clinic)


def _services(_args: argparse.Namespace, portal: Portal, _url: str, out: Output) -> None:
    services = portal.call("GET", "/api/v1/services")
    if out.as_json:
        out.data(services)
        return
    for service in services:
        fields = service["form_schema"].get("properties", {})
        required = set(service["form_schema"].get("required", []))
        print(
            f"{service['code']}: {service['title']} (срок: {service['deadline']}; справки: {service['contact_centre']})"
        )
        for name, spec in fields.items():
            print(f"    --field {name}=…{' (обязательно)' if name in required else ''}  {field_hint(name, spec)}")


# What each form field takes, in the portal's language (the schemas' descriptions are for integrators).
FIELD_HINTS = {
    "patient_iin": "ИИН пациента, если это не вы (ваш ребёнок до 18 лет)",
    "address": "адрес, куда прийти врачу (5–200 знаков)",
    "phone": "телефон: +7 и 10 цифр, например +77011234567",
    "complaints": "жалобы своими словами (3–500 знаков)",
    "temperature": "температура, °C, если измеряли (34–43)",
    "doctor_code": "код врача (emhana clinics)",
    "slot_start": "начало приёма, например 2026-12-09T10:00:00+05:00 (emhana slots), или --first-free",
    "documents": "приложенные документы (загружаются отдельно, до трёх)",
    "registration_number": "номер записи (emhana requests), или: emhana cancel",
    "reason": "voluntary — по своему выбору (раз в год) | residence_change — смена места жительства",
    "new_address": "новый адрес, при смене места жительства",
}


def field_hint(name: str, spec: dict[str, Any]) -> str:
    """What a form field takes: its hint here, else its schema's description and format."""
    if name in FIELD_HINTS:
        return FIELD_HINTS[name]
    hint = spec.get("description", "")
    if "enum" in spec:
        hint = f"{hint} ({' | '.join(map(str, spec['enum']))})".strip()
    elif "pattern" in spec and not hint:
        hint = f"по образцу {spec['pattern']}"
    elif spec.get("format") == "date-time":
        hint = f"{hint} (YYYY-MM-DDTHH:MM+05:00)".strip()
    return hint


def _clinics(_args: argparse.Namespace, portal: Portal, _url: str, out: Output) -> None:
    clinics = portal.call("GET", "/api/v1/clinics")
    if out.as_json:
        out.data(clinics)
        return
    for clinic in clinics:
        accepting = "принимает" if clinic["accepting"] else "не принимает"
        print(f"{clinic['bin']}  {clinic['short_name']:<18} {clinic['district']:<9} {accepting}")
        for doctor in clinic["doctors"]:
            print(f"      {doctor['code']:<18} {doctor['name']} — {doctor['specialty']}, каб. {doctor['room']}")


def free_slots(portal: Portal, clinic: str, doctor: str | None, days: int) -> list[dict[str, Any]]:
    params = {"days": days, **({"doctor_code": doctor} if doctor else {})}
    slots: list[dict[str, Any]] = portal.call("GET", f"/api/v1/clinics/{clinic}/slots", params=params)
    return slots


def _slots(args: argparse.Namespace, portal: Portal, _url: str, out: Output) -> None:
    slots = free_slots(portal, args.clinic, args.doctor, args.days)
    columns = [
        ("start", lambda s: s["start"]),
        ("time", lambda s: when(s["start"])),
        ("doctor", lambda s: s["doctor_code"]),
        ("name", lambda s: s["doctor_name"]),
        ("room", lambda s: s["room"]),
    ]
    out.table(slots, slots, columns, empty="no free slots")


def _submit(args: argparse.Namespace, portal: Portal, _url: str, out: Output) -> int:
    """Prepare, sign the exact document with the key file here, send; with --wait, follow it."""
    fields = parse_fields(args.field)
    if args.first_free:
        fields["slot_start"] = first_free(portal, args.clinic, fields.get("doctor_code"))
    return submit(portal, args, args.service, fields, out)


def first_free(portal: Portal, clinic: str | None, doctor: str | None) -> str:
    """The doctor's first free time at the clinic (yours by default), as the form wants it."""
    if not doctor:
        raise CliError("--first-free needs the doctor: --field doctor_code=…")
    if clinic is None:
        attachment = portal.call("GET", "/api/v1/me")["attachment"]
        if not attachment:
            raise CliError("you are attached to no clinic: give --clinic")
        clinic = attachment["clinic_bin"]
    slots = free_slots(portal, clinic, doctor, 14)
    if not slots:
        raise CliError(f"{doctor} has no free time in the next 14 days")
    start: str = slots[0]["start"]
    print(f"first free time: {when(start)} with {slots[0]['doctor_name']}", file=sys.stderr)
    return start


def submit(portal: Portal, args: argparse.Namespace, service: str, fields: dict[str, Any], out: Output) -> int:
    body = {
        "service": service,
        "fields": fields,
        **({"clinic_bin": args.clinic} if getattr(args, "clinic", None) else {}),
    }
    prepared = portal.call("POST", "/api/v1/requests/prepare", json=body)
    key, chain = load_key(args.key, args.key_password, args.chain)
    jws = sign_compact(prepared["document"].encode(), key, chain)
    request = portal.call("POST", f"/api/v1/requests/{prepared['draft_id']}/sign", json={"jws": jws})
    save_session({**load_session(), "last_request": request["id"]})
    if args.wait:
        request = wait_for(portal, request["id"], args.wait)
    out.data(request, *request_lines(request))
    return outcome_exit(request, bool(args.wait))


def _cancel(args: argparse.Namespace, portal: Portal, _url: str, out: Output) -> int:
    """Cancel the booking of an appointment request (it frees the slot; the appointment reads cancelled)."""
    appointment = portal.call("GET", f"/api/v1/requests/{args.request_id}")
    if appointment["service"] != "appointment" or not appointment["registration_number"]:
        raise CliError(f"request {args.request_id} is not a booked appointment")
    args.clinic = appointment["clinic_bin"]
    return submit(portal, args, "appointment_cancel", {"registration_number": appointment["registration_number"]}, out)


def _requests(_args: argparse.Namespace, portal: Portal, _url: str, out: Output) -> None:
    requests = portal.call("GET", "/api/v1/requests")
    names = {} if out.as_json else {c["bin"]: c["short_name"] for c in portal.call("GET", "/api/v1/clinics")}
    columns = [
        ("submitted", lambda r: when(r["submitted_at"])),
        ("service", lambda r: r["service"]),
        ("clinic", lambda r: names.get(r["clinic_bin"], r["clinic_bin"])),
        ("status", lambda r: r["status"]),
        ("number", lambda r: r["registration_number"]),
        ("deadline", lambda r: when(r["deadline"])),
        ("request", lambda r: r["id"]),
    ]
    out.table(requests, requests, columns, empty="no requests yet")


def _status(args: argparse.Namespace, portal: Portal, _url: str, out: Output) -> int:
    request = wait_for(portal, args.request_id, args.wait)
    history = [
        f"  {when(e['at'])}  {e['status']}{'  ' + e['detail'] if e.get('detail') else ''}" for e in request["history"]
    ]
    out.data(request, *request_lines(request), "history:", *history)
    return outcome_exit(request, bool(args.wait))


def _result(args: argparse.Namespace, portal: Portal, _url: str, out: Output) -> int:
    """The clinic-signed result; with --verify, its signature checked by the signature service."""
    result = portal.call("GET", f"/api/v1/requests/{args.request_id}/result")
    document = result["document"]
    out.data(document, *document_lines(document))
    if not args.verify:
        return 0
    verdict = httpx.post(
        f"{args.signature}/api/v1/verify",
        json={"jws": result["jws"], "expected_bin": document["clinic"]["bin"]},
        timeout=30,
    ).json()
    signer = verdict.get("signer") or {}
    print(
        f"signature: {'VALID' if verdict['valid'] else 'INVALID ' + str(verdict['code'])}"
        f" — {signer.get('organization')} (БИН {signer.get('bin')})",
        file=sys.stderr if out.as_json else sys.stdout,
    )
    return 0 if verdict["valid"] else 3


def _survey(args: argparse.Namespace, portal: Portal, _url: str, out: Output) -> None:
    body = {"process_and_result": args.quality, "information": args.information}
    portal.call("POST", f"/api/v1/requests/{args.request_id}/survey", json=body)
    out.data({"recorded": True}, "thank you: answers recorded")


def _retry(args: argparse.Namespace, portal: Portal, _url: str, out: Output) -> None:
    request = portal.call("POST", f"/api/v1/requests/{args.request_id}/retry")
    out.data(request, *request_lines(request))


COMMANDS: dict[str, Command] = {
    "register": _register,
    "login": _login,
    "logout": _logout,
    "me": _me,
    "services": _services,
    "clinics": _clinics,
    "slots": _slots,
    "submit": _submit,
    "cancel": _cancel,
    "requests": _requests,
    "status": _status,
    "result": _result,
    "survey": _survey,
    "retry": _retry,
}


def run(args: argparse.Namespace, portal: Portal, url: str) -> int:
    """Run one command; its exit status (0 unless it says otherwise)."""
    if getattr(args, "request_id", None) == "last":
        args.request_id = load_session().get("last_request")
        if not args.request_id:
            raise CliError("no request submitted from this session yet; give a request id")
    return COMMANDS[args.command](args, portal, url, Output(args.json)) or 0


main = run_quietly(_main)

if __name__ == "__main__":
    raise SystemExit(main())
