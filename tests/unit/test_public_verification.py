"""The public check behind a QR code answers 404 for any proof that is not one — never a 500 — even for a
registration number that exists; and a typed day too large for a date is a 422 like any other bad day."""

from __future__ import annotations

import datetime as dt
import uuid
from pathlib import Path

import pytest

from services.portal.models import Base, Request
from services.portal.verification import Verification
from shared.platform.db import Database
from shared.rules.errors import NotFound
from shared.web import parse_day

AT = dt.datetime(2026, 12, 8, 11, 0, tzinfo=dt.UTC)


async def test_a_proof_that_is_not_one_is_not_found(tmp_path: Path) -> None:
    db = Database(f"sqlite+aiosqlite:///{tmp_path / 'portal.db'}")
    await db.create_all(Base.metadata)
    async with db.transaction() as session:
        session.add(
            Request(
                id=str(uuid.uuid4()),
                iin="850315300019",
                patient_iin="850315300019",
                service="home_call",
                clinic_bin="980440012347",
                document="a.b.c",
                document_nonce=uuid.uuid4().hex,
                message_id=str(uuid.uuid4()),
                status="completed",
                status_seq=2,
                registration_number="2347-2026-1",
                result="e30.e30.c2ln",
                submitted_at=AT,
                deadline=AT,
                updated_at=AT,
                sent_at=AT,
            )
        )
    check = Verification(db, store=None)  # type: ignore[arg-type]  # never reached: refused before
    for proof in ("жжжжжжжжжжжжжжжж", "0" * 16, "", "ABCDEF0123456789"):
        with pytest.raises(NotFound):
            await check.check("2347-2026-1", proof)
    await db.close()


@pytest.mark.parametrize("typed", ["1.1.99999999999999999999", "99999999999999999999.1.2026", "31.02.2026", "x"])
def test_a_day_that_is_not_one_is_a_value_error(typed: str) -> None:
    with pytest.raises(ValueError):
        parse_day(typed)
