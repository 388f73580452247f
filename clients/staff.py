"""``emhana-staff`` — a clinic staff member's command-line client for the АРМ (regulation, diagram 2).

    emhana-staff login --iin 750110490005
    emhana-staff person 980602300015 --reason "приём в регистратуре"
    emhana-staff file home_call --iin 980602300015 --key var/pki/issued/staff-750110490005.p12 \\
        --field address="г. Астана, ул. Сейфуллина 10, кв 5" --field phone=+77011234567 --field complaints="температура"
    emhana-staff journal home-calls
    emhana-staff mark home-call 2347-2026-000001 visited
    emhana-staff absence d1-therapist-2 2026-12-01 --reason "больничный лист"

The session is kept in ``~/.emhana/staff-session.json`` (mode 0600; ``EMHANA_STAFF_SESSION`` names
another file). Documents are signed locally with the staff member's own key, which never leaves here.
"""

from __future__ import annotations

import argparse
import getpass
import os
import sys
from pathlib import Path

import httpx

from clients.common import CliError, JsonClient, SessionFile, load_key, local_time, parse_fields, run_quietly, show
from shared.wire.jws import sign_compact

DEFAULT_ARM = os.environ.get("EMHANA_ARM_URL", "http://127.0.0.1:8103")
SESSION = SessionFile("EMHANA_STAFF_SESSION", "staff-session.json")


def _main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="emhana-staff", description="Clinic staff client of the Emhana АРМ.")
    parser.add_argument("--arm", default=None, help=f"АРМ URL (default {DEFAULT_ARM})")
    sub = parser.add_subparsers(dest="command", required=True)
    login = sub.add_parser("login", help="process 1: ИИН and password")
    login.add_argument("--iin", required=True)
    login.add_argument("--password", help="or EMHANA_PASSWORD, or asked")
    sub.add_parser("logout", help="end this session (the token stops working)")
    sub.add_parser("me", help="who you are: name, role, clinic")
    person = sub.add_parser("person", help="processes 3–4: the citizen in ГБД ФЛ and their attachment")
    person.add_argument("iin")
    person.add_argument("--reason", required=True, help="why the citizen is looked up (journaled)")
    file = sub.add_parser("file", help="processes 2 and 5–8: fill the form, sign it locally, register it")
    file.add_argument("service", choices=["home_call", "appointment", "appointment_cancel", "attachment"])
    file.add_argument("--iin", required=True, help="the citizen the request is for")
    file.add_argument("--key", type=Path, required=True, help="your employee key (.p12, or .key.pem + .pem)")
    file.add_argument("--key-password", default=os.environ.get("EMHANA_KEY_PASSWORD", "emhana"))
    file.add_argument("--chain", type=Path)
    file.add_argument("--field", action="append", default=[], metavar="NAME=VALUE")
    journal = sub.add_parser("journal", help="a day's journal")
    journal.add_argument("kind", choices=["home-calls", "appointments"])
    journal.add_argument("--day", help="YYYY-MM-DD (default today)")
    journal.add_argument("--doctor", help="home calls: the doctor's name; appointments: the doctor's code")
    journal.add_argument("--status", help="home calls: assigned|visited|cancelled; appointments: booked|…")
    journal.add_argument("--page", type=int, default=1)
    register = sub.add_parser("attachments", help="the attachment register")
    register.add_argument("--state", choices=["open", "closed", "all"], default="open")
    register.add_argument("--page", type=int, default=1)
    mark = sub.add_parser("mark", help="record what happened")
    mark.add_argument("kind", choices=["home-call", "appointment"])
    mark.add_argument("number")
    mark.add_argument("action", choices=["assign", "visited", "cancel", "arrived", "fulfilled", "no_show"])
    mark.add_argument("--doctor")
    mark.add_argument("--note", help="the reason (required to cancel)")
    absence = sub.add_parser("absence", help="a doctor's absence: the day's bookings are cancelled")
    absence.add_argument("doctor_code")
    absence.add_argument("day")
    absence.add_argument("--reason", required=True)
    sub.add_parser("overdue", help="the clinic's overdue list")
    slip = sub.add_parser("slip", help="the printable slip of an attachment (PDF)")
    slip.add_argument("number")
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
    staff = "/api/v1/staff"
    if args.command == "login":
        password = args.password or os.environ.get("EMHANA_PASSWORD") or getpass.getpass("Password: ")
        token = arm.call("POST", f"{staff}/auth/login", json={"iin": args.iin, "password": password})
        SESSION.save({"arm": url, "token": token["access_token"]})
        who = token["staff"]
        print(
            f"{who['surname']} {who['name']}, {who['role']} of {who['clinic_bin']}; "
            f"until {local_time(token['expires_at'])}"
        )
    elif args.command == "logout":
        arm.call("POST", f"{staff}/auth/logout")
        SESSION.save({"arm": url})
        print("logged out")
    elif args.command == "me":
        show(arm.call("GET", f"{staff}/me"))
    elif args.command == "person":
        show(arm.call("GET", f"{staff}/persons/{args.iin}", params={"reason": args.reason}))
    elif args.command == "file":
        body = {"service": args.service, "iin": args.iin, "fields": parse_fields(args.field)}
        prepared = arm.call("POST", f"{staff}/requests/prepare", json=body)
        key, chain = load_key(args.key, args.key_password, args.chain)
        jws = sign_compact(prepared["document"].encode(), key, chain)
        filed = arm.call("POST", f"{staff}/requests/{prepared['draft_id']}/sign", json={"jws": jws})
        show({k: v for k, v in filed.items() if k != "result_jws"})  # the signed result: see the portal
    elif args.command == "journal":
        params: dict[str, str | int] = {"page": args.page}
        if args.day:
            params["day"] = args.day
        if args.doctor:
            params["doctor" if args.kind == "home-calls" else "doctor_code"] = args.doctor
        if args.status:
            params["status" if args.kind == "home-calls" else "state"] = args.status
        show(arm.call("GET", f"{staff}/journal/{args.kind}", params=params))
    elif args.command == "attachments":
        show(arm.call("GET", f"{staff}/attachments", params={"state": args.state, "page": args.page}))
    elif args.command == "mark":
        body = {"action": args.action, **({"note": args.note} if args.note else {})}
        if args.doctor:
            body["doctor"] = args.doctor
        path = "home-calls" if args.kind == "home-call" else "appointments"
        show(arm.call("POST", f"{staff}/{path}/{args.number}", json=body))
    elif args.command == "absence":
        body = {"doctor_code": args.doctor_code, "day": args.day, "reason": args.reason}
        show(arm.call("POST", f"{staff}/absences", json=body))
    elif args.command == "overdue":
        show(arm.call("GET", f"{staff}/overdue"))
    elif args.command == "slip":
        response = arm.http.get(f"{staff}/attachments/{args.number}/slip.pdf")
        if response.status_code != 200:
            raise CliError(f"{response.status_code}: {response.text[:200]}")
        args.out.write_bytes(response.content)
        print(f"{args.out} ({len(response.content)} bytes)")
    return 0


main = run_quietly(_main)

if __name__ == "__main__":
    raise SystemExit(main())
