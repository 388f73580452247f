"""``emhana-staff`` — a clinic staff member's command-line client for the АРМ (regulation, diagram 2).

    emhana-staff login --iin 750110490005
    emhana-staff person 980602300015 --reason "приём в регистратуре"
    emhana-staff file home_call --iin 980602300015 --key var/pki/issued/staff-750110490005.p12 \\
        --field address="г. Астана, ул. Сейфуллина 10, кв 5" --field phone=+77011234567 --field complaints="температура"
    emhana-staff journal home-calls
    emhana-staff mark home-call 2347-2026-000001 visited    # or: last (the number you filed last)
    emhana-staff absence d1-therapist-2 2026-12-01 --reason "больничный лист"
    emhana-staff journal home-calls --json                  # any command: the API's JSON, for scripts

Exit status: 0 done, 1 an error answer, 2 the АРМ cannot be reached, 4 the filed request was refused.

The session is kept in ``~/.emhana/staff-session.json`` (mode 0600; ``EMHANA_STAFF_SESSION`` names
another file). Documents are signed locally with the staff member's own key, which never leaves here.
"""

from __future__ import annotations

import argparse
import getpass
import os
import sys
from pathlib import Path
from typing import Any

import httpx

from clients.common import (
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
from shared.wire.jws import sign_compact

DEFAULT_ARM = os.environ.get("EMHANA_ARM_URL", "http://127.0.0.1:8103")
SESSION = SessionFile("EMHANA_STAFF_SESSION", "staff-session.json")


def _main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="emhana-staff", description="Clinic staff client of the Emhana АРМ.")
    parser.add_argument("--arm", default=None, help=f"АРМ URL (default {DEFAULT_ARM})")
    add = json_option(parser)
    login = add("login", help="process 1: ИИН and password")
    login.add_argument("--iin", required=True)
    login.add_argument("--password", help="or EMHANA_PASSWORD, or asked")
    add("logout", help="end this session (the token stops working)")
    add("me", help="who you are: name, role, clinic")
    person = add("person", help="processes 3–4: the citizen in ГБД ФЛ and their attachment")
    person.add_argument("iin")
    person.add_argument("--reason", required=True, help="why the citizen is looked up (journaled)")
    file = add("file", help="processes 2 and 5–8: fill the form, sign it locally, register it")
    file.add_argument("service", choices=["home_call", "appointment", "appointment_cancel", "attachment"])
    file.add_argument("--iin", required=True, help="the citizen the request is for")
    file.add_argument("--key", type=Path, required=True, help="your employee key (.p12, or .key.pem + .pem)")
    file.add_argument("--key-password", default=os.environ.get("EMHANA_KEY_PASSWORD", "emhana"))
    file.add_argument("--chain", type=Path)
    file.add_argument("--field", action="append", default=[], metavar="NAME=VALUE")
    journal = add("journal", help="a day's journal")
    journal.add_argument("kind", choices=["home-calls", "appointments"])
    journal.add_argument("--day", help="YYYY-MM-DD (default today)")
    journal.add_argument("--doctor", help="home calls: the doctor's name; appointments: the doctor's code")
    journal.add_argument("--status", help="home calls: assigned|visited|cancelled; appointments: booked|…")
    journal.add_argument("--page", type=int, default=1)
    register = add("attachments", help="the attachment register")
    register.add_argument("--state", choices=["open", "closed", "all"], default="open")
    register.add_argument("--page", type=int, default=1)
    mark = add("mark", help="record what happened")
    mark.add_argument("kind", choices=["home-call", "appointment"])
    mark.add_argument("number", help="the registration number; last: the one you filed last")
    mark.add_argument("action", choices=["assign", "visited", "cancel", "arrived", "fulfilled", "no_show"])
    mark.add_argument("--doctor")
    mark.add_argument("--note", help="the reason (required to cancel)")
    absence = add("absence", help="a doctor's absence: the day's bookings are cancelled")
    absence.add_argument("doctor_code")
    absence.add_argument("day")
    absence.add_argument("--reason", required=True)
    add("overdue", help="the clinic's overdue list")
    slip = add("slip", help="the printable slip of an attachment (PDF)")
    slip.add_argument("number", help="the attachment's registration number; last: the one you filed last")
    slip.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)

    session = SESSION.load()
    url = args.arm or session.get("arm") or DEFAULT_ARM
    arm = JsonClient(url, session.get("token") if args.command != "login" else None)
    try:
        return run(args, arm, url)
    except CliError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except httpx.HTTPError as exc:
        print(f"error: cannot reach {url}: {exc}", file=sys.stderr)
        return 2


def run(args: argparse.Namespace, arm: JsonClient, url: str) -> int:
    """Run one command; its exit status."""
    out, staff = Output(args.json), "/api/v1/staff"
    if getattr(args, "number", None) == "last":
        args.number = SESSION.load().get("last_number")
        if not args.number:
            raise CliError("nothing filed from this session yet; give the registration number")
    if args.command == "login":
        password = args.password or os.environ.get("EMHANA_PASSWORD") or getpass.getpass("Password: ")
        token = arm.call("POST", f"{staff}/auth/login", json={"iin": args.iin, "password": password})
        SESSION.save({"arm": url, "token": token["access_token"]})
        who = token["staff"]
        out.data(
            {k: v for k, v in token.items() if k != "access_token"},
            f"{who['surname']} {who['name']}, {who['role']} of {who['clinic_bin']}; until {when(token['expires_at'])}",
        )
    elif args.command == "logout":
        arm.call("POST", f"{staff}/auth/logout")
        SESSION.save({"arm": url})
        out.data({"logged_out": True}, "logged out")
    elif args.command == "me":
        me = arm.call("GET", f"{staff}/me")
        out.data(me, f"{me['surname']} {me['name']}, ИИН {me['iin']}, {me['role']} of {me['clinic_bin']}")
    elif args.command == "person":
        found = arm.call("GET", f"{staff}/persons/{args.iin}", params={"reason": args.reason})
        out.data(found, *person_lines(found))
    elif args.command == "file":
        return file(args, arm, out)
    elif args.command == "journal":
        params: dict[str, str | int] = {"page": args.page}
        if args.day:
            params["day"] = args.day
        if args.doctor:
            params["doctor" if args.kind == "home-calls" else "doctor_code"] = args.doctor
        if args.status:
            params["status" if args.kind == "home-calls" else "state"] = args.status
        page = arm.call("GET", f"{staff}/journal/{args.kind}", params=params)
        columns = HOME_CALL_COLUMNS if args.kind == "home-calls" else APPOINTMENT_COLUMNS
        out.table(page, page["items"], columns, empty="no entries")
        if not out.as_json and page["total"] > page["page"] * page["size"]:
            print(f"page {page['page']} of {-(-page['total'] // page['size'])}: --page {page['page'] + 1} for more")
    elif args.command == "attachments":
        page = arm.call("GET", f"{staff}/attachments", params={"state": args.state, "page": args.page})
        out.table(page, page["items"], ATTACHMENT_COLUMNS, empty="no attachments")
    elif args.command == "mark":
        body = {"action": args.action, **({"note": args.note} if args.note else {})}
        if args.doctor:
            body["doctor"] = args.doctor
        path = "home-calls" if args.kind == "home-call" else "appointments"
        marked = arm.call("POST", f"{staff}/{path}/{args.number}", json=body)
        out.data(marked, f"№ {marked['number']}: {marked.get('status') or marked.get('state')}")
    elif args.command == "absence":
        body = {"doctor_code": args.doctor_code, "day": args.day, "reason": args.reason}
        done = arm.call("POST", f"{staff}/absences", json=body)
        cancelled = done["cancelled"]
        out.data(done, f"absence recorded; {len(cancelled)} appointment(s) cancelled: {', '.join(cancelled) or '—'}")
    elif args.command == "overdue":
        found = arm.call("GET", f"{staff}/overdue")
        out.table(found, found["registrations"], OVERDUE_COLUMNS, empty="no overdue requests")
        if not out.as_json and found["home_calls"]:
            print(f"home calls past their visit window: {', '.join(c['number'] for c in found['home_calls'])}")
    elif args.command == "slip":
        response = arm.http.get(f"{staff}/attachments/{args.number}/slip.pdf")
        if response.status_code != 200:
            raise CliError(f"{response.status_code}: {response.text[:200]}")
        args.out.write_bytes(response.content)
        out.data({"file": str(args.out), "bytes": len(response.content)}, f"{args.out} ({len(response.content)} bytes)")
    return 0


def file(args: argparse.Namespace, arm: JsonClient, out: Output) -> int:
    """Processes 2 and 5–8: prepare, sign locally with the employee's key, register; refused: exit 4."""
    staff = "/api/v1/staff"
    body = {"service": args.service, "iin": args.iin, "fields": parse_fields(args.field)}
    prepared = arm.call("POST", f"{staff}/requests/prepare", json=body)
    key, chain = load_key(args.key, args.key_password, args.chain)
    jws = sign_compact(prepared["document"].encode(), key, chain)
    filed = arm.call("POST", f"{staff}/requests/{prepared['draft_id']}/sign", json={"jws": jws})
    if filed["registration_number"]:
        SESSION.save({**SESSION.load(), "last_number": filed["registration_number"]})
    lines = [f"{args.service}  № {filed['registration_number'] or '—'}  {filed['status']}"]
    if filed["refusal"]:
        lines.append(f"  refused: {filed['refusal']['code']} — {filed['refusal']['message']}")
    lines += document_lines(filed["result"] or {}, "  ")
    out.data({k: v for k, v in filed.items() if k != "result_jws"}, *lines)  # the signed result: see the portal
    return REFUSED_EXIT if filed["status"] == "refused" else 0


def day(iso: str) -> str:
    """A date as people read it here: dd.mm.yyyy."""
    return ".".join(reversed(iso.split("-")))


def person_lines(found: dict[str, Any]) -> list[str]:
    person, attachment = found["person"], found["attachment"]
    name = " ".join(filter(None, (person["surname"], person["name"], person.get("patronymic"))))
    address = person["address"]
    lines = [
        f"{name}, ИИН {person['iin']}, born {day(person['birth_date'])}{'' if person['alive'] else ', deceased'}",
        f"  address: {address['city']}, {address['street']}, {address['house']}"
        + (f", кв. {address['apartment']}" if address.get("apartment") else ""),
        "  attached: "
        + (
            f"{attachment.get('clinic_name') or attachment['clinic_bin']} since {when(attachment['since'])}"
            if attachment
            else "nowhere"
        ),
    ]
    if found["parents"]:
        lines.append(f"  parents or guardians: {', '.join(found['parents'])}")
    return lines


HOME_CALL_COLUMNS = [
    ("number", lambda c: c["number"]),
    ("called", lambda c: when(c["called_at"])),
    ("patient", lambda c: c["patient_name"]),
    ("address", lambda c: c["address"]),
    ("doctor", lambda c: c["doctor"]),
    ("visit", lambda c: f"{when(c['visit_from'])}–{when(c['visit_to'])[-5:]}"),
    ("status", lambda c: c["status"]),
]
APPOINTMENT_COLUMNS = [
    ("number", lambda a: a["number"]),
    ("time", lambda a: when(a["slot_start"])),
    ("doctor", lambda a: a["doctor_code"]),
    ("room", lambda a: a["room"]),
    ("patient", lambda a: a["patient_iin"]),
    ("state", lambda a: a["state"]),
    ("note", lambda a: a["note"]),
]
ATTACHMENT_COLUMNS = [
    ("ИИН", lambda a: a["iin"]),
    ("site", lambda a: a["site"]),
    ("since", lambda a: when(a["since"])),
    ("until", lambda a: when(a["until"])),
    ("reason", lambda a: a["reason"]),
    ("left", lambda a: a["left_reason"]),
]
OVERDUE_COLUMNS = [
    ("number", lambda r: r["number"]),
    ("service", lambda r: r["service"]),
    ("channel", lambda r: r["channel"]),
    ("status", lambda r: r["status"]),
    ("deadline", lambda r: when(r["deadline"])),
    ("overdue since", lambda r: when(r["overdue_at"])),
]


main = run_quietly(_main)

if __name__ == "__main__":
    raise SystemExit(main())
