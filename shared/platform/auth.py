"""Person authentication shared by the portal (citizens) and the АРМ (clinic staff).

Passwords are Argon2id hashes. Tokens are opaque random strings; only their SHA-256 is stored, so they
can be revoked and a copy of the table grants nothing. Failed logins are counted per ИИН and per client
over a sliding window: a guesser is slowed down, and an owner is never locked out for longer than it.

Each service keeps its own tables, declared with :class:`TokenColumns`, :class:`LoginCounterColumns`
and :class:`LoginSuccessColumns`, so that everything here works on either.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import functools
import hashlib
import secrets
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pwdlib import PasswordHash
from sqlalchemy import Integer, String, bindparam, case, delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from shared.platform.db import Database, UtcDateTime, dialect_insert, dialect_of, upsert
from shared.rules.errors import RuleBroken, TooManyAttempts

_hasher = PasswordHash.recommended()  # Argon2id
# A hash to compare against when the ИИН is unknown, so timing does not reveal who has an account.
_DUMMY_HASH = _hasher.hash("not-a-real-password-but-the-same-cost")


@dataclass(frozen=True, slots=True)
class LoginLimits:
    """Guesses allowed per window: for one ИИН from one client (``per_pair``), from one client for any ИИН
    (``per_client``), and for one ИИН from all clients (``per_iin``) — the last not applied to a client
    that has logged in to that ИИН before, so that nobody can lock an owner out of their own account."""

    per_pair: int
    per_client: int
    per_iin: int
    window_seconds: int
    trusted_days: int = 30
    peak_wait_seconds: float = 10.0
    """How long a log-in waits for a limit that only guesses still being checked fill (a shared address at
    peak) before it is refused."""


class TokenColumns:
    """Columns of a token table (mix into a declarative model with its own ``__tablename__``)."""

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    iin: Mapped[str] = mapped_column(String(12), index=True)
    issued_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    expires_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    revoked_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)


class LoginCounterColumns:
    """Columns of a login-attempt counter table: attempts of one key in the current window."""

    key: Mapped[str] = mapped_column(String(80), primary_key=True)  # "pair:…", "client:…" or "iin:…"
    window_start: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    count: Mapped[int] = mapped_column(Integer)  # wrong guesses and guesses being checked
    pending: Mapped[int] = mapped_column(Integer, default=0, server_default="0")  # of which being checked


class LoginSuccessColumns:
    """Columns of a table of clients that logged in to an ИИН (key "ok:<hash>:<client>") and when."""

    key: Mapped[str] = mapped_column(String(120), primary_key=True)
    at: Mapped[dt.datetime] = mapped_column(UtcDateTime)


@functools.cache
def common_passwords() -> frozenset[str]:
    path = Path(__file__).with_name("common_passwords.txt")
    return frozenset(line.strip().lower() for line in path.read_text(encoding="utf-8").splitlines() if line.strip())


def check_password_policy(password: str, iin: str, min_length: int, max_length: int) -> None:
    """A password a person chooses: ``min_length``–``max_length`` characters, not a common password, not
    containing their ИИН; :class:`RuleBroken` (PASSWORD_POLICY) otherwise."""
    if not min_length <= len(password) <= max_length:
        raise RuleBroken("PASSWORD_POLICY", f"password must have {min_length}–{max_length} characters")
    if password.lower() in common_passwords() or iin in password:
        raise RuleBroken("PASSWORD_POLICY", "this password is too common or contains your ИИН")


async def hash_password(password: str) -> str:
    return await asyncio.to_thread(_hasher.hash, password)  # Argon2 is deliberately slow: off the event loop


async def verify_password(password: str, password_hash: str | None) -> bool:
    if password_hash is None:
        await asyncio.to_thread(_hasher.verify, password, _DUMMY_HASH)
        return False
    return await asyncio.to_thread(_hasher.verify, password, password_hash)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


async def issue_token(
    session: AsyncSession, model: Any, iin: str, now: dt.datetime, ttl_seconds: int
) -> tuple[str, dt.datetime]:
    token = secrets.token_urlsafe(32)
    expires = now + dt.timedelta(seconds=ttl_seconds)
    session.add(model(token_hash=token_hash(token), iin=iin, issued_at=now, expires_at=expires, revoked_at=None))
    return token, expires


async def holder_of_token(db: Database, model: Any, holder: Any, token: str, now: dt.datetime) -> Any:
    """The holder (a row of ``holder``, keyed by ИИН) of a token that is known, unexpired and not revoked;
    ``None`` otherwise. It runs on every authenticated request: one prebuilt statement outside any
    transaction, and the holder handed back detached (read-only use; nothing is written through it)."""
    async with db.reading() as connection:
        row = (
            await connection.execute(_holder_statement(model, holder), {"token_hash": token_hash(token), "now": now})
        ).first()
    return None if row is None else holder(**row._mapping)


@functools.cache
def _holder_statement(model: Any, holder: Any) -> Any:
    # Built once per pair of tables: an ORM query built per request cost more CPU than its round trip.
    return (
        select(*holder.__table__.columns)
        .join(model, model.iin == holder.iin)
        .where(
            model.token_hash == bindparam("token_hash"), model.revoked_at.is_(None), model.expires_at > bindparam("now")
        )
    )


def _iin_key(iin: str) -> str:
    # The ИИН is hashed so that the throttle tables hold no personal data.
    return hashlib.sha256(iin.encode()).hexdigest()[:32]


class _LimitFull(Exception):
    """A reservation passed a limit; its transaction is rolled back (nothing counted)."""

    def __init__(self, retry_after: int, only_in_flight: bool) -> None:
        self.retry_after, self.only_in_flight = retry_after, only_in_flight


class Guess:
    """One password being checked under the throttle; mark it :meth:`right` when the password was right."""

    def __init__(self) -> None:
        self.was_right = False

    def right(self) -> None:
        self.was_right = True


class Throttle:
    """Login throttling that counts guesses, not successes, and that no burst can outrun.

    A guess is reserved atomically *before* its password is checked, so at most ``per_pair`` guesses per
    window are ever evaluated, however many arrive at once. A right password gives its reservation back,
    so people logging in correctly from one shared address (a clinic, a school, a mobile operator's NAT)
    are never refused while the wrong guesses stay within the limits: when a limit is full only of guesses
    still being checked, a log-in waits for them (up to ``peak_wait_seconds``) instead of being refused.
    Limits are per ИИН and client, so a guesser slows down themselves, not the owner on their own device.

    :meth:`begin` and :meth:`succeeded` count attempts of another kind (registration) the older way: every
    attempt counts until a success forgives it."""

    def __init__(
        self, db: Database, counters: Any, successes: Any, limits: LoginLimits, *, scope: str = "", what: str = "login"
    ) -> None:
        self.db, self.counters, self.successes, self.limits = db, counters, successes, limits
        self.scope = scope  # counters of another kind of attempt (registration) kept apart from logins
        self.what = what

    def _keys(self, iin: str, client: str) -> tuple[str, str, str]:
        hashed = _iin_key(iin)
        scope = self.scope
        return f"{scope}pair:{hashed}:{client}"[:80], f"{scope}client:{client}"[:80], f"{scope}iin:{hashed}"

    async def _checks(self, iin: str, client: str, now: dt.datetime) -> list[tuple[str, int]]:
        pair, by_client, by_iin = self._keys(iin, client)
        async with self.db.sessions() as session:
            trusted = await session.get(self.successes, f"ok:{_iin_key(iin)}:{client}"[:120])
        checks = [(pair, self.limits.per_pair), (by_client, self.limits.per_client)]
        if trusted is None or trusted.at <= now - dt.timedelta(days=self.limits.trusted_days):
            checks.append((by_iin, self.limits.per_iin))  # the per-ИИН ceiling spares the owner's own devices
        return checks

    def _refused(self, retry: int) -> TooManyAttempts:
        return TooManyAttempts(
            "TOO_MANY_ATTEMPTS", f"too many {self.what} attempts; try again in {retry} s", retry_after=retry
        )

    async def _count(
        self, checks: list[tuple[str, int]], keys: tuple[str, ...], now: dt.datetime, pending: int
    ) -> None:
        since = now - dt.timedelta(seconds=self.limits.window_seconds)
        async with self.db.transaction() as session:
            counts = {key: await self._bump(session, key, now, since, pending) for key in keys}
            full = [(counts[key], limit) for key, limit in checks if counts[key][0] > limit]
            if full:
                retry = max(max(1, int((started - since).total_seconds()) + 1) for (_, _, started), _ in full)
                # count - pending are the wrong guesses; when they alone fill a limit, waiting cannot help.
                in_flight = pending > 0 and all(count - waiting < limit for (count, waiting, _), limit in full)
                raise _LimitFull(retry, in_flight)  # rolls the reservation back

    async def begin(self, iin: str, client: str, now: dt.datetime) -> None:
        """Count this attempt; 429 TOO_MANY_ATTEMPTS with Retry-After when a limit is passed."""
        checks = await self._checks(iin, client, now)
        try:
            await self._count(checks, self._keys(iin, client), now, pending=0)
        except _LimitFull as full:
            raise self._refused(full.retry_after) from None

    @contextlib.asynccontextmanager
    async def guess(self, iin: str, client: str, now: dt.datetime) -> AsyncIterator[Guess]:
        """Reserve one guess for the body to check a password in; 429 TOO_MANY_ATTEMPTS when wrong guesses
        fill a limit. The guess counts as wrong unless the body calls :meth:`Guess.right`."""
        checks = await self._checks(iin, client, now)
        keys = self._keys(iin, client)
        deadline = time.monotonic() + self.limits.peak_wait_seconds
        pause = 0.005
        while True:
            try:
                await self._count(checks, keys, now, pending=1)
                break
            except _LimitFull as full:
                if not full.only_in_flight or time.monotonic() >= deadline:
                    raise self._refused(full.retry_after) from None
            # Guesses being checked fill the limit: each ends within one password check (tens of ms).
            await asyncio.sleep(pause)
            pause = min(pause * 2, 0.1)
        guess = Guess()
        try:
            yield guess
        finally:
            if guess.was_right:
                await self._forgive(iin, client, now, attempts=1, pending=1)
            else:
                async with self.db.transaction() as session:
                    for key in keys:  # one row at a time, in the reservation's order: no deadlock between them
                        await session.execute(
                            update(self.counters)
                            .where(self.counters.key == key, self.counters.pending > 0)
                            .values(pending=self.counters.pending - 1)
                        )

    async def _bump(
        self, session: AsyncSession, key: str, now: dt.datetime, since: dt.datetime, pending: int
    ) -> tuple[int, int, Any]:
        table = self.counters.__table__
        fresh = table.c.window_start < since
        insert = dialect_insert(dialect_of(session), table).values(key=key, window_start=now, count=1, pending=pending)
        statement = insert.on_conflict_do_update(
            index_elements=[table.c.key],
            set_={
                "count": case((fresh, 1), else_=table.c.count + 1),
                "pending": case((fresh, pending), else_=table.c.pending + pending),
                "window_start": case((fresh, now), else_=table.c.window_start),
            },
        ).returning(table.c.count, table.c.pending, table.c.window_start)
        row = (await session.execute(statement)).one()
        return int(row[0]), int(row[1]), row[2]

    async def succeeded(self, iin: str, client: str, now: dt.datetime, *, attempts: int = 1) -> None:
        """The attempt succeeded: this client's guesses are forgiven, this attempt (or the ``attempts`` that
        made one success) is uncounted — a busy client of many honest attempts is not throttled — and the
        client is trusted for this ИИН."""
        await self._forgive(iin, client, now, attempts=attempts, pending=0)

    async def _forgive(self, iin: str, client: str, now: dt.datetime, *, attempts: int, pending: int) -> None:
        pair, by_client, by_iin = self._keys(iin, client)
        counters = self.counters
        async with self.db.transaction() as session:
            # Rows are locked in the order every reservation locks them (pair, client, ИИН), one at a time:
            # concurrent log-ins on PostgreSQL would otherwise deadlock on each other's counters.
            await session.execute(delete(counters).where(counters.key == pair))
            for key in (by_client, by_iin):
                await session.execute(
                    update(counters)
                    .where(counters.key == key)
                    .values(
                        count=case((counters.count > attempts, counters.count - attempts), else_=0),
                        pending=case((counters.pending > pending, counters.pending - pending), else_=0),
                    )
                )
            await upsert(session, self.successes.__table__, {"key": f"ok:{_iin_key(iin)}:{client}"[:120], "at": now})

    async def purge(self, now: dt.datetime) -> None:
        """Forget counters of windows long past and trust older than ``trusted_days``."""
        since = now - dt.timedelta(seconds=self.limits.window_seconds)
        async with self.db.transaction() as session:
            await session.execute(delete(self.counters).where(self.counters.window_start < since))
            old = now - dt.timedelta(days=self.limits.trusted_days)
            await session.execute(delete(self.successes).where(self.successes.at < old))
