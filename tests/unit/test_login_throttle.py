"""Login throttling on real databases (SQLite and PostgreSQL): attempts are counted atomically before the
password is checked, per ИИН and client, and nobody can lock an owner out from another address."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from services.portal.models import Base, LoginCounter, LoginSuccess
from shared.auth import LoginLimits, Throttle
from shared.db import Database
from shared.http import ApiError
from tests.databases import temporary_database

NOW = dt.datetime(2026, 11, 24, 11, 30, tzinfo=dt.UTC)
VICTIM = "850315300019"
LIMITS = LoginLimits(per_pair=5, per_client=20, per_iin=12, window_seconds=60)


@pytest.fixture(params=["sqlite", "postgres"])
async def db(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Database]:
    async with temporary_database(request.param, tmp_path, Base.metadata) as database:
        yield database


async def attempt(throttle: Throttle, iin: str, client: str, at: dt.datetime = NOW) -> int:
    try:
        await throttle.begin(iin, client, at)
    except ApiError as exc:
        assert exc.code == "TOO_MANY_ATTEMPTS" and exc.headers and int(exc.headers["Retry-After"]) > 0
        return 429
    return 200


async def test_a_burst_of_sixty_guesses_gets_no_more_than_five_checked(db: Database) -> None:
    throttle = Throttle(db, LoginCounter, LoginSuccess, LIMITS)
    outcomes = await asyncio.gather(*(attempt(throttle, VICTIM, "10.0.0.66") for _ in range(60)))
    assert outcomes.count(200) == 5 and outcomes.count(429) == 55
    later = NOW + dt.timedelta(seconds=61)  # the window ends: the lock lifts by itself
    assert await attempt(throttle, VICTIM, "10.0.0.66", later) == 200


async def test_a_guesser_locks_out_themselves_not_the_owner(db: Database) -> None:
    throttle = Throttle(db, LoginCounter, LoginSuccess, LIMITS)
    await throttle.succeeded(VICTIM, "10.0.0.1", NOW - dt.timedelta(days=1))  # the owner's own device
    for _ in range(6):
        await attempt(throttle, VICTIM, "10.0.0.66")
    assert await attempt(throttle, VICTIM, "10.0.0.66") == 429  # the guesser is slowed down…
    assert await attempt(throttle, VICTIM, "10.0.0.1") == 200  # …the owner is not
    # Many guessers for one ИИН reach its ceiling, which still spares the owner's known device.
    for n in range(20):
        await attempt(throttle, VICTIM, f"10.0.1.{n}")
    assert await attempt(throttle, VICTIM, "10.0.2.1") == 429  # a new client meets the ceiling
    assert await attempt(throttle, VICTIM, "10.0.0.1") == 200  # the owner's device does not
    assert await attempt(throttle, "061211600012", "10.0.2.1") == 200  # other people are unaffected


async def test_a_right_password_forgives_that_clients_guesses(db: Database) -> None:
    throttle = Throttle(db, LoginCounter, LoginSuccess, LIMITS)
    for _ in range(4):
        assert await attempt(throttle, VICTIM, "10.0.0.1") == 200
    await throttle.succeeded(VICTIM, "10.0.0.1", NOW)
    for _ in range(5):
        assert await attempt(throttle, VICTIM, "10.0.0.1") == 200


async def test_honest_logins_from_one_busy_client_are_not_throttled(db: Database) -> None:
    """A clinic's shared computer or a NAT: many people logging in successfully from one address."""
    throttle = Throttle(db, LoginCounter, LoginSuccess, LIMITS)
    for n in range(50):
        iin = f"{850315300000 + n}"
        assert await attempt(throttle, iin, "10.0.0.9") == 200
        await throttle.succeeded(iin, "10.0.0.9", NOW)


async def test_registration_attempts_are_counted_per_client_apart_from_logins(db: Database) -> None:
    """The portal's second throttle (registration by ЭЦП: challenges and unproven proofs) counts per client
    only, in counters of its own; a proven registration forgives its challenge and its proof."""
    from services.portal.service import REGISTRATION

    limits = LoginLimits(per_pair=4, per_client=4, per_iin=2**31 - 1, window_seconds=60)
    registrations = Throttle(db, LoginCounter, LoginSuccess, limits, scope="reg:", what="registration")
    logins = Throttle(db, LoginCounter, LoginSuccess, LIMITS)
    outcomes = await asyncio.gather(*(attempt(registrations, REGISTRATION, "10.0.0.66") for _ in range(10)))
    assert outcomes.count(200) == 4 and outcomes.count(429) == 6
    assert await attempt(registrations, REGISTRATION, "10.0.0.7") == 200  # another client is unaffected
    assert await attempt(logins, VICTIM, "10.0.0.66") == 200  # logins keep their own counters
    # A busy address of honest registrations: each success (challenge + proof) is forgiven.
    for _ in range(10):
        assert await attempt(registrations, REGISTRATION, "10.0.0.8") == 200
        assert await attempt(registrations, REGISTRATION, "10.0.0.8") == 200
        await registrations.succeeded(REGISTRATION, "10.0.0.8", NOW, attempts=2)
    with pytest.raises(ApiError, match="too many registration attempts"):
        for _ in range(5):
            await registrations.begin(REGISTRATION, "10.0.0.8", NOW)
