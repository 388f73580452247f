"""Person authentication shared by the portal (citizens) and the АРМ (clinic staff).

Passwords are Argon2id hashes. Tokens are opaque random strings; only their SHA-256 is stored, so they
can be revoked and a copy of the table grants nothing. Failed logins are counted per ИИН and per client
over a sliding window: a guesser is slowed down, and an owner is never locked out for longer than it.

Each service keeps its own tables, declared with :class:`TokenColumns` and :class:`LoginFailureColumns`
so that every function here works on either.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import secrets
from dataclasses import dataclass
from typing import Any

from pwdlib import PasswordHash
from sqlalchemy import String, delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from shared.db import UtcDateTime
from shared.http import ApiError

_hasher = PasswordHash.recommended()  # Argon2id
# A hash to compare against when the ИИН is unknown, so timing does not reveal who has an account.
_DUMMY_HASH = _hasher.hash("not-a-real-password-but-the-same-cost")


@dataclass(frozen=True, slots=True)
class LoginLimits:
    failures_per_iin: int
    failures_per_client: int
    window_seconds: int


class TokenColumns:
    """Columns of a token table (mix into a declarative model with its own ``__tablename__``)."""

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    iin: Mapped[str] = mapped_column(String(12), index=True)
    issued_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    expires_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    revoked_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)


class LoginFailureColumns:
    """Columns of a failed-login table: ``key`` is "iin:<sha256>" or "client:<address>"."""

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    key: Mapped[str] = mapped_column(String(80))
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


async def iin_of_token(session: AsyncSession, model: Any, token: str, now: dt.datetime) -> str | None:
    row = await session.get(model, token_hash(token))
    if row is None or row.revoked_at is not None or row.expires_at <= now:
        return None
    return str(row.iin)


def _keys(iin: str, client: str) -> tuple[str, str]:
    # The ИИН is hashed so that the throttle table holds no personal data.
    return f"iin:{hashlib.sha256(iin.encode()).hexdigest()[:32]}", f"client:{client}"[:80]


async def throttle_check(
    session: AsyncSession, model: Any, iin: str, client: str, now: dt.datetime, limits: LoginLimits
) -> None:
    """429 TOO_MANY_ATTEMPTS while either counter is full; says when to try again."""
    since = now - dt.timedelta(seconds=limits.window_seconds)
    for key, limit in zip(_keys(iin, client), (limits.failures_per_iin, limits.failures_per_client), strict=True):
        count, oldest = (
            await session.execute(select(func.count(), func.min(model.at)).where(model.key == key, model.at > since))
        ).one()
        if count >= limit:
            assert oldest is not None
            retry = int((oldest - since).total_seconds()) + 1
            raise ApiError(429, "TOO_MANY_ATTEMPTS", f"too many failed logins; try again in {retry} s")


async def record_failure(session: AsyncSession, model: Any, iin: str, client: str, now: dt.datetime) -> None:
    for key in _keys(iin, client):
        session.add(model(key=key, at=now))


async def clear_failures(session: AsyncSession, model: Any, iin: str, now: dt.datetime, limits: LoginLimits) -> None:
    """A successful login clears the ИИН's counter; old rows of every key are purged."""
    await session.execute(delete(model).where(model.key == _keys(iin, "")[0]))
    await session.execute(delete(model).where(model.at < now - dt.timedelta(seconds=limits.window_seconds)))
