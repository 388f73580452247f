"""Citizen authentication: the portal's password policy over :mod:`shared.auth` (Argon2 hashes, expiring
revocable tokens, throttled logins) on the portal's own tables."""

from __future__ import annotations

import datetime as dt
from functools import lru_cache
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncSession

from services.portal.config import PortalSettings
from services.portal.models import Citizen, Token
from shared import auth
from shared.auth import hash_password, token_hash, verify_password
from shared.db import Database
from shared.http import ApiError

__all__ = ["hash_password", "token_hash", "verify_password"]


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


def limits(settings: PortalSettings) -> auth.LoginLimits:
    return auth.LoginLimits(
        per_pair=settings.login_attempts_per_pair,
        per_client=settings.login_attempts_per_client,
        per_iin=settings.login_attempts_per_iin,
        window_seconds=settings.login_window_seconds,
    )


def registration_limits(settings: PortalSettings) -> auth.LoginLimits:
    """Challenges and unproven registrations per client (each counted before its signature is checked;
    a proven registration forgives its own). Only the client is limited: there is no ИИН to count by."""
    per_client = settings.registration_attempts_per_client
    return auth.LoginLimits(
        per_pair=per_client, per_client=per_client, per_iin=2**31 - 1, window_seconds=settings.login_window_seconds
    )


async def issue_token(session: AsyncSession, iin: str, now: dt.datetime, ttl_seconds: int) -> tuple[str, dt.datetime]:
    return await auth.issue_token(session, Token, iin, now, ttl_seconds)


async def citizen_of_token(db: Database, token: str, now: dt.datetime) -> Citizen | None:
    return await auth.holder_of_token(db, Token, Citizen, token, now)
