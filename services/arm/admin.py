"""Staff accounts made by an operator: a clinic's first head, and anyone else the clinic names.

    python -m services.arm.admin add-staff --clinic 150140012347 --iin 750110490005 \\
        --surname Ахметова --name Айгуль --role head
    python -m services.arm.admin add-staff … --password-file /run/secrets/first-head-password
    python -m services.arm.admin reset-password --iin 750110490005

The password comes from the terminal (asked twice, never echoed) or from a secret file (its first line),
never from the command line, where other users and the shell history would see it. The account must
choose its own password at its first log-in: until then the АРМ answers 403 PASSWORD_CHANGE_REQUIRED to
everything but ``POST /api/v1/staff/auth/password`` (the pages send it to ``/password``). The АРМ's
database is the one its settings name (``EMHANA_ARM_DATABASE_URL``); the clinic must be one of its clinics.
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import sys
from pathlib import Path

from sqlalchemy import update

from services.arm.config import ArmSettings
from services.arm.models import Base, Clinic, Doctor, Staff, StaffToken
from services.arm.roles import StaffRole
from shared.platform import auth, migrate
from shared.platform.db import Database, rows_affected
from shared.rules.errors import RuleBroken
from shared.wire.clock import Clock
from shared.wire.ids import InvalidIdentifier, parse_iin


class AdminError(Exception):
    """What the operator is told on stderr (exit status 2)."""


def read_password(password_file: Path | None, iin: str, min_length: int) -> str:
    """The initial password from a secret file or the terminal, held to the staff password policy."""
    if password_file is not None:
        lines = password_file.read_text(encoding="utf-8").splitlines()
        password = lines[0] if lines else ""
    else:
        if not sys.stdin.isatty():
            raise AdminError("no terminal to ask the password at: give --password-file")
        password = getpass.getpass("Initial password: ")
        if getpass.getpass("Again: ") != password:
            raise AdminError("the two passwords differ")
    try:
        auth.check_password_policy(password, iin, min_length, 1024)
    except RuleBroken as exc:
        raise AdminError(str(exc)) from None
    return password


async def add_staff(db: Database, args: argparse.Namespace, password: str) -> None:
    password_hash = await auth.hash_password(password)
    async with db.transaction() as session:
        if await session.get(Clinic, args.clinic) is None:
            raise AdminError(f"no clinic {args.clinic} in this АРМ (it seeds its clinics at its first start)")
        if args.doctor_code:
            doctor = await session.get(Doctor, args.doctor_code)
            if doctor is None or doctor.clinic_bin != args.clinic:
                raise AdminError(f"no doctor {args.doctor_code} in clinic {args.clinic}")
        if await session.get(Staff, args.iin) is not None:
            raise AdminError("a staff account with this ИИН exists (reset-password sets a new initial password)")
        session.add(
            Staff(
                iin=args.iin,
                clinic_bin=args.clinic,
                surname=args.surname,
                name=args.name,
                role=args.role,
                doctor_code=args.doctor_code,
                password_hash=password_hash,
                active=True,
                must_change_password=True,
            )
        )


async def reset_password(db: Database, iin: str, password: str, clock: Clock) -> None:
    password_hash = await auth.hash_password(password)
    async with db.transaction() as session:
        changed = await session.execute(
            update(Staff).where(Staff.iin == iin).values(password_hash=password_hash, must_change_password=True)
        )
        if rows_affected(changed) != 1:
            raise AdminError("no staff account with this ИИН")
        await session.execute(
            update(StaffToken)
            .where(StaffToken.iin == iin, StaffToken.revoked_at.is_(None))
            .values(revoked_at=clock.now())
        )


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(prog="python -m services.arm.admin", description=__doc__.splitlines()[0])
    sub = root.add_subparsers(dest="command", required=True)
    add = sub.add_parser("add-staff", help="a staff member's account, with an initial password to change")
    add.add_argument("--clinic", required=True, help="the clinic's БИН")
    add.add_argument("--iin", required=True)
    add.add_argument("--surname", required=True)
    add.add_argument("--name", required=True)
    add.add_argument("--role", required=True, choices=[role.value for role in StaffRole])
    add.add_argument("--doctor-code", help="the doctor's schedule (role doctor)")
    add.add_argument("--password-file", type=Path, help="a secret file whose first line is the initial password")
    reset = sub.add_parser("reset-password", help="a new initial password (to change at the next log-in)")
    reset.add_argument("--iin", required=True)
    reset.add_argument("--password-file", type=Path)
    return root


async def run(args: argparse.Namespace, settings: ArmSettings) -> str:
    try:
        parse_iin(args.iin)
    except InvalidIdentifier as exc:
        raise AdminError(f"ИИН: {exc.detail}") from None
    password = read_password(args.password_file, args.iin, settings.staff_password_min_length)
    db = Database(settings.db_url)
    try:
        await migrate.upgrade(db, "arm", Base.metadata)
        if args.command == "add-staff":
            await add_staff(db, args, password)
            who = f"{args.role} {args.surname} {args.name} of {args.clinic}"
            return f"{who}: account made; the password must be changed at the first log-in"
        await reset_password(db, args.iin, password, Clock(settings.clock_offset_seconds))
        return "new initial password set; sessions ended; it must be changed at the next log-in"
    finally:
        await db.close()


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        print(asyncio.run(run(args, ArmSettings())))
    except AdminError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
