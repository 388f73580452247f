"""Person authentication shared by the portal (citizens) and the АРМ (clinic staff).

Passwords are Argon2id hashes. Tokens are opaque random strings; only their SHA-256 is stored, so they
can be revoked and a copy of the table grants nothing. Failed logins are counted per ИИН and per client
over a sliding window: a guesser is slowed down, and an owner is never locked out for longer than it.

Each service keeps its own tables, declared with :class:`TokenColumns`, :class:`LoginCounterColumns`
and :class:`LoginSuccessColumns`, so that everything here works on either.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import functools
import hashlib
import secrets
from dataclasses import dataclass
from typing import Any

from pwdlib import PasswordHash
from sqlalchemy import Integer, String, bindparam, case, delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from shared.db import Database, UtcDateTime, dialect_insert, dialect_of, upsert
from shared.http import ApiError

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
    count: Mapped[int] = mapped_column(Integer)


class LoginSuccessColumns:
    """Columns of a table of clients that logged in to an ИИН (key "ok:<hash>:<client>") and when."""

    key: Mapped[str] = mapped_column(String(120), primary_key=True)
    at: Mapped[dt.datetime] = mapped_column(UtcDateTime)


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


class Throttle:
    """Login throttling that no burst can outrun: each attempt is counted atomically *before* its password
    is checked, so at most ``per_pair`` guesses per window are ever evaluated, however many arrive at once.
    Limits are per ИИН and client, so a guesser slows down themselves, not the owner on their own device."""

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

    async def begin(self, iin: str, client: str, now: dt.datetime) -> None:
        """Count this attempt; 429 TOO_MANY_ATTEMPTS with Retry-After when a limit is passed."""
        pair, by_client, by_iin = self._keys(iin, client)
        since = now - dt.timedelta(seconds=self.limits.window_seconds)
        async with self.db.sessions() as session:
            trusted = await session.get(self.successes, f"ok:{_iin_key(iin)}:{client}"[:120])
        trusted_now = trusted is not None and trusted.at > now - dt.timedelta(days=self.limits.trusted_days)
        async with self.db.transaction() as session:
            counts = {key: await self._bump(session, key, now, since) for key in (pair, by_client, by_iin)}
        checks = [(pair, self.limits.per_pair), (by_client, self.limits.per_client)]
        if not trusted_now:
            checks.append((by_iin, self.limits.per_iin))
        for key, limit in checks:
            count, started = counts[key]
            if count > limit:
                retry = max(1, int((started - since).total_seconds()) + 1)
                raise ApiError(
                    429,
                    "TOO_MANY_ATTEMPTS",
                    f"too many {self.what} attempts; try again in {retry} s",
                    headers={"Retry-After": str(retry)},
                )

    async def _bump(self, session: AsyncSession, key: str, now: dt.datetime, since: dt.datetime) -> tuple[int, Any]:
        table = self.counters.__table__
        fresh = table.c.window_start < since
        insert = dialect_insert(dialect_of(session), table).values(key=key, window_start=now, count=1)
        statement = insert.on_conflict_do_update(
            index_elements=[table.c.key],
            set_={
                "count": case((fresh, 1), else_=table.c.count + 1),
                "window_start": case((fresh, now), else_=table.c.window_start),
            },
        ).returning(table.c.count, table.c.window_start)
        row = (await session.execute(statement)).one()
        return int(row[0]), row[1]

    async def succeeded(self, iin: str, client: str, now: dt.datetime, *, attempts: int = 1) -> None:
        """The password was right: this client's guesses are forgiven, this attempt (or the ``attempts`` that
        made one success) is uncounted — a busy client of many honest logins is not throttled — and the
        client is trusted for this ИИН."""
        pair, by_client, by_iin = self._keys(iin, client)
        async with self.db.transaction() as session:
            await session.execute(delete(self.counters).where(self.counters.key == pair))
            await session.execute(
                update(self.counters)
                .where(self.counters.key.in_([by_client, by_iin]), self.counters.count > 0)
                .values(count=case((self.counters.count > attempts, self.counters.count - attempts), else_=0))
            )
            await upsert(session, self.successes.__table__, {"key": f"ok:{_iin_key(iin)}:{client}"[:120], "at": now})

    async def purge(self, now: dt.datetime) -> None:
        """Forget counters of windows long past and trust older than ``trusted_days``."""
        since = now - dt.timedelta(seconds=self.limits.window_seconds)
        async with self.db.transaction() as session:
            await session.execute(delete(self.counters).where(self.counters.window_start < since))
            old = now - dt.timedelta(days=self.limits.trusted_days)
            await session.execute(delete(self.successes).where(self.successes.at < old))
