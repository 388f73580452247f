"""The fault tests' tally: what became of the requests accepted while a service or the broker failed.

Each fault test records one row; the run prints them as one table at its end (tests/conftest.py,
``pytest_terminal_summary``), the picture an outside review draws by hand.
"""

from __future__ import annotations

import asyncio
import zoneinfo
from collections import Counter
from dataclasses import dataclass, field

from tests.e2e.citizens import ApiFailure, Citizen
from tests.e2e.staff import StaffClient, member
from tests.e2e.test_eservices import CLINIC_4, HOME_CALL
from tests.waiting import until
from tools.launcher import Mesh

ASTANA = zoneinfo.ZoneInfo("Asia/Almaty")
COLUMNS = ("accepted", "completed", "refused", "failed", "lost", "stuck", "duplicated")
FINAL = {"completed", "refused", "failed"}


@dataclass
class Tally:
    fault: str
    counts: Counter[str] = field(default_factory=Counter)

    def row(self) -> str:
        return f"{self.fault:<36}" + "".join(f"{self.counts[c]:>11}" for c in COLUMNS)


TALLIES: list[Tally] = []


def table() -> list[str]:
    """The recorded tallies as lines of a table (empty when no fault test ran)."""
    if not TALLIES:
        return []
    return [f"{'fault':<36}" + "".join(f"{c:>11}" for c in COLUMNS), *(t.row() for t in TALLIES)]


async def submit(citizen: Citizen) -> dict | None:
    """A submission as a browser would make it; None when the portal did not accept it (it was down)."""
    try:
        return await citizen.submit("home_call", **HOME_CALL)
    except (ApiFailure, OSError, TimeoutError):
        return None
    except Exception as exc:  # httpx transport errors while the portal is being killed
        if type(exc).__module__.startswith("httpx"):
            return None
        raise


async def final_status(citizen: Citizen, request_id: str, seconds: float = 120) -> str | None:
    """The request's outcome, or None when it has none within ``seconds``."""

    async def outcome() -> str | None:
        request = await citizen.call("GET", f"/api/v1/requests/{request_id}")
        return request["status"] if request["status"] in FINAL else None

    try:
        return await until(outcome, seconds, "an outcome", ignoring=(ApiFailure,))
    except AssertionError:
        return None


async def tally(fault: str, mesh: Mesh, ca, clock, crowd: list[Citizen], submitted: list[dict | None]) -> Tally:  # type: ignore[no-untyped-def]
    """Count what became of each accepted request: its outcome at the portal; without one, ``stuck`` when
    the clinic registered it (the answer never came back) and ``lost`` when not even that; ``duplicated``
    when the clinic registered one twice. Recorded for the run's table."""
    accepted = [(c, r) for c, r in zip(crowd, submitted, strict=True) if r is not None]
    outcomes = await asyncio.gather(*(final_status(c, r["id"]) for c, r in accepted))
    ours = {c.iin for c, _ in accepted}
    registered: Counter[str] = Counter()
    registrar = await StaffClient(member(CLINIC_4), mesh, ca).login()
    try:
        today, page = clock.now().astimezone(ASTANA).date().isoformat(), 1
        while True:  # the whole day's journal, page by page
            journal = await registrar.journal("home_calls", day=today, page=page)
            registered.update(item["patient_iin"] for item in journal["items"] if item["patient_iin"] in ours)
            if page * journal["size"] >= journal["total"]:
                break
            page += 1
    finally:
        await registrar.close()
    backend = "postgres" if "EMHANA_PORTAL_DATABASE_URL" in mesh.env else "sqlite"
    result = Tally(f"{fault} ({backend})", Counter({c: 0 for c in COLUMNS}))
    result.counts["accepted"] = len(accepted)
    for (citizen, _), outcome in zip(accepted, outcomes, strict=True):
        result.counts[outcome or ("stuck" if registered[citizen.iin] else "lost")] += 1
    result.counts["duplicated"] = sum(n - 1 for n in registered.values())
    TALLIES.append(result)
    return result
