"""Login throttling on real databases (SQLite and PostgreSQL): guesses are reserved atomically before the
password is checked, per ИИН and client; right passwords give theirs back, so a shared address at peak is
never refused, and nobody can lock an owner out from another address."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from services.portal.models import Base, LoginCounter, LoginSuccess
from shared.platform.auth import LoginLimits, Throttle, hash_password, verify_password
from shared.platform.db import Database
from shared.rules.errors import TooManyAttempts
from tests.databases import temporary_database

NOW = dt.datetime(2026, 11, 24, 11, 30, tzinfo=dt.UTC)
VICTIM = "850315300019"
LIMITS = LoginLimits(per_pair=5, per_client=20, per_iin=12, window_seconds=60)


@pytest.fixture(params=["sqlite", "postgres"])
async def db(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Database]:
    async with temporary_database(request.param, tmp_path, Base.metadata) as database:
        yield database


async def attempt(throttle: Throttle, iin: str, client: str, at: dt.datetime = NOW, *, right: bool = False) -> int:
    """One log-in through the throttle whose password is right or wrong; the HTTP status it ends in."""
    try:
        async with throttle.guess(iin, client, at) as guess:
            if right:
                guess.right()
    except TooManyAttempts as exc:
        assert exc.code == "TOO_MANY_ATTEMPTS" and exc.retry_after and exc.retry_after > 0
        return 429
    return 200 if right else 401


async def counted(throttle: Throttle, iin: str, client: str) -> int:
    """One registration attempt counted the older way (every attempt until a success forgives it)."""
    try:
        await throttle.begin(iin, client, NOW)
    except TooManyAttempts as exc:
        assert exc.code == "TOO_MANY_ATTEMPTS" and exc.retry_after and exc.retry_after > 0
        return 429
    return 200


async def test_a_burst_of_sixty_guesses_gets_no_more_than_five_checked(db: Database) -> None:
    throttle = Throttle(db, LoginCounter, LoginSuccess, LIMITS)
    stored = await hash_password("the-owner's-password")
    checked = 0

    async def guess() -> int:
        nonlocal checked
        try:
            async with throttle.guess(VICTIM, "10.0.0.66", NOW) as attempt:
                checked += 1
                if await verify_password("a-guess", stored):  # a real Argon2 check: the burst overlaps it
                    attempt.right()
        except TooManyAttempts as exc:
            assert exc.code == "TOO_MANY_ATTEMPTS"
            return 429
        return 401

    outcomes = await asyncio.gather(*(guess() for _ in range(60)))
    assert checked == 5 and outcomes.count(401) == 5 and outcomes.count(429) == 55
    later = NOW + dt.timedelta(seconds=61)  # the window ends: the lock lifts by itself
    assert await attempt(throttle, VICTIM, "10.0.0.66", later) == 401


async def test_thirty_people_logging_in_at_once_from_one_address_are_all_let_in(db: Database) -> None:
    """A clinic, a school, a mobile operator's NAT at peak: a right password within the limits is never
    refused (the limit of 20 per client counts guesses, not successes); wrong guesses are still capped."""
    throttle = Throttle(db, LoginCounter, LoginSuccess, LIMITS)
    stored = await hash_password("everyone's-own-password")

    async def log_in(iin: str, password: str) -> int:
        try:
            async with throttle.guess(iin, "10.0.0.9", NOW) as attempt:
                if await verify_password(password, stored):
                    attempt.right()
                    return 200
        except TooManyAttempts as exc:
            assert exc.code == "TOO_MANY_ATTEMPTS"
            return 429
        return 401

    people = [f"{850315300000 + n}" for n in range(30)]
    outcomes = await asyncio.gather(*(log_in(iin, "everyone's-own-password") for iin in people))
    assert outcomes == [200] * 30
    # Wrong guesses from the same address still stop at the per-client limit, in parallel too.
    guessed = await asyncio.gather(*(log_in(f"{860101300000 + n}", "a-guess") for n in range(30)))
    assert guessed.count(401) == 20 and guessed.count(429) == 10
    assert await log_in(people[0], "everyone's-own-password") == 429  # the address is now throttled


async def test_a_guesser_locks_out_themselves_not_the_owner(db: Database) -> None:
    throttle = Throttle(db, LoginCounter, LoginSuccess, LIMITS)
    await throttle.succeeded(VICTIM, "10.0.0.1", NOW - dt.timedelta(days=1))  # the owner's own device
    for _ in range(5):
        assert await attempt(throttle, VICTIM, "10.0.0.66") == 401
    assert await attempt(throttle, VICTIM, "10.0.0.66") == 429  # the guesser is slowed down…
    assert await attempt(throttle, VICTIM, "10.0.0.1", right=True) == 200  # …the owner is not
    # Many guessers for one ИИН reach its ceiling, which still spares the owner's known device.
    for n in range(20):
        await attempt(throttle, VICTIM, f"10.0.1.{n}")
    assert await attempt(throttle, VICTIM, "10.0.2.1", right=True) == 429  # a new client meets the ceiling
    assert await attempt(throttle, VICTIM, "10.0.0.1", right=True) == 200  # the owner's device does not
    assert await attempt(throttle, "061211600012", "10.0.2.1") == 401  # other people are unaffected


async def test_a_right_password_forgives_that_clients_guesses(db: Database) -> None:
    throttle = Throttle(db, LoginCounter, LoginSuccess, LIMITS)
    for _ in range(4):
        assert await attempt(throttle, VICTIM, "10.0.0.1") == 401
    assert await attempt(throttle, VICTIM, "10.0.0.1", right=True) == 200
    for _ in range(5):
        assert await attempt(throttle, VICTIM, "10.0.0.1") == 401


async def test_honest_logins_from_one_busy_client_are_not_throttled(db: Database) -> None:
    """A clinic's shared computer or a NAT: many people logging in successfully from one address."""
    throttle = Throttle(db, LoginCounter, LoginSuccess, LIMITS)
    for n in range(50):
        assert await attempt(throttle, f"{850315300000 + n}", "10.0.0.9", right=True) == 200


async def test_registration_attempts_are_counted_per_client_apart_from_logins(db: Database) -> None:
    """The portal's second throttle (registration by ЭЦП: challenges and unproven proofs) counts per client
    only, in counters of its own; a proven registration forgives its challenge and its proof."""
    from services.portal.accounts import REGISTRATION

    limits = LoginLimits(per_pair=4, per_client=4, per_iin=2**31 - 1, window_seconds=60)
    registrations = Throttle(db, LoginCounter, LoginSuccess, limits, scope="reg:", what="registration")
    logins = Throttle(db, LoginCounter, LoginSuccess, LIMITS)
    outcomes = await asyncio.gather(*(counted(registrations, REGISTRATION, "10.0.0.66") for _ in range(10)))
    assert outcomes.count(200) == 4 and outcomes.count(429) == 6
    assert await counted(registrations, REGISTRATION, "10.0.0.7") == 200  # another client is unaffected
    assert await attempt(logins, VICTIM, "10.0.0.66", right=True) == 200  # logins keep their own counters
    # A busy address of honest registrations: each success (challenge + proof) is forgiven.
    for _ in range(10):
        assert await counted(registrations, REGISTRATION, "10.0.0.8") == 200
        assert await counted(registrations, REGISTRATION, "10.0.0.8") == 200
        await registrations.succeeded(REGISTRATION, "10.0.0.8", NOW, attempts=2)
    with pytest.raises(TooManyAttempts, match="too many registration attempts"):
        for _ in range(5):
            await registrations.begin(REGISTRATION, "10.0.0.8", NOW)
