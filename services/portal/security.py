"""Citizen authentication: the portal's password policy over :mod:`shared.platform.auth` (Argon2 hashes, expiring
revocable tokens, throttled logins) on the portal's own tables."""

from __future__ import annotations

import datetime as dt
from typing import TypeVar

from sqlalchemy.ext.asyncio import AsyncSession

from services.portal.config import PortalSettings
from services.portal.models import Citizen, Request, Token
from shared.platform import auth
from shared.platform.auth import hash_password, token_hash, verify_password
from shared.platform.db import Database
from shared.rules.errors import NotFound

__all__ = ["hash_password", "token_hash", "verify_password"]


def check_password_policy(password: str, iin: str, settings: PortalSettings) -> None:
    """The citizen's password: the portal's lengths, not a common password, not the ИИН (422 otherwise)."""
    auth.check_password_policy(password, iin, settings.password_min_length, settings.password_max_length)


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


T = TypeVar("T")


def owned(request: T | None, citizen: Citizen) -> T:
    """The request (a row or a mapped object), if it is the citizen's own."""
    # mypy ignores the next line: a Row and a mapped Request both carry iin
    if request is None or request.iin != citizen.iin:  # type: ignore[attr-defined]
        raise NotFound("NOT_FOUND", "no such request")  # another citizen's request does not exist for you
    return request


async def own(session: AsyncSession, citizen: Citizen, request_id: str, *, lock: bool = False) -> Request:
    """The citizen's own request (``lock``: the row is locked for this transaction); 404 for anyone else's."""
    return owned(await session.get(Request, request_id, with_for_update=lock), citizen)
