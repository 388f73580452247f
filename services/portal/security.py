"""Citizen authentication: Argon2 password hashes, expiring revocable tokens, throttled logins.

Tokens are opaque random strings; only their SHA-256 is stored, so they can be revoked at logout and
a copy of the table grants nothing. Failed logins are counted per ИИН and per client over a sliding
window: a guesser is slowed down, and the real owner is never locked out for longer than the window.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import secrets
from functools import lru_cache
from pathlib import Path

from pwdlib import PasswordHash
from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.portal.config import PortalSettings
from services.portal.models import LoginFailure, Token
from shared.http import ApiError

_hasher = PasswordHash.recommended()  # Argon2id
# A hash to compare against when the ИИН is unknown, so timing does not reveal who is registered.
_DUMMY_HASH = _hasher.hash("not-a-real-password-but-the-same-cost")


@lru_cache(maxsize=1)
def common_passwords() -> frozenset[str]:
    path = Path(__file__).with_name("common_passwords.txt")
    return frozenset(line.strip().lower() for line in path.read_text(encoding="utf-8").splitlines() if line.strip())


def check_password_policy(password: str, iin: str, settings: PortalSettings) -> None:
    """Length 8–128, not a common password, not the ИИН itself; ApiError 422 otherwise."""
    if not settings.password_min_length <= len(password) <= settings.password_max_length:
        raise ApiError(
            422,
            "PASSWORD_POLICY",
            f"password must have {settings.password_min_length}–{settings.password_max_length} characters",
        )
    if password.lower() in common_passwords() or iin in password:
        raise ApiError(422, "PASSWORD_POLICY", "this password is too common or contains your ИИН")


async def hash_password(password: str) -> str:
    return await asyncio.to_thread(_hasher.hash, password)  # Argon2 is deliberately slow: off the event loop


async def verify_password(password: str, password_hash: str | None) -> bool:
    if password_hash is None:
        await asyncio.to_thread(_hasher.verify, password, _DUMMY_HASH)
        return False
    return await asyncio.to_thread(_hasher.verify, password, password_hash)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


async def issue_token(session: AsyncSession, iin: str, now: dt.datetime, ttl_seconds: int) -> tuple[str, dt.datetime]:
    token = secrets.token_urlsafe(32)
    expires = now + dt.timedelta(seconds=ttl_seconds)
    session.add(Token(token_hash=token_hash(token), iin=iin, issued_at=now, expires_at=expires, revoked_at=None))
    return token, expires


async def citizen_of_token(session: AsyncSession, token: str, now: dt.datetime) -> str | None:
    row = await session.get(Token, token_hash(token))
    if row is None or row.revoked_at is not None or row.expires_at <= now:
        return None
    return row.iin


def _keys(iin: str, client: str) -> tuple[str, str]:
    # The ИИН is hashed so that the throttle table holds no personal data.
    return f"iin:{hashlib.sha256(iin.encode()).hexdigest()[:32]}", f"client:{client}"[:80]


async def throttle_check(
    session: AsyncSession, iin: str, client: str, now: dt.datetime, settings: PortalSettings
) -> None:
    """429 TOO_MANY_ATTEMPTS while either counter is full; says when to try again."""
    since = now - dt.timedelta(seconds=settings.login_window_seconds)
    for key, limit in zip(
        _keys(iin, client), (settings.login_failures_per_iin, settings.login_failures_per_client), strict=True
    ):
        count, oldest = (
            await session.execute(
                select(func.count(), func.min(LoginFailure.at)).where(LoginFailure.key == key, LoginFailure.at > since)
            )
        ).one()
        if count >= limit:
            assert oldest is not None
            retry = int((oldest - since).total_seconds()) + 1
            raise ApiError(429, "TOO_MANY_ATTEMPTS", f"too many failed logins; try again in {retry} s")


async def record_failure(session: AsyncSession, iin: str, client: str, now: dt.datetime) -> None:
    for key in _keys(iin, client):
        session.add(LoginFailure(key=key, at=now))


async def clear_failures(session: AsyncSession, iin: str, now: dt.datetime, settings: PortalSettings) -> None:
    """A successful login clears the ИИН's counter; old rows of every key are purged."""
    await session.execute(delete(LoginFailure).where(LoginFailure.key == _keys(iin, "")[0]))
    await session.execute(
        delete(LoginFailure).where(LoginFailure.at < now - dt.timedelta(seconds=settings.login_window_seconds))
    )
