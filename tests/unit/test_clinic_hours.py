"""Clinic working hours from one source: the portal counts a citizen's deadline in the hours the АРМ holds
for the clinic (clinics.list), not in its own copy of the seed file, once the АРМ has answered."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from services.portal.config import PortalSettings
from services.portal.models import Base
from services.portal.service import PortalService
from shared.platform.db import Database
from shared.rules.clinics import load_clinics
from shared.wire.clock import ASTANA, Clock
from shared.wire.contracts import CLINICS_LIST, ServiceKind


async def test_the_portal_takes_the_clinics_hours_from_the_arm(tmp_path: Path) -> None:
    db = Database(f"sqlite+aiosqlite:///{tmp_path / 'portal.db'}")
    await db.create_all(Base.metadata)
    portal = PortalService(PortalSettings(), db, Clock(), client=None, store=None)  # type: ignore[arg-type]
    clinic = load_clinics().clinics[0]
    tuesday_evening = dt.datetime(2026, 12, 8, 18, 45, tzinfo=ASTANA)  # a working Tuesday
    from_file = portal.deadline(ServiceKind.HOME_CALL, tuesday_evening, clinic.bin)

    asked: list[str] = []

    async def arm(recipient: str, type: str, payload: dict[str, Any]) -> dict[str, Any]:
        asked.append(type)
        held = {
            "bin": clinic.bin,
            "name": clinic.name,
            "short_name": clinic.short_name,
            "district": clinic.district,
            "address": clinic.address,
            "phone": clinic.phone,
            "fsms_contract": True,
            "accepting": True,
            "hours": {str(day): ["08:00", "19:00"] for day in range(1, 6)},  # the АРМ's own: closes at 19:00
            "timezone": "Asia/Almaty",
            "doctors": [],
        }
        return {"clinics": [held]}

    portal.ask = arm  # type: ignore[method-assign]
    assert await portal.refresh_clinic_hours() == 1 and asked == [CLINICS_LIST]
    held = portal.deadline(ServiceKind.HOME_CALL, tuesday_evening, clinic.bin)
    assert held == dt.datetime(2026, 12, 9, 8, 15, tzinfo=ASTANA)  # 15 minutes today, 15 from Wednesday's opening
    assert held != from_file  # the file says the clinic is open until 20:00
    await db.close()
